"""Domain state of each stream kind, and the rules that decide whether an event may join it.

State is plain data (text keys, ints, text, lists, maps) so aggregates copy and cache it
cheaply. ``evolve`` is pure state change, run on record and on every replay; all checks
live in ``check_authority`` and ``check_rules``, run once before an event is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .catalogue import PUBLIC_BUYER_KINDS
from .errors import AlreadyExists, RoleNotAllowed, RuleViolation

State = dict[str, Any]
# The current state of a stream by its name (None when it holds no event yet).
StreamLookup = Callable[[str], "State | None"]


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """The signing key as registered, with its party's current state."""

    key_name: str
    party_id: str
    roles: tuple[str, ...]
    party: State


def key_party_id(key_name: str) -> str:
    """Key names are ``<party-id>/<label>``; the party stream holds the key."""
    return key_name.split("/", 1)[0]


# ---------------------------------------------------------------------------
# evolve: pure state changes
# ---------------------------------------------------------------------------
def evolve(state: State | None, type_: str, body: dict[str, Any], signer: str,
           recorded_at: str, version: int) -> State:
    state = {} if state is None else state
    handler = _EVOLVE.get(type_)
    if handler is not None:
        handler(state, body, signer, recorded_at, version)
    return state


def _party_registered(s: State, b: dict[str, Any], *_: Any) -> None:
    s.update(party_id=b["party_id"], name=b["name"], kind=b["kind"],
             pays_for=list(b.get("pays_for", [])), keys=s.get("keys", {}))
    if "scale" in b:
        s["scale"] = b["scale"]


def _key_registered(s: State, b: dict[str, Any], *_: Any) -> None:
    name = b["vkey"].split("+", 1)[0]
    s.setdefault("keys", {})[name] = {"vkey": b["vkey"], "roles": list(b["roles"])}


def _key_revoked(s: State, b: dict[str, Any], *_: Any) -> None:
    key = s.get("keys", {}).get(b["key_name"])
    if key is not None:
        key["revoked_at"] = b["effective_at"]


def _obligations(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        o["obligation_id"]: {"due_date": o["due_date"], "fulfilled_fen": 0, "fulfilled": False,
                             **({"amount_fen": o["amount_fen"]} if "amount_fen" in o else {})}
        for o in items
    }


def _commitment_made(s: State, b: dict[str, Any], *_: Any) -> None:
    s.update(commitment_id=b["commitment_id"], issuer=b["issuer"],
             beneficiary=b["beneficiary"], obligations=_obligations(b["obligations"]),
             acknowledged=False, withdrawn=False, pending_duties=[], duties={})


def _commitment_acknowledged(s: State, b: dict[str, Any], *_: Any) -> None:
    s["acknowledged"] = True


def _obligation_fulfilled(s: State, b: dict[str, Any], *_: Any) -> None:
    ob = s["obligations"][b["obligation_id"]]
    if "amount_fen" in b:
        ob["fulfilled_fen"] += b["amount_fen"]
    if "amount_fen" not in ob or "amount_fen" not in b or ob["fulfilled_fen"] >= ob["amount_fen"]:
        ob["fulfilled"] = True


def _commitment_changed(s: State, b: dict[str, Any], signer: str, recorded_at: str,
                        version: int) -> None:
    if b["action"] == "withdraw":
        s["withdrawn"] = True
    if "new_obligations" in b:
        s["obligations"].update(_obligations(b["new_obligations"]))
    if b["reason"] in ("public_interest", "national_interest"):
        s["pending_duties"].append({
            "name": f"{s['commitment_id']}/change-{version}",
            "beneficiary": s["beneficiary"],
        })


def _compensation_determined(s: State, b: dict[str, Any], *_: Any) -> None:
    for i, pending in enumerate(s["pending_duties"]):
        if pending["beneficiary"] == b["beneficiary"]:
            del s["pending_duties"][i]
            break
    s["duties"][b["duty_id"]] = {"beneficiary": b["beneficiary"],
                                 "amount_fen": b["amount_fen"], "paid_fen": 0}


def _compensation_paid(s: State, b: dict[str, Any], *_: Any) -> None:
    s["duties"][b["duty_id"]]["paid_fen"] += b["amount_fen"]


