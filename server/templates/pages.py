# ruff: noqa: RUF001 - the labels are Chinese text with full-width punctuation
"""The web pages (DESIGN 6): verify a document, arrears, breaches, a stream's timeline.

Each page shows every label in Chinese and English. Pages take plain view objects that
:mod:`server.ui` fills from the read models; nothing here computes arrears or rules, it
only lays out what it is given. Money arrives as integer fen and leaves as yuan text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from projections.rules import Rule

from .markup import Child, Html, el, join

STATIC = "/ui/static"

LAWS = (
    ("Hami", "《哈密市优化营商环境条例实施办法》",
     "Hami measures implementing the Business-Environment Regulations (2022)"),
    ("SME", "《保障中小企业款项支付条例》", "State Council SME Payment Regulation (2025)"),
    ("BER", "《优化营商环境条例》", "Business-Environment Regulation (2019)"),
)

RULE_LABELS = {
    "ARREARS": ("拖欠账款", "Arrears"),
    "TERM_OVER_60": ("付款期限超过60日", "Payment term over 60 days"),
    "RATE_BELOW_LPR": ("约定逾期利率低于LPR", "Late-interest rate below the LPR"),
    "ACCEPTANCE_LATE": ("逾期未验收", "Acceptance late"),
    "CONFIRMATION_LATE": ("逾期未确认应收账款", "Receivable confirmation late"),
    "CHANGE_FORBIDDEN_REASON": ("以禁止的理由变更承诺",
                                "Commitment changed for a forbidden reason"),
    "CHANGE_NO_CONSULTATION": ("变更未经协商", "Change without consultation"),
    "CHANGE_NO_LEGAL_BASIS": ("变更无法定依据或程序", "Change without legal basis or procedure"),
    "OBLIGATION_MISSED": ("承诺义务未履行", "Commitment obligation missed"),
    "COMPENSATION_OVERDUE": ("补偿逾期未付", "Compensation overdue"),
    "COMPLAINT_UNANSWERED": ("投诉逾期未答复", "Complaint unanswered"),
}

EVENT_LABELS = {
    "party.registered": "主体登记", "key.registered": "公钥登记", "key.revoked": "公钥撤销",
    "rate.lpr_published": "LPR公布", "calendar.published": "节假日安排公布",
    "contract.signed": "合同签订", "contract.countersigned": "合同会签",
    "contract.delivered": "交付", "contract.accepted": "验收",
    "contract.settlement_confirmed": "结算确认", "contract.amended": "合同变更",
    "contract.terminated": "合同终止", "payment.made": "付款", "payment.contested": "付款异议",
    "milestone.disputed": "金额争议", "dispute.resolved": "争议解决",
    "receivable.confirmation_requested": "申请确认应收账款",
    "receivable.confirmed": "应收账款确认", "commitment.made": "作出承诺",
    "commitment.acknowledged": "承诺签收", "commitment.changed": "承诺变更",
    "commitment.obligation_fulfilled": "承诺义务履行", "compensation.determined": "补偿确定",
    "compensation.paid": "补偿支付", "complaint.filed": "投诉", "complaint.answered": "投诉答复",
    "accountability.recorded": "问责记录",
}


# Pieces ------------------------------------------------------------------------------
def bi(zh: str, en: str) -> Html:
    """A label in both languages."""
    return join([el("span", zh, class_="zh", lang="zh-Hans"), " ",
                 el("span", en, class_="en", lang="en")])


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals and thousands separators; no floats."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def money(fen: int) -> Html:
    return el("span", yuan(fen), class_="money", data_fen=fen)


def url(path: str, **query: object) -> str:
    """``path`` with the query parameters that are not None."""
    pairs = [(name, str(value)) for name, value in query.items() if value is not None]
    return path + ("?" + urlencode(pairs) if pairs else "")


def stream_href(stream: str, at: int | None = None, leaf_hash: str | None = None) -> str:
    href = url(f"/ui/streams/{stream}", at=at)
    return href + (f"#leaf-{leaf_hash}" if leaf_hash else "")


def proof_href(leaf_hash: str, tree_size: int | None = None) -> str:
    return url("/v1/log/proof/inclusion", leaf_hash=leaf_hash, tree_size=tree_size)


def short(digest: str) -> str:
    return digest[:12] + "…"


@dataclass(frozen=True, slots=True)
class Evidence:
    """A leaf named as evidence: where it is in the log (None when not found)."""

    leaf_hash: str
    leaf_index: int | None
    stream: str | None


def evidence_links(hashes: Iterable[str], found: Mapping[str, Evidence],
                   at: int | None) -> Html:
    items = []
    for digest in hashes:
        where = found.get(digest)
        if where is None or where.stream is None:
            timeline = el("code", short(digest), title=digest)
        else:
            timeline = el("a", f"#{where.leaf_index}", href=stream_href(where.stream, at, digest),
                          title=f"{where.stream} · {digest}", class_="leaf",
                          data_leaf_hash=digest)
        proof = el("a", bi("证明", "proof"), href=proof_href(digest, at), class_="proof")
        items.append(el("li", timeline, " ", proof))
    return el("ul", items, class_="evidence")


def party(party_id: str | None, names: Mapping[str, str]) -> Html:
    """A party's registered name, its credit code as the tooltip (or shown without name)."""
    if party_id is None:
        return el("span", "—")
    name = names.get(party_id)
    if name is None:
        return el("code", party_id, class_="party-id")
    return el("span", name, class_="party-name", title=party_id, data_party=party_id)


