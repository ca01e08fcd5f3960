# ruff: noqa: RUF001 - the demo data is Chinese text with full-width punctuation
"""A realistic Hami dataset: departments, SMEs, contracts, payments, commitments, changes.

The business dates are in 2025; events without a date of their own (a commitment made,
say) count from the day they are recorded, so the read models show everything as of the
day the demo was loaded or later:

- contracts paid on time and late (the worked example of DESIGN 5: 200,000.00 yuan
  accepted 2025-07-05, due 2025-08-04, paid 2025-08-20: 1,600.00 yuan interest), a
  settlement-basis contract left partly unpaid, a 90-day term with a rate below the LPR
  (TERM_OVER_60, RATE_BELOW_LPR), a delivery never accepted nor its receivable confirmed
  (ACCEPTANCE_LATE, CONFIRMATION_LATE) and the complaint about it, a dispute resolved in
  part, a large supplier paid late at the LPR;
- an investment agreement withdrawn "because the government changed" (Hami Art. 20
  forbids it: CHANGE_FORBIDDEN_REASON, CHANGE_NO_LEGAL_BASIS), a land commitment amended
  for the public interest with consultation, legal basis and a compensation determined and
  paid in part (COMPENSATION_OVERDUE), and a subsidy fulfilled on time;
- inspectors' accountability records, a revoked key, LPR and the 2025 holiday calendar.

:func:`demo_events` lists the events as (signer, type, stream, body); party keys are the
caller's. :func:`treasury_export` is the finance bureau's next payment run, a CSV for
``ledger post``. Contract documents are generated text whose SHA-256 the events name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from projections.values import format_yuan

from .uscc import complete_uscc


@dataclass(frozen=True, slots=True)
class DemoParty:
    label: str  # key file name and key label
    party_id: str
    name: str
    kind: str
    roles: tuple[str, ...]
    scale: str | None = None


def _party(label: str, first17: str, name: str, kind: str, roles: tuple[str, ...],
           scale: str | None = None) -> DemoParty:
    return DemoParty(label, complete_uscc(first17), name, kind, roles, scale)


PARTIES: tuple[DemoParty, ...] = (
    _party("industry", "11650500MB1570301", "哈密市工业和信息化局", "government",
           ("buyer", "issuer")),
    _party("housing", "11650500MB1570328", "哈密市住房和城乡建设局", "government", ("buyer",)),
    _party("education", "11650500MB1570344", "哈密市教育局", "government", ("buyer",)),
    _party("development", "11650500MB1570352", "哈密市发展和改革委员会", "government",
           ("issuer",)),
    _party("yizhou", "11650502MB1580116", "哈密市伊州区人民政府", "government", ("issuer",)),
    _party("finance", "11650500MB1570213", "哈密市财政局", "government", ("finance",)),
    _party("inspector", "11650500MB1570387", "哈密市纪委监委", "inspector", ("inspector",)),
    _party("tianshan-software", "91650500MA77T3K2X", "哈密天山软件科技有限公司", "enterprise",
           ("enterprise",), "small"),
    _party("balikun-construction", "91650521MA78A1Q4P", "哈密巴里坤建筑工程有限公司",
           "enterprise", ("enterprise",), "medium"),
    _party("melon-coldchain", "91650500MA79C5N8R", "哈密瓜果冷链物流有限公司", "enterprise",
           ("enterprise",), "small"),
    _party("yiwu-printing", "91650522MA7AD6J1U", "哈密伊吾印务有限公司", "enterprise",
           ("enterprise",), "micro"),
    _party("hami-solar", "91650500MA7BE2L9W", "新疆哈密光伏新能源有限公司", "enterprise",
           ("enterprise",), "medium"),
    _party("tianshan-grid", "91650100MA7CF4H3Y", "新疆天山电网设备集团有限公司", "enterprise",
           ("enterprise",), "large"),
)
P = {p.label: p for p in PARTIES}
FINANCE_PAYS_FOR = ("industry", "housing", "education", "development", "yizhou")
OPERATOR = "operator"


def key_name(label: str) -> str:
    party = P[label]
    suffix = {"finance": "treasury", "inspector": "inspection"}.get(label)
    if suffix is None:
        suffix = "legal-rep" if party.kind == "enterprise" else "procurement"
    return f"{party.party_id}/{suffix}"


# Documents --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DemoDocument:
    file_name: str
    text: str

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


BASIS_TEXT = {"acceptance": "验收合格", "delivery": "交付", "settlement": "结算"}


def contract_document(body: dict[str, Any]) -> DemoDocument:
    buyer = next(p for p in PARTIES if p.party_id == body["buyer"])
    supplier = next(p for p in PARTIES if p.party_id == body["supplier"])
    lines = [
        f"合同编号：{body['contract_id']}",
        f"采购人（甲方）：{buyer.name}（统一社会信用代码 {buyer.party_id}）",
        f"供应商（乙方）：{supplier.name}（统一社会信用代码 {supplier.party_id}）",
        f"合同金额：人民币 {format_yuan(body['value_fen'])} 元",
        f"签订日期：{body['signed_on']}",
        f"付款依据：{BASIS_TEXT[body['payment_basis']]}",
    ]
    if "payment_term_days" in body:
        lines.append(f"付款期限：{body['payment_term_days']} 日")
    if "acceptance_period_days" in body:
        lines.append(f"验收期限：交付后 {body['acceptance_period_days']} 日")
    for m in body["milestones"]:
        amount = format_yuan(m["amount_fen"])
        lines.append(f"分项 {m['milestone_id']}：{m['description']}，{amount} 元")
    lines.append(f"甲方经办部门：{body['responsible']['department']}，"
                 f"责任人：{body['responsible']['official']}")
    return DemoDocument(f"{body['contract_id']}.txt", "\n".join(lines) + "\n")


def text_document(file_name: str, *lines: str) -> DemoDocument:
    return DemoDocument(file_name, "\n".join(lines) + "\n")


# The contracts ----------------------------------------------------------------------
def _contract(contract_id: str, buyer: str, supplier: str, value_fen: int, signed_on: str,
              basis: str, milestones: list[tuple[str, str, int]], official: str,
              **terms: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contract_id": contract_id, "buyer": P[buyer].party_id,
        "supplier": P[supplier].party_id,
        "supplier_scale_at_signing": P[supplier].scale, "value_fen": value_fen,
        "signed_on": signed_on, "document_sha256": "", "payment_basis": basis,
        "milestones": [{"milestone_id": m, "description": d, "amount_fen": a}
                       for m, d, a in milestones],
        "responsible": {"department": P[buyer].name, "official": official},
        **terms,
    }
    body["document_sha256"] = contract_document(body).sha256
    return body


CONTRACTS: dict[str, dict[str, Any]] = {c["contract_id"]: c for c in (
    _contract("HM-2025-GX-014", "industry", "tianshan-software", 68_000_000, "2025-02-20",
              "acceptance", [("m1", "产业园区信息平台交付", 48_000_000),
                             ("m2", "系统上线运行", 20_000_000)],
              "刘志强", payment_term_days=30, acceptance_period_days=15),
    _contract("HM-2025-ZJ-007", "housing", "balikun-construction", 356_000_000, "2025-03-15",
              "settlement", [("m1", "老城区供水管网改造工程", 356_000_000)], "马建华",
              payment_term_days=60),
    _contract("HM-2025-JY-012", "education", "yiwu-printing", 12_600_000, "2025-04-08",
              "delivery", [("m1", "秋季学期教材印制", 12_600_000)], "李建国",
              payment_term_days=90, late_interest_annual_bp=200),
    _contract("HM-2025-GX-021", "industry", "melon-coldchain", 8_800_000, "2025-09-01",
              "acceptance", [("m1", "冷链监测设备安装", 8_800_000)], "刘志强",
              payment_term_days=30, acceptance_period_days=10),
    _contract("HM-2025-ZJ-003", "housing", "tianshan-grid", 92_000_000, "2025-01-10",
              "delivery", [("m1", "变电设备供货", 92_000_000)], "马建华",
              payment_term_days=30),
    _contract("HM-2025-JY-005", "education", "tianshan-software", 15_000_000, "2025-05-06",
              "acceptance", [("m1", "智慧校园平台", 15_000_000)], "李建国",
              payment_term_days=30, acceptance_period_days=15),
    _contract("HM-2025-ZJ-011", "housing", "balikun-construction", 45_000_000, "2025-07-01",
              "acceptance", [("m1", "伊州区道路维修", 45_000_000)], "马建华",
              payment_term_days=30, acceptance_period_days=10),
)}

CONSULTATION = text_document(
    "HM-CN-2024-022-consultation.txt",
    "伊州区人民政府关于G312国道拓宽涉及冷链物流园区用地的听证会记录",
    "时间：2025-05-20", "参加人：哈密瓜果冷链物流有限公司、伊州区自然资源局、伊州区交通运输局",
    "结论：企业同意置换同等面积园区用地，补偿标准由第三方评估确定。")


def _commitment(commitment_id: str, issuer: str, beneficiary: str, title: str, kind: str,
                legal_basis: str, obligations: list[dict[str, Any]],
                official: str) -> tuple[dict[str, Any], DemoDocument]:
    document = text_document(
        f"{commitment_id}.txt", f"承诺编号：{commitment_id}", f"承诺人：{P[issuer].name}",
        f"受益人：{P[beneficiary].name}", f"事项：{title}", f"依据：{legal_basis}",
        *[f"义务 {o['obligation_id']}：{o['description']}，期限 {o['due_date']}"
          for o in obligations])
    body = {
        "commitment_id": commitment_id, "issuer": P[issuer].party_id,
        "beneficiary": P[beneficiary].party_id, "title": title, "kind": kind,
        "document_sha256": document.sha256, "legal_basis": legal_basis,
        "obligations": obligations,
        "responsible": {"department": P[issuer].name, "official": official},
    }
    return body, document


COMMITMENTS = {
    "HM-CN-2024-015": _commitment(
        "HM-CN-2024-015", "development", "hami-solar", "光伏产业园招商引资协议：土地交付与建设补贴",
        "investment_agreement", "《哈密市优化营商环境条例实施办法》第二十条；招商引资协议",
        [{"obligation_id": "ob1", "description": "交付项目用地300亩并完成三通一平",
          "due_date": "2025-03-31"},
         {"obligation_id": "ob2", "description": "拨付项目建设补贴", "amount_fen": 200_000_000,
          "due_date": "2025-06-30"}], "张伟"),
    "HM-CN-2024-022": _commitment(
        "HM-CN-2024-022", "yizhou", "melon-coldchain", "冷链物流园区用地租金减半承诺", "land",
        "伊州区招商引资优惠政策（伊政发〔2024〕7号）",
        [{"obligation_id": "ob1", "description": "园区用地租金按50%收取至2027年底",
          "due_date": "2027-12-31"}], "王芳"),
    "HM-CN-2025-003": _commitment(
        "HM-CN-2025-003", "industry", "tianshan-software", "软件企业研发投入补贴", "subsidy",
        "哈密市促进软件产业发展若干措施",
        [{"obligation_id": "ob1", "description": "按研发投入的10%拨付补贴",
          "amount_fen": 50_000_000, "due_date": "2025-10-31"}], "刘志强"),
}


def documents() -> list[DemoDocument]:
    return ([contract_document(c) for c in CONTRACTS.values()]
            + [doc for _body, doc in COMMITMENTS.values()] + [CONSULTATION])


# The events -------------------------------------------------------------------------
Event = tuple[str, str, str, dict[str, Any]]  # signer label, type, stream, body

HOLIDAYS_2025 = (
    ["2025-01-01"] + [f"2025-01-{d}" for d in (28, 29, 30, 31)]
    + [f"2025-02-0{d}" for d in (1, 2, 3, 4)] + ["2025-04-04", "2025-04-05", "2025-04-06"]
    + [f"2025-05-0{d}" for d in (1, 2, 3, 4, 5)] + ["2025-05-31", "2025-06-01", "2025-06-02"]
    + [f"2025-10-0{d}" for d in range(1, 9)])
WORKDAYS_2025 = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]


def _pay(payment_id: str, milestone_id: str | None, amount_fen: int, paid_on: str,
         method: str = "transfer", purpose: str = "principal") -> dict[str, Any]:
    body: dict[str, Any] = {"payment_id": payment_id, "amount_fen": amount_fen,
                            "paid_on": paid_on, "method": method,
                            "voucher_ref": f"哈财国库支付凭证 {payment_id}", "purpose": purpose}
    if milestone_id is not None:
        body["milestone_id"] = milestone_id
    return body


OLD_KEY = "industry-2024"  # a predecessor's key at the industry bureau, later revoked


def demo_events(vkeys: dict[str, str]) -> list[Event]:
    """Every demo event in log order; ``vkeys`` maps each party label (and ``OLD_KEY``)
    to the public key registered for it."""
    events: list[Event] = []
    add = events.append
    for party in PARTIES:
        body: dict[str, Any] = {"party_id": party.party_id, "name": party.name,
                                "kind": party.kind}
        if party.scale is not None:
            body["scale"] = party.scale
        if party.label == "finance":
            body["pays_for"] = [P[label].party_id for label in FINANCE_PAYS_FOR]
        add((OPERATOR, "party.registered", f"party/{party.party_id}", body))
    for party in PARTIES:
        add((OPERATOR, "key.registered", f"party/{party.party_id}",
             {"party_id": party.party_id, "vkey": vkeys[party.label],
              "roles": list(party.roles)}))
    # A predecessor's key at the industry bureau, revoked when the official moved on.
    industry = P["industry"].party_id
    add((OPERATOR, "key.registered", f"party/{industry}",
         {"party_id": industry, "vkey": vkeys[OLD_KEY], "roles": ["buyer"]}))
    add((OPERATOR, "key.revoked", f"party/{industry}",
         {"key_name": vkeys[OLD_KEY].split("+", 1)[0], "reason": "经办人岗位调整，密钥停用",
          "effective_at": "2025-01-15T02:00:00Z"}))
    add((OPERATOR, "rate.lpr_published", "reference/lpr",
         {"effective_on": "2024-10-21", "one_year_bp": 310}))
    add((OPERATOR, "rate.lpr_published", "reference/lpr",
         {"effective_on": "2025-05-20", "one_year_bp": 300}))
    add((OPERATOR, "calendar.published", "reference/calendar",
         {"year": 2025, "holidays": HOLIDAYS_2025, "workdays": WORKDAYS_2025}))
    events += _contract_events()
    events += _commitment_events()
    return events


def _contract_events() -> list[Event]:
    events: list[Event] = []

    def on(contract_id: str, signer: str, type_: str, body: dict[str, Any]) -> None:
        events.append((signer, type_, f"contract/{contract_id}", body))

    def open_contract(contract_id: str, buyer: str, supplier: str) -> None:
        on(contract_id, buyer, "contract.signed", CONTRACTS[contract_id])
        on(contract_id, supplier, "contract.countersigned", {"party_id": P[supplier].party_id})

    # Paid on time (m1) and 16 days late (m2: the worked example of DESIGN 5).
    c = "HM-2025-GX-014"
    open_contract(c, "industry", "tianshan-software")
    on(c, "tianshan-software", "contract.delivered", {"milestone_id": "m1",
                                                      "delivered_on": "2025-03-10"})
    on(c, "industry", "contract.accepted", {"milestone_id": "m1", "accepted_on": "2025-03-20",
                                            "result": "passed"})
    on(c, "finance", "payment.made", _pay("HMCZ-2025-04-0187", "m1", 48_000_000, "2025-04-18"))
    on(c, "tianshan-software", "contract.delivered", {"milestone_id": "m2",
                                                      "delivered_on": "2025-06-30"})
    on(c, "industry", "contract.accepted", {"milestone_id": "m2", "accepted_on": "2025-07-05",
                                            "result": "passed"})
    on(c, "finance", "payment.made", _pay("HMCZ-2025-08-0412", "m2", 20_000_000, "2025-08-20"))

    # Settlement basis, paid in part: arrears since 2025-07-30.
    c = "HM-2025-ZJ-007"
    open_contract(c, "housing", "balikun-construction")
    on(c, "balikun-construction", "contract.delivered", {"milestone_id": "m1",
                                                         "delivered_on": "2025-05-20"})
    on(c, "housing", "contract.settlement_confirmed", {"milestone_id": "m1",
                                                       "amount_fen": 348_000_000,
                                                       "confirmed_on": "2025-05-30"})
    on(c, "finance", "payment.made", _pay("HMCZ-2025-07-0233", "m1", 200_000_000,
                                          "2025-07-20"))

    # A 90-day term and 2% interest agreed with a micro enterprise; unpaid.
    c = "HM-2025-JY-012"
    open_contract(c, "education", "yiwu-printing")
    on(c, "yiwu-printing", "contract.delivered", {"milestone_id": "m1",
                                                  "delivered_on": "2025-08-25"})

    # Delivered, never accepted; receivable confirmation requested, never given.
    c = "HM-2025-GX-021"
    open_contract(c, "industry", "melon-coldchain")
    on(c, "melon-coldchain", "contract.delivered", {"milestone_id": "m1",
                                                    "delivered_on": "2025-10-09"})
    on(c, "melon-coldchain", "receivable.confirmation_requested", {
        "milestone_id": "m1", "amount_fen": 8_800_000, "requested_on": "2025-10-25"})

    # A large supplier paid 34 days late: interest at the LPR in force at signing.
    c = "HM-2025-ZJ-003"
    open_contract(c, "housing", "tianshan-grid")
    on(c, "tianshan-grid", "contract.delivered", {"milestone_id": "m1",
                                                  "delivered_on": "2025-03-03"})
    on(c, "finance", "payment.made", _pay("HMCZ-2025-05-0098", "m1", 92_000_000, "2025-05-06"))

    # Everything on time.
    c = "HM-2025-JY-005"
    open_contract(c, "education", "tianshan-software")
    on(c, "tianshan-software", "contract.delivered", {"milestone_id": "m1",
                                                      "delivered_on": "2025-06-10"})
    on(c, "education", "contract.accepted", {"milestone_id": "m1", "accepted_on": "2025-06-16",
                                             "result": "passed"})
    on(c, "finance", "payment.made", _pay("HMCZ-2025-07-0051", "m1", 15_000_000, "2025-07-03",
                                          method="e_voucher"))

    # Part of the amount disputed, resolved in part; the owed part paid late.
    c = "HM-2025-ZJ-011"
    open_contract(c, "housing", "balikun-construction")
    on(c, "balikun-construction", "contract.delivered", {"milestone_id": "m1",
                                                         "delivered_on": "2025-08-01"})
    on(c, "housing", "contract.accepted", {"milestone_id": "m1", "accepted_on": "2025-08-08",
                                           "result": "passed"})
    on(c, "housing", "milestone.disputed", {"milestone_id": "m1", "disputed_fen": 5_000_000,
                                            "reason": "部分路面修复未达到验收标准",
                                            "raised_on": "2025-08-20"})
    on(c, "finance", "payment.made", _pay("HMCZ-2025-09-0017", "m1", 40_000_000, "2025-09-05"))
    on(c, "balikun-construction", "dispute.resolved", {"milestone_id": "m1",
                                                       "resolved_on": "2025-09-30",
                                                       "owed_fen": 2_000_000})
    on(c, "finance", "payment.made", _pay("HMCZ-2025-10-0144", "m1", 2_000_000, "2025-10-15"))

    # Complaint about the unaccepted delivery, still unanswered.
    complaint = "HM-TS-2025-031"
    events.append(("melon-coldchain", "complaint.filed", f"complaint/{complaint}", {
        "complaint_id": complaint, "against": P["industry"].party_id,
        "subject_stream": "contract/HM-2025-GX-021", "kind": "arrears",
        "filed_on": "2025-11-26"}))
    events.append(("inspector", "accountability.recorded", "contract/HM-2025-JY-012", {
        "subject_stream": "contract/HM-2025-JY-012",
        "responsible": {"department": P["education"].name, "official": "李建国"},
        "finding": "与小微企业约定90日付款期限及低于LPR的逾期利率，"
                   "违反《保障中小企业款项支付条例》",
        "action": "责令限期整改并支付逾期利息"}))
    return events


def _commitment_events() -> list[Event]:
    events: list[Event] = []

    def on(commitment_id: str, signer: str, type_: str, body: dict[str, Any]) -> None:
        events.append((signer, type_, f"commitment/{commitment_id}", body))

    # Withdrawn "because the leadership changed": a forbidden reason (Hami Art. 20).
    k = "HM-CN-2024-015"
    on(k, "development", "commitment.made", COMMITMENTS[k][0])
    on(k, "hami-solar", "commitment.acknowledged", {"party_id": P["hami-solar"].party_id})
    on(k, "development", "commitment.obligation_fulfilled", {"obligation_id": "ob1",
                                                             "fulfilled_on": "2025-03-28"})
    on(k, "development", "commitment.changed", {"action": "withdraw",
                                                "effective_on": "2025-05-10",
                                                "reason": "government_change"})
    complaint = "HM-TS-2025-017"
    events.append(("hami-solar", "complaint.filed", f"complaint/{complaint}", {
        "complaint_id": complaint, "against": P["development"].party_id,
        "subject_stream": f"commitment/{k}", "kind": "breach", "filed_on": "2025-05-20"}))
    events.append(("inspector", "complaint.answered", f"complaint/{complaint}", {
        "answered_on": "2025-06-10",
        "outcome": "已责成市发展和改革委员会依法纠正，恢复履行或依法补偿"}))
    events.append(("inspector", "accountability.recorded", f"commitment/{k}", {
        "subject_stream": f"commitment/{k}",
        "responsible": {"department": P["development"].name, "official": "张伟"},
        "finding": "以政府换届为由撤回招商引资承诺，违反《哈密市优化营商环境条例实施办法》第二十条",
        "action": "约谈并通报批评，责令依法补偿"}))

    # Amended for the public interest, with consultation; compensation paid in part.
    k = "HM-CN-2024-022"
    on(k, "yizhou", "commitment.made", COMMITMENTS[k][0])
    on(k, "melon-coldchain", "commitment.acknowledged",
       {"party_id": P["melon-coldchain"].party_id})
    on(k, "yizhou", "commitment.changed", {
        "action": "amend", "effective_on": "2025-06-01", "reason": "public_interest",
        "legal_authority": "《中华人民共和国土地管理法》第五十八条",
        "procedure_ref": "伊政发〔2025〕18号",
        "consultation": {"held_on": "2025-05-20", "record_sha256": CONSULTATION.sha256},
        "new_obligations": [{"obligation_id": "ob2", "description": "置换同等面积园区用地",
                             "due_date": "2025-12-31"}],
        "compensation_offer": {"amount_fen": 35_000_000, "description": "搬迁及停产损失补偿"}})
    on(k, "yizhou", "compensation.determined", {
        "duty_id": "HM-CN-2024-022-comp1", "beneficiary": P["melon-coldchain"].party_id,
        "amount_fen": 35_000_000, "due_date": "2025-09-30",
        "basis": "第三方评估报告（哈评字〔2025〕第112号）"})
    on(k, "finance", "compensation.paid", {"duty_id": "HM-CN-2024-022-comp1",
                                           "amount_fen": 20_000_000, "paid_on": "2025-09-26",
                                           "voucher_ref": "哈财国库支付凭证 HMCZ-2025-09-0301"})

    # A subsidy paid on time.
    k = "HM-CN-2025-003"
    on(k, "industry", "commitment.made", COMMITMENTS[k][0])
    on(k, "tianshan-software", "commitment.acknowledged",
       {"party_id": P["tianshan-software"].party_id})
    on(k, "finance", "commitment.obligation_fulfilled", {"obligation_id": "ob1",
                                                         "fulfilled_on": "2025-10-20",
                                                         "amount_fen": 50_000_000})
    return events


TREASURY_COLUMNS = ("contract_id", "payment_id", "milestone_id", "amount", "paid_on",
                    "method", "voucher_ref", "purpose")


def treasury_export() -> str:
    """The finance bureau's December payment run, as its treasury system exports it."""
    rows = [
        ("HM-2025-ZJ-007", "HMCZ-2025-12-0031", "m1", "1480000.00", "2025-12-10", "transfer",
         "哈财国库支付凭证 HMCZ-2025-12-0031", "principal"),
        ("HM-2025-JY-012", "HMCZ-2025-12-0032", "m1", "126000.00", "2025-12-10", "e_voucher",
         "哈财国库支付凭证 HMCZ-2025-12-0032", "principal"),
        ("HM-2025-GX-014", "HMCZ-2025-12-0040", "m2", "1600.00", "2025-12-12", "transfer",
         "哈财国库支付凭证 HMCZ-2025-12-0040", "interest"),
        ("HM-2025-GX-021", "HMCZ-2025-12-0057", "m1", "88000.00", "2025-12-15", "transfer",
         "哈财国库支付凭证 HMCZ-2025-12-0057", "principal"),
    ]
    lines = [",".join(TREASURY_COLUMNS)] + [",".join(row) for row in rows]
    return "\n".join(lines) + "\n"