def _contract_signed(s: State, b: dict[str, Any], *_: Any) -> None:
    s.update(
        contract_id=b["contract_id"], buyer=b["buyer"], supplier=b["supplier"],
        value_fen=b["value_fen"], payment_basis=b["payment_basis"], countersigned=False,
        terminated=False, payments={}, unallocated_fen=0,
        milestones={m["milestone_id"]: {"amount_fen": m["amount_fen"], "paid_fen": 0,
                                        "written_off_fen": 0, "disputed_fen": 0}
                    for m in b["milestones"]},
    )


def _contract_countersigned(s: State, b: dict[str, Any], *_: Any) -> None:
    s["countersigned"] = True


def _settlement_confirmed(s: State, b: dict[str, Any], *_: Any) -> None:
    # Only on the settlement basis is the settled amount what is owed (DESIGN 5.1), as
    # the read models count it; elsewhere the confirmation is recorded and changes nothing.
    if s["payment_basis"] == "settlement":
        s["milestones"][b["milestone_id"]]["settlement_fen"] = b["amount_fen"]


def _contract_terminated(s: State, b: dict[str, Any], *_: Any) -> None:
    s["terminated"] = True


def _payment_made(s: State, b: dict[str, Any], *_: Any) -> None:
    entry: dict[str, Any] = {"amount_fen": b["amount_fen"], "purpose": b["purpose"]}
    if "milestone_id" in b:
        entry["milestone_id"] = b["milestone_id"]
    s["payments"][b["payment_id"]] = entry
    if b["purpose"] != "principal":
        return
    if "milestone_id" in b:
        s["milestones"][b["milestone_id"]]["paid_fen"] += b["amount_fen"]
    else:
        s["unallocated_fen"] += b["amount_fen"]


def _milestone_disputed(s: State, b: dict[str, Any], *_: Any) -> None:
    s["milestones"][b["milestone_id"]]["disputed_fen"] += b["disputed_fen"]


def _dispute_resolved(s: State, b: dict[str, Any], *_: Any) -> None:
    m = s["milestones"][b["milestone_id"]]
    m["written_off_fen"] += max(m["disputed_fen"] - b["owed_fen"], 0)
    m["disputed_fen"] = 0


def _complaint_filed(s: State, b: dict[str, Any], signer: str, *_: Any) -> None:
    s.update(complaint_id=b["complaint_id"], against=b["against"],
             subject_stream=b["subject_stream"], answered=False)


def _complaint_answered(s: State, b: dict[str, Any], *_: Any) -> None:
    s["answered"] = True


_EVOLVE: dict[str, Callable[..., None]] = {
    "party.registered": _party_registered,
    "key.registered": _key_registered,
    "key.revoked": _key_revoked,
    "commitment.made": _commitment_made,
    "commitment.acknowledged": _commitment_acknowledged,
    "commitment.obligation_fulfilled": _obligation_fulfilled,
    "commitment.changed": _commitment_changed,
    "compensation.determined": _compensation_determined,
    "compensation.paid": _compensation_paid,
    "contract.signed": _contract_signed,
    "contract.countersigned": _contract_countersigned,
    "contract.settlement_confirmed": _settlement_confirmed,
    "contract.terminated": _contract_terminated,
    "payment.made": _payment_made,
    "milestone.disputed": _milestone_disputed,
    "dispute.resolved": _dispute_resolved,
    "complaint.filed": _complaint_filed,
    "complaint.answered": _complaint_answered,
}


# ---------------------------------------------------------------------------
# Authority (DESIGN 4.1). Relationship keys must carry the matching role:
# buyer -> "buyer", supplier and beneficiary -> "enterprise", issuer -> "issuer",
# a payer mandate through pays_for -> "finance". A buyer or issuer party may also
# pay with its own "finance" key.
# ---------------------------------------------------------------------------
def _has(signer: SignerInfo, party_id: str | None, *roles: str) -> bool:
    return party_id is not None and signer.party_id == party_id and any(
        r in signer.roles for r in roles)


def _finance_for(signer: SignerInfo, payee_party: str | None) -> bool:
    return ("finance" in signer.roles and payee_party is not None
            and payee_party in signer.party.get("pays_for", []))