def responsible(person: Mapping[str, str] | None) -> Html:
    if not person:
        return el("span", bi("未知", "unknown"), class_="muted")
    return join([el("span", person.get("department", ""), class_="department"),
                 el("span", person.get("official", ""), class_="official")])


COLUMNS = {
    "contract": ("合同 · 分项", "Contract · milestone"),
    "payer": ("付款方", "Payer"), "payee": ("收款方", "Payee"),
    "due": ("到期日", "Due date"), "amount": ("金额（元）", "Amount (yuan)"),
    "paid": ("已付", "Paid"), "disputed": ("争议金额", "Disputed"),
    "contested": ("付款异议", "Contested"), "outstanding": ("未付", "Outstanding"),
    "days": ("逾期天数", "Days overdue"), "interest": ("逾期利息", "Late interest"),
    "interest_paid": ("已付利息", "Interest paid"), "responsible": ("责任单位与责任人",
                                                              "Responsible"),
    "evidence": ("证据", "Evidence"), "subject": ("事项", "Subject"),
    "party": ("当事方", "Party"), "detected": ("发生日", "Detected on"),
    "detail": ("说明", "Detail"),
}

def col(name: str) -> Html:
    return bi(*COLUMNS[name])


def th(name: str, **attributes: object) -> Html:
    return el("th", col(name), scope="col", **attributes)


def td(name: str, *children: Child, **attributes: object) -> Html:
    zh, en = COLUMNS[name]
    return el("td", el("div", *children, class_="value"), data_label=f"{zh} {en}",
              **attributes)


# Layout ------------------------------------------------------------------------------
NAV = (
    ("/ui/verify", "验证文件", "Verify a document"),
    ("/ui/arrears", "欠款", "Arrears"),
    ("/ui/breaches", "违规", "Breaches"),
)


def layout(title: tuple[str, str], main: Html, *, active: str | None = None,
           scripts: Sequence[str] = ()) -> Html:
    zh, en = title
    nav = el("nav", [el("a", bi(nz, ne), href=href,
                        aria_current="page" if href == active else None)
                     for href, nz, ne in NAV], aria_label="页面 Pages")
    head = join([
        Html('<meta charset="utf-8">'),
        Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        el("title", f"{zh} · {en} — 哈密市政府承诺与欠款账本"),
        el("link", rel="icon", href="data:,"),
        el("link", rel="stylesheet", href=f"{STATIC}/ui.css"),
        [el("script", src=f"{STATIC}/{name}", defer=True) for name in scripts],
    ])
    header = el("header",
                el("a", bi("哈密市政府承诺与欠款账本", "Hami commitment ledger"),
                   href="/ui/verify", class_="brand"),
                nav, class_="site")
    footer = el("footer", el("p", bi(
        "页面内容来自签名的透明日志；每个数字都可以通过 JSON 接口和日志证明核对。",
        "Everything here comes from the signed transparency log; every figure can be checked "
        "against the JSON API and the log's proofs.")), el("p", [
            el("a", "OpenAPI", href="/v1/openapi.json"), " · ",
            el("a", bi("签名检查点", "signed checkpoint"), href="/v1/log/checkpoint"), " · ",
            el("a", bi("日志公钥", "log key"), href="/v1/log/key")]), class_="site")
    body = el("body", header, el("main", main, id="main"), footer)
    return Html("<!doctype html>\n" + el("html", el("head", head), body, lang="zh-Hans"))