def check_authority(type_: str, body: dict[str, Any], stream_state: State | None,
                    signer: SignerInfo, stream_ident: str) -> None:
    s = stream_state or {}
    ok: bool
    if type_ in ("party.registered", "key.registered", "rate.lpr_published",
                 "calendar.published"):
        ok = "operator" in signer.roles
    elif type_ == "key.revoked":
        ok = "operator" in signer.roles or signer.party_id == stream_ident
    elif type_ in ("commitment.made",):
        ok = _has(signer, body["issuer"], "issuer")
    elif type_ in ("commitment.changed", "compensation.determined"):
        ok = _has(signer, s.get("issuer"), "issuer")
    elif type_ in ("commitment.obligation_fulfilled", "compensation.paid"):
        ok = _has(signer, s.get("issuer"), "issuer", "finance") or _finance_for(
            signer, s.get("issuer"))
    elif type_ == "commitment.acknowledged":
        ok = _has(signer, s.get("beneficiary"), "enterprise") and (
            body["party_id"] == signer.party_id)
    elif type_ == "contract.signed":
        ok = _has(signer, body["buyer"], "buyer")
    elif type_ in ("contract.accepted", "contract.settlement_confirmed", "contract.amended",
                   "receivable.confirmed"):
        ok = _has(signer, s.get("buyer"), "buyer")
    elif type_ in ("contract.countersigned", "contract.delivered", "payment.contested",
                   "receivable.confirmation_requested"):
        ok = _has(signer, s.get("supplier"), "enterprise")
        if type_ == "contract.countersigned":
            ok = ok and body["party_id"] == signer.party_id
    elif type_ in ("milestone.disputed", "dispute.resolved", "contract.terminated"):
        ok = _has(signer, s.get("buyer"), "buyer") or _has(signer, s.get("supplier"),
                                                           "enterprise")
    elif type_ == "payment.made":
        ok = _has(signer, s.get("buyer"), "buyer", "finance") or _finance_for(
            signer, s.get("buyer"))
    elif type_ == "complaint.filed":
        ok = True  # any party with an active key
    elif type_ == "complaint.answered":
        ok = (signer.party_id == s.get("against") or "inspector" in signer.roles
              or "operator" in signer.roles)
    elif type_ == "accountability.recorded":
        ok = "inspector" in signer.roles
    else:  # pragma: no cover - the catalogue and this table list the same types
        ok = False
    if not ok:
        raise RoleNotAllowed(
            f"key {signer.key_name} (party {signer.party_id}, roles "
            f"{', '.join(signer.roles)}) may not record {type_} here",
            rule="AUTHORITY", event_type=type_,
        )


# ---------------------------------------------------------------------------
# Domain rules (422, or 409 for identifiers that already exist)
# ---------------------------------------------------------------------------
def _need_party(lookup: StreamLookup, party_id: str, field: str) -> State:
    party = lookup(f"party/{party_id}")
    if party is None or "kind" not in party:
        raise RuleViolation("UNKNOWN_PARTY", f"{field} {party_id} is not a registered party",
                            field=field)
    return party


def _need_stream(s: State | None, marker: str, stream: str) -> State:
    if not s or marker not in s:
        raise RuleViolation("UNKNOWN_STREAM", f"{stream} has not been opened "
                            f"(no {marker.split('_', maxsplit=1)[0]} recorded)", stream=stream)
    return s


def _milestone(s: State, mid: str) -> dict[str, Any]:
    m = s["milestones"].get(mid)
    if m is None:
        raise RuleViolation("UNKNOWN_MILESTONE", f"milestone {mid!r} is not in contract "
                            f"{s['contract_id']}", field="body.milestone_id")
    return m  # type: ignore[no-any-return]


def owed_on_milestone(m: dict[str, Any]) -> int:
    base: int = m.get("settlement_fen", m["amount_fen"])
    written_off: int = m["written_off_fen"]
    return max(base - written_off, 0)


def check_rules(type_: str, body: dict[str, Any], s: State | None, stream: str,
                version: int, lookup: StreamLookup) -> None:
    """Refuse events that break a domain rule. ``s`` is the stream's current state."""
    if type_ == "party.registered":
        if s and "kind" in s:
            raise AlreadyExists(f"party {body['party_id']} is already registered")
        if body["kind"] == "enterprise" and "scale" not in body:
            raise RuleViolation("SCALE_REQUIRED", "enterprises are registered with a scale",
                                field="body.scale")
        for payee in body.get("pays_for", []):
            _need_party(lookup, payee, "body.pays_for")
    elif type_ == "key.registered":
        _need_party(lookup, body["party_id"], "body.party_id")
        name = body["vkey"].split("+", 1)[0]
        if not name.startswith(body["party_id"] + "/"):
            raise RuleViolation("KEY_NAME", f"key name {name!r} must be "
                                f"<party-id>/<label>, here {body['party_id']}/...",
                                field="body.vkey")
        if name in (s or {}).get("keys", {}):
            raise AlreadyExists(f"key {name} is already registered")
    elif type_ == "key.revoked":
        if body["key_name"] not in (s or {}).get("keys", {}):
            raise RuleViolation("UNKNOWN_KEY", f"key {body['key_name']} is not registered "
                                f"in {stream}", field="body.key_name")
        if "revoked_at" in s["keys"][body["key_name"]]:  # type: ignore[index]
            raise AlreadyExists(f"key {body['key_name']} is already revoked")
    elif type_ == "commitment.made":
        if s:
            raise AlreadyExists(f"{stream} already exists")
        _need_party(lookup, body["issuer"], "body.issuer")
        _need_party(lookup, body["beneficiary"], "body.beneficiary")
        _unique([o["obligation_id"] for o in body["obligations"]], "body.obligations")
    elif type_.startswith(("commitment.", "compensation.")):
        _check_commitment(type_, body, _need_stream(s, "commitment_id", stream))
    elif type_ == "contract.signed":
        if s:
            raise AlreadyExists(f"{stream} already exists")
        _need_party(lookup, body["buyer"], "body.buyer")
        _need_party(lookup, body["supplier"], "body.supplier")
        _unique([m["milestone_id"] for m in body["milestones"]], "body.milestones")
        total = sum(m["amount_fen"] for m in body["milestones"])
        if total > body["value_fen"]:
            raise RuleViolation("MILESTONES_EXCEED_VALUE", f"milestones add up to {total} fen, "
                                f"more than the contract value {body['value_fen']}",
                                field="body.milestones")
    elif type_.startswith(("contract.", "payment.", "milestone.", "dispute.", "receivable.")):
        _check_contract(type_, body, _need_stream(s, "contract_id", stream))
    elif type_ == "complaint.filed":
        if s:
            raise AlreadyExists(f"{stream} already exists")
        _need_party(lookup, body["against"], "body.against")
        if lookup(body["subject_stream"]) is None:
            raise RuleViolation("UNKNOWN_STREAM", f"body.subject_stream {body['subject_stream']} "
                                "holds no event to complain about",
                                field="body.subject_stream")
    elif type_ == "complaint.answered":
        c = _need_stream(s, "complaint_id", stream)
        if c["answered"]:
            raise AlreadyExists(f"{stream} has already been answered")
    elif type_ == "accountability.recorded":
        if not s:
            raise RuleViolation("UNKNOWN_STREAM", f"{stream} has no events to hold "
                                "accountability for", stream=stream)
    elif type_ == "calendar.published":
        year = body["year"]
        for field in ("holidays", "workdays"):
            for day in body[field]:
                if int(day[:4]) != year:
                    raise RuleViolation("CALENDAR_YEAR", f"{day} in body.{field} is not in "
                                        f"{year}", field=f"body.{field}")


def _unique(ids: list[str], field: str) -> None:
    if len(set(ids)) != len(ids):
        raise RuleViolation("DUPLICATE_ID", f"{field} repeats an identifier", field=field)


def _check_commitment(type_: str, b: dict[str, Any], s: State) -> None:
    if type_ == "commitment.acknowledged":
        if b["party_id"] != s["beneficiary"]:
            raise RuleViolation("NOT_BENEFICIARY", f"{b['party_id']} is not the beneficiary",
                                field="body.party_id")
    elif type_ == "commitment.obligation_fulfilled":
        ob = s["obligations"].get(b["obligation_id"])
        if ob is None:
            raise RuleViolation("UNKNOWN_OBLIGATION", f"obligation {b['obligation_id']!r} is "
                                "not in this commitment", field="body.obligation_id")
        if ob["fulfilled"]:
            raise RuleViolation("ALREADY_FULFILLED", f"obligation {b['obligation_id']!r} is "
                                "already fulfilled", field="body.obligation_id")
        if ("amount_fen" in ob and "amount_fen" in b
                and ob["fulfilled_fen"] + b["amount_fen"] > ob["amount_fen"]):
            raise RuleViolation("OVERFULFILMENT", "fulfilments would exceed the obligation's "
                                f"amount {ob['amount_fen']}", field="body.amount_fen")
    elif type_ == "commitment.changed":
        if s["withdrawn"]:
            raise RuleViolation("COMMITMENT_WITHDRAWN", "the commitment was withdrawn")
        if "new_obligations" in b:
            _unique([o["obligation_id"] for o in b["new_obligations"]], "body.new_obligations")
            clash = [o["obligation_id"] for o in b["new_obligations"]
                     if o["obligation_id"] in s["obligations"]]
            if clash:
                raise AlreadyExists(f"obligation {clash[0]!r} already exists")
    elif type_ == "compensation.determined":
        if b["duty_id"] in s["duties"]:
            raise AlreadyExists(f"duty {b['duty_id']!r} already exists")
        if not any(p["beneficiary"] == b["beneficiary"] for p in s["pending_duties"]):
            raise RuleViolation("NO_PENDING_DUTY", f"no change of this commitment opened a "
                                f"compensation duty for {b['beneficiary']}",
                                field="body.beneficiary")
    elif type_ == "compensation.paid":
        duty = s["duties"].get(b["duty_id"])
        if duty is None:
            raise RuleViolation("UNKNOWN_DUTY", f"duty {b['duty_id']!r} has not been "
                                "determined", field="body.duty_id")
        if duty["paid_fen"] + b["amount_fen"] > duty["amount_fen"]:
            raise RuleViolation("OVERPAYMENT", f"duty {b['duty_id']!r} has "
                                f"{duty['amount_fen'] - duty['paid_fen']} fen outstanding",
                                field="body.amount_fen")