def heading(zh: str, en: str) -> Html:
    return el("h1", el("span", zh, lang="zh-Hans"), el("span", en, class_="en", lang="en"))


def error_page(status: int, title: str, detail: str) -> Html:
    main = join([
        heading("请求未能完成", "The request could not be answered"),
        el("p", el("strong", f"{status} {title}"), class_="status refused"),
        el("p", detail, class_="detail"),
        el("p", el("a", bi("返回首页", "Back to the start"), href="/ui/verify")),
    ])
    return layout(("错误", "Error"), main)


# Verify ------------------------------------------------------------------------------
def verify_page(log_vkey: str | None) -> Html:
    key_help = bi(
        "这里预填的是本服务器公布的日志公钥。若不想信任本服务器，请粘贴您从运营方或其他渠道得到的公钥。",
        "Prefilled with the log key this server publishes. Not to depend on this server, "
        "paste the key you got from the operator or another channel.")
    form = el("form", [
        el("label", [
            el("span", bi("拖入或选择文件", "Drop or choose a document"), class_="drop-title"),
            el("span", bi("文件只在您的浏览器中计算 SHA-256，不会上传。",
                          "Only its SHA-256 leaves your browser; the file is not uploaded."),
               class_="hint"),
            el("input", type="file", id="document", name="document"),
        ], class_="drop", id="drop", for_="document"),
        el("p", el("label", [bi("或输入文件的 SHA-256", "or enter the document's SHA-256"),
                             el("input", type="text", id="sha256", name="sha256",
                                inputmode="text", autocomplete="off", spellcheck="false",
                                # No pattern: the script trims what was pasted and says
                                # what is wrong; a pattern kept the form from submitting
                                # at all (a hash pasted with a space verified nothing).
                                placeholder="64 hex")])),
        el("details", [
            el("summary", bi("信任的日志公钥与检查点", "Trusted log key and checkpoints")),
            el("label", [bi("日志公钥（vkey）", "Log key (vkey)"),
                         el("textarea", log_vkey or "", id="vkey", name="vkey", rows="2",
                            spellcheck="false", autocomplete="off")], class_="block"),
            el("p", key_help, class_="hint"),
            el("label", [bi("从其他来源得到的签名检查点（可选，用于比对）",
                            "A signed checkpoint from another source (optional, to compare)"),
                         el("textarea", "", id="other-checkpoint", name="other_checkpoint",
                            rows="5", spellcheck="false", autocomplete="off")],
               class_="block"),
        ], open=log_vkey is None),
        el("button", bi("验证", "Verify"), type="submit", id="verify-button"),
    ], id="verify-form", class_="verify", data_server_vkey=log_vkey or "")
    noscript = el("noscript", el("p", bi(
        "本页在浏览器中用 JavaScript 核验证明。没有 JavaScript 时，请使用命令行：",
        "This page checks the proofs in your browser with JavaScript. Without it, use the "
        "command line:"), " ", el("code", "ledger verify --document FILE --log-key KEY")),
        class_="refused")
    explain = el("section", [
        el("h2", bi("核验说明", "What a verification shows")),
        el("dl", [
            el("dt", bi("能证明", "Proven")),
            el("dd", bi("该文件的 SHA-256 出现在日志第 N 个叶的事件中，"
                        "该叶包含在由公钥 K 签名的检查点所代表的日志树里。",
                        "This document's hash is in the event at leaf N of the log, under a "
                        "checkpoint signed by key K.")),
            el("dt", bi("不能证明", "Not proven")),
            el("dd", bi("服务器向您展示的日志与向其他人展示的是同一份："
                        "请与他人或见证方的检查点比对，或保存检查点下次核对一致性。",
                        "That the server shows you the same log as everyone else: compare "
                        "checkpoints with others or a witness, or keep this one and check "
                        "consistency next time.")),
            el("dd", bi("谁签署了该事件：本页不核验事件本身的签名和签署人的公钥，"
                        "ledger verify 与 ledger audit 会核验。",
                        "Who signed the event: this page does not check the event's own "
                        "signature or the signer's key; ledger verify and ledger audit do.")),
            el("dd", bi("文件内容属实，或事件签署人有权签署：这需要审计（ledger audit）。",
                        "That the document's content is true, or that the event's signer "
                        "was entitled to sign it: that takes an audit (ledger audit).")),
        ]),
    ], class_="explain")
    main = join([
        heading("验证文件是否已记录", "Verify that a document is recorded"),
        el("p", bi("企业可以在这里核验其持有的合同或承诺文件是否已被记入日志且未被改动，"
                   "核验在您的浏览器中完成，无需信任服务器。",
                   "Check that a contract or commitment you hold is recorded in the log and "
                   "unchanged. The checks run in your browser; you need not trust the "
                   "server."), class_="lead"),
        form, noscript,
        el("section", el("p", bi("尚未核验。", "Nothing verified yet.")), id="result",
           class_="result", data_status="idle", aria_live="polite"),
        explain,
    ])
    return layout(("验证文件", "Verify a document"), main, active="/ui/verify",
                  scripts=("verify.js",))