def _check_contract(type_: str, b: dict[str, Any], s: State) -> None:
    if "milestone_id" in b:
        m = _milestone(s, b["milestone_id"])
    if type_ == "contract.countersigned":
        if s["countersigned"]:
            raise AlreadyExists("the contract is already countersigned")
    elif type_ == "payment.made":
        if b["payment_id"] in s["payments"]:
            raise AlreadyExists(f"payment {b['payment_id']!r} is already recorded")
        if b["purpose"] == "principal":
            total_owed = sum(owed_on_milestone(x) for x in s["milestones"].values())
            total_paid = s["unallocated_fen"] + sum(x["paid_fen"]
                                                    for x in s["milestones"].values())
            if total_paid + b["amount_fen"] > total_owed:
                raise RuleViolation("OVERPAYMENT", f"only {total_owed - total_paid} fen remain "
                                    "owed on this contract", field="body.amount_fen")
            if "milestone_id" in b:
                left = owed_on_milestone(m) - m["paid_fen"]
                if b["amount_fen"] > left:
                    raise RuleViolation("OVERPAYMENT", f"only {max(left, 0)} fen remain owed on "
                                        f"milestone {b['milestone_id']!r}",
                                        field="body.amount_fen")
    elif type_ == "payment.contested":
        if b["payment_id"] not in s["payments"]:
            raise RuleViolation("UNKNOWN_PAYMENT", f"payment {b['payment_id']!r} is not "
                                "recorded", field="body.payment_id")
    elif type_ == "milestone.disputed":
        if m["disputed_fen"]:
            raise RuleViolation("DISPUTE_OPEN", "a dispute on this milestone is still open",
                                field="body.milestone_id")
        left = owed_on_milestone(m) - m["paid_fen"]
        if b["disputed_fen"] > left:
            raise RuleViolation("DISPUTE_EXCEEDS_OUTSTANDING", f"only {max(left, 0)} fen are "
                                "outstanding on this milestone", field="body.disputed_fen")
    elif type_ == "dispute.resolved":
        if not m["disputed_fen"]:
            raise RuleViolation("NO_OPEN_DISPUTE", "no open dispute on this milestone",
                                field="body.milestone_id")
        if b["owed_fen"] > m["disputed_fen"]:
            raise RuleViolation("OWED_EXCEEDS_DISPUTED", f"owed_fen exceeds the disputed "
                                f"{m['disputed_fen']} fen", field="body.owed_fen")
    elif type_ == "contract.settlement_confirmed":
        if b["amount_fen"] > m["amount_fen"]:
            raise RuleViolation("SETTLEMENT_EXCEEDS_MILESTONE", "settlement exceeds the "
                                f"milestone amount {m['amount_fen']}", field="body.amount_fen")
    elif (type_ in ("receivable.confirmation_requested", "receivable.confirmed")
          and b["amount_fen"] > owed_on_milestone(m)):
        raise RuleViolation("RECEIVABLE_EXCEEDS_OWED", "amount exceeds what the milestone "
                            "owes", field="body.amount_fen")


def is_public_buyer(party: State | None) -> bool:
    return party is not None and party.get("kind") in PUBLIC_BUYER_KINDS