# Arrears -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart: a payer's or an ageing bucket's sums."""

    key: str
    label: Html
    outstanding_fen: int
    interest_fen: int
    rows: int


@dataclass(frozen=True, slots=True)
class ArrearsView:
    as_of: str
    log_size: int
    at: int | None
    payer: str | None
    payer_options: Sequence[tuple[str, str]]  # (party id, name)
    rows: Sequence[Mapping[str, Any]]
    totals: Mapping[str, int]
    by_payer: Sequence[Bar]
    by_bucket: Sequence[Bar]
    names: Mapping[str, str]
    evidence: Mapping[str, Evidence]


def _bar_svg(outstanding: int, interest: int, scale: int, label: str) -> Html:
    """A two-part horizontal bar in a 1000-unit wide box; integer widths."""
    scale = max(scale, 1)
    principal_w = outstanding * 1000 // scale
    interest_w = interest * 1000 // scale
    if outstanding and not principal_w:
        principal_w = 1
    if interest and not interest_w:
        interest_w = 1
    return el("svg", [
        el("rect", x=0, y=0, width=1000, height=16, class_="track"),
        el("rect", x=0, y=0, width=principal_w, height=16, class_="principal"),
        el("rect", x=principal_w, y=0, width=interest_w, height=16, class_="interest"),
    ], viewBox="0 0 1000 16", preserveAspectRatio="none", role="img", aria_label=label,
        class_="bar")


def chart(title: Html, bars: Sequence[Bar], name: str) -> Html:
    scale = max((b.outstanding_fen + b.interest_fen for b in bars), default=0)
    items = []
    for b in bars:
        label = f"{yuan(b.outstanding_fen)} + {yuan(b.interest_fen)}"
        items.append(el("li", [
            el("span", b.label, class_="bar-label"),
            _bar_svg(b.outstanding_fen, b.interest_fen, scale, label),
            el("span", [el("span", money(b.outstanding_fen), class_="principal-text"),
                        el("span", ["+ ", money(b.interest_fen)], class_="interest-text"),
                        el("span", [str(b.rows), " ", bi("项", "items")], class_="count")],
               class_="bar-figures"),
        ], data_key=b.key, data_outstanding_fen=b.outstanding_fen,
            data_interest_fen=b.interest_fen, data_rows=b.rows))
    legend = el("p", [el("span", "", class_="swatch principal"), bi("未付本金", "outstanding"),
                      " ", el("span", "", class_="swatch interest"),
                      bi("逾期利息", "late interest")], class_="legend")
    body: Html = el("ol", items, class_="chart") if items else el(
        "p", bi("没有数据。", "Nothing to show."), class_="muted")
    return el("section", el("h2", title), legend, body, class_="chart-box", id=f"chart-{name}")


def arrears_page(view: ArrearsView) -> Html:
    options = [el("option", bi("全部", "all"), value="")]
    options += [el("option", f"{name} ({pid})" if name != pid else pid, value=pid,
                   selected=pid == view.payer) for pid, name in view.payer_options]
    form = el("form", [
        el("label", [bi("截至日期", "As of"),
                     el("input", type="date", name="as_of", value=view.as_of, required=True)]),
        el("label", [bi("付款方", "Payer"), el("select", options, name="payer")]),
        el("input", type="hidden", name="at", value=view.at) if view.at is not None else None,
        el("button", bi("筛选", "Filter"), type="submit"),
    ], method="get", action="/ui/arrears", class_="filters")
    t = view.totals
    summary = el("dl", [
        el("div", [el("dt", bi("逾期未付本金", "Outstanding overdue")),
                   el("dd", money(t["outstanding_fen"]), " ", bi("元", "yuan"))]),
        el("div", [el("dt", bi("逾期利息", "Late interest")),
                   el("dd", money(t["interest_fen"]), " ", bi("元", "yuan"))]),
        el("div", [el("dt", bi("已付利息", "Interest paid")),
                   el("dd", money(t["interest_paid_fen"]), " ", bi("元", "yuan"))]),
        el("div", [el("dt", bi("分项数", "Milestones")),
                   el("dd", el("span", t["rows"], data_count=t["rows"]))]),
    ], class_="summary", id="totals")
    rows = [_arrears_row(row, view) for row in view.rows]
    table = el("div", el("table", [
        el("caption", bi("逾期或产生逾期利息的付款分项", "Milestones overdue or accruing late "
                         "interest")),
        el("thead", el("tr", [th(n) for n in (
            "contract", "payer", "payee", "due", "amount", "paid", "disputed",
            "contested", "outstanding", "days", "interest", "interest_paid", "responsible",
            "evidence")])),
        el("tbody", rows) if rows else el("tbody", el("tr", el("td", bi(
            "没有逾期分项。", "No milestone is overdue."), colspan=14))),
        el("tfoot", el("tr", [
            el("th", bi("合计", "Total"), scope="row", colspan=4),
            *[td(name, money(t[field]), class_="num") for name, field in (
                ("amount", "amount_fen"), ("paid", "paid_fen"), ("disputed", "disputed_fen"),
                ("contested", "contested_fen"), ("outstanding", "outstanding_fen"))],
            td("days", ""),
            td("interest", money(t["interest_fen"]), class_="num"),
            td("interest_paid", money(t["interest_paid_fen"]), class_="num"),
            el("td", "", colspan=2)])),
    ], class_="data arrears", id="arrears-table"), class_="table-wrap")
    note = el("p", bi(
        "到期日和利息按《保障中小企业款项支付条例》与哈密市实施办法计算：逐日按未付金额计息，按分项四舍五入到分。",
        "Due dates and interest follow the SME Payment Regulation and the Hami measures: each "
        "overdue day accrues on that day's outstanding amount, rounded half up to the fen once "
        "per milestone."), class_="hint")
    known = el("p", [bi("截至日期", "As of"), " ", el("time", view.as_of, id="as-of"), " · ",
                     bi("日志大小", "log size"), " ", el("span", view.log_size, id="log-size")],
               class_="meta")
    main = join([
        heading("拖欠中小企业账款", "Arrears"), known, form, summary,
        el("div", [chart(bi("按付款方", "By payer"), view.by_payer, "payer"),
                   chart(bi("按逾期时长（天）", "By days overdue"), view.by_bucket, "ageing")],
           class_="charts"),
        table, note,
    ])
    return layout(("欠款", "Arrears"), main, active="/ui/arrears")


def _arrears_row(row: Mapping[str, Any], view: ArrearsView) -> Html:
    contract = f"contract/{row['contract_id']}"
    return el("tr", [
        td("contract", el("a", row["contract_id"], href=stream_href(contract, view.at),
                          class_="contract"),
           el("span", row["milestone_id"], class_="milestone")),
        td("payer", party(row["payer"], view.names)),
        td("payee", party(row["payee"], view.names)),
        td("due", el("time", row["due_date"]), class_="date"),
        *[td(name, money(row[field]), class_="num") for name, field in (
            ("amount", "amount_fen"), ("paid", "paid_fen"), ("disputed", "disputed_fen"),
            ("contested", "contested_fen"), ("outstanding", "outstanding_fen"))],
        td("days", el("span", row["days_overdue"], data_days=row["days_overdue"]),
           class_="num overdue" if row["days_overdue"] > 0 else "num"),
        td("interest", money(row["interest_fen"]), class_="num"),
        td("interest_paid", money(row["interest_paid_fen"]), class_="num"),
        td("responsible", responsible(row.get("responsible"))),
        td("evidence", evidence_links(row.get("evidence", []), view.evidence, view.at)),
    ], data_contract=row["contract_id"], data_milestone=row["milestone_id"])


# Breaches ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BreachGroup:
    rule: Rule
    rows: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class BreachesView:
    as_of: str
    log_size: int
    at: int | None
    rule: str | None
    rules: Sequence[Rule]
    groups: Sequence[BreachGroup]
    names: Mapping[str, str]
    evidence: Mapping[str, Evidence]


def rule_label(rule_id: str) -> Html:
    zh, en = RULE_LABELS.get(rule_id, (rule_id, rule_id))
    return bi(zh, en)


def articles() -> Html:
    return el("dl", [join([el("dt", abbr), el("dd", bi(zh, en))]) for abbr, zh, en in LAWS],
              class_="laws")


def breaches_page(view: BreachesView) -> Html:
    options = [el("option", bi("全部规则", "every rule"), value="")]
    options += [el("option", f"{r.id} · {RULE_LABELS.get(r.id, ('', ''))[0]}", value=r.id,
                   selected=r.id == view.rule) for r in view.rules]
    form = el("form", [
        el("label", [bi("截至日期", "As of"),
                     el("input", type="date", name="as_of", value=view.as_of, required=True)]),
        el("label", [bi("规则", "Rule"), el("select", options, name="rule")]),
        el("input", type="hidden", name="at", value=view.at) if view.at is not None else None,
        el("button", bi("筛选", "Filter"), type="submit"),
    ], method="get", action="/ui/breaches", class_="filters")
    total = sum(len(g.rows) for g in view.groups)
    index = el("ul", [el("li", el("a", [el("code", g.rule.id), " ", rule_label(g.rule.id),
                                        " ", el("span", len(g.rows), class_="count",
                                                data_count=len(g.rows))],
                                  href=f"#rule-{g.rule.id}"))
                      for g in view.groups], class_="rule-index")
    sections = [_breach_group(group, view) for group in view.groups]
    main = join([
        heading("违规事项", "Breaches"),
        el("p", [bi("截至日期", "As of"), " ", el("time", view.as_of, id="as-of"), " · ",
                 bi("日志大小", "log size"), " ", el("span", view.log_size, id="log-size"), " · ",
                 bi("共", "total"), " ", el("span", total, id="breach-count"), " ",
                 bi("项", "breaches")], class_="meta"),
        form,
        index if sections else el("p", bi("没有发现违规。", "No breach found."), class_="muted"),
        sections,
        el("section", [el("h2", bi("法规简称", "Abbreviations")), articles()], class_="explain"),
    ])
    return layout(("违规", "Breaches"), main, active="/ui/breaches")


def _breach_group(group: BreachGroup, view: BreachesView) -> Html:
    rule = group.rule
    rows = [el("tr", [
        td("subject", el("a", row["subject_stream"],
                         href=stream_href(row["subject_stream"], view.at))),
        td("party", party(row.get("party"), view.names)),
        td("responsible", responsible(row.get("responsible"))),
        td("detected", el("time", row["detected_on"])),
        td("detail", row.get("detail", "")),
        td("evidence", evidence_links(row.get("evidence", []), view.evidence, view.at)),
    ], data_rule=rule.id, data_subject=row["subject_stream"]) for row in group.rows]
    return el("section", [
        el("h2", [el("code", rule.id), " ", rule_label(rule.id)]),
        el("p", [bi("依据", "Article"), " ", el("strong", rule.article, class_="article"),
                 " · ", el("span", rule.fires_when, class_="en", lang="en")], class_="meta"),
        el("div", el("table", [
            el("thead", el("tr", [th(n) for n in ("subject", "party", "responsible",
                                                  "detected", "detail", "evidence")])),
            el("tbody", rows)], class_="data breaches"), class_="table-wrap"),
    ], id=f"rule-{rule.id}", class_="rule-group", data_rule=rule.id, data_rows=len(rows))


# Stream timeline ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimelineEvent:
    version: int
    type: str
    signer: str
    recorded_at: str
    leaf_index: int
    leaf_hash: str
    prev: str | None
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StreamView:
    stream: str
    at: int | None
    log_size: int
    events: Sequence[TimelineEvent]
    names: Mapping[str, str]


def _body_json(body: Mapping[str, Any]) -> str:
    def fallback(value: object) -> str:
        if isinstance(value, bytes | bytearray):
            return bytes(value).hex()
        return repr(value)

    return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True, default=fallback)


def stream_page(view: StreamView) -> Html:
    kind, _, ident = view.stream.partition("/")
    seen = {e.leaf_hash for e in view.events}
    api: list[Child] = [el("a", bi("本流 JSON", "stream JSON"),
                           href=url(f"/v1/streams/{view.stream}", at=view.at))]
    if kind in ("contract", "commitment"):
        api += [" · ", el("a", bi("当前状态 JSON", "state JSON"),
                          href=url(f"/v1/{kind}s/{ident}", at=view.at))]
    form = el("form", [
        el("label", [bi("截至日志大小", "As of log size"),
                     el("input", type="number", name="at", min="1", max=view.log_size,
                        value=view.at, inputmode="numeric")]),
        el("button", bi("查看", "Show"), type="submit"),
        el("a", bi("最新", "latest"), href=stream_href(view.stream)) if view.at else None,
    ], method="get", action=f"/ui/streams/{view.stream}", class_="filters")
    events = [_event(e, view, seen) for e in view.events]
    main = join([
        heading("事件时间线", "Event timeline"),
        el("p", [el("code", view.stream, id="stream-name"), " · ",
                 el("span", len(view.events), id="event-count"), " ", bi("个事件", "events"),
                 " · ",
                 (join([bi("截至日志大小", "as of log size"), " ", el("span", view.at, id="at")])
                  if view.at is not None else bi("最新", "latest")),
                 " · ", bi("日志大小", "log size"), " ", el("span", view.log_size,
                                                          id="log-size")], class_="meta"),
        el("p", api, class_="meta"), form,
        el("ol", events, class_="timeline", id="timeline"),
    ])
    return layout(("事件时间线", "Event timeline"), main)


def _event(e: TimelineEvent, view: StreamView, seen: set[str]) -> Html:
    signer_party = e.signer.split("/", 1)[0]
    signer_name = view.names.get(signer_party)
    if e.prev is None:
        prev: Html = el("span", bi("无（本流第一个事件）", "none (first event of the stream)"),
                        class_="muted")
    elif e.prev in seen:
        prev = el("a", el("code", e.prev), href=f"#leaf-{e.prev}")
    else:
        prev = el("code", e.prev)
    facts = [
        ("类型", "Type", join([el("code", e.type), " ",
                              el("span", EVENT_LABELS.get(e.type, ""), lang="zh-Hans")])),
        ("签署密钥", "Signer", join([el("code", e.signer),
                                  el("span", signer_name, class_="party-name")
                                  if signer_name else None])),
        ("记录时间", "Recorded at", el("time", e.recorded_at)),
        ("叶序号", "Leaf index", el("span", e.leaf_index, class_="leaf-index")),
        ("叶哈希", "Leaf hash", el("code", e.leaf_hash, class_="leaf-hash")),
        ("前一事件", "Previous", prev),
    ]
    return el("li", el("article", [
        el("h2", [el("span", f"v{e.version}", class_="version"), " ", el("code", e.type)]),
        el("dl", [join([el("dt", bi(zh, en)), el("dd", value)]) for zh, en, value in facts],
           class_="facts"),
        el("details", [el("summary", bi("事件内容", "Body")),
                       el("pre", el("code", _body_json(e.body)), class_="body")], open=True),
        el("p", [el("a", bi("包含证明 JSON", "inclusion proof JSON"),
                    href=proof_href(e.leaf_hash, view.at), class_="proof"), " · ",
                 el("a", bi("原始叶（msgpack）", "raw leaf (msgpack)"),
                    href=f"/v1/log/entries/{e.leaf_index}")], class_="links"),
    ]), id=f"leaf-{e.leaf_hash}", class_="event", data_leaf_index=e.leaf_index,
        data_leaf_hash=e.leaf_hash, data_type=e.type, data_version=e.version)

