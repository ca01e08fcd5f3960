"""Commitment subjects: the fold of one ``commitment/<id>`` stream.

Obligations, changes and compensation duties are evaluated at query time from the
facts visible at ``(as_of, at)``. The one decision taken at fold time is which duty a
``compensation.determined`` binds: the earliest duty of that beneficiary, opened by a
change for public or national interest, that no earlier determination has bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal, TypedDict

from ledger.records import LoggedEvent
from projections.calendar import BusinessCalendar
from projections.facts import (
    Fact,
    Responsible,
    accountability_fact,
    new_fact,
    plain_fact,
    responsible_of,
)
from projections.rules import COMPENSABLE_CHANGE_REASONS, DETERMINATION_WINDOW_DAYS
from projections.values import business_date_of, parse_date

KIND: Final = "commitment"

AWAITING_DETERMINATION = "awaiting_determination"
UNDETERMINED = "undetermined"
OPEN = "open"
OVERDUE = "overdue"
PAID = "paid"


class Obligation(TypedDict):
    obligation_id: str
    description: str
    amount_fen: int | None
    due_date: str


class CommitmentState(TypedDict):
    kind: Literal["commitment"]
    stream: str
    index: int
    hash: str
    on: str
    commitment_id: str
    issuer: str
    beneficiary: str
    title: str
    commitment_kind: str
    document_sha256: str
    legal_basis: str
    responsible: Responsible
    obligations: list[Obligation]
    facts: list[Fact]
    last_index: int


def _obligations(items: list[dict[str, Any]]) -> list[Obligation]:
    return [
        {
            "obligation_id": str(item["obligation_id"]),
            "description": str(item.get("description", "")),
            "amount_fen": int(item["amount_fen"]) if "amount_fen" in item else None,
            "due_date": str(item["due_date"]),
        }
        for item in items
    ]


def new_commitment(event: LoggedEvent) -> CommitmentState:
    body = event.body
    return {
        "kind": KIND,
        "stream": event.stream,
        "index": event.index,
        "hash": event.leaf_hash.hex(),
        "on": business_date_of(event.recorded_at),
        "commitment_id": str(body["commitment_id"]),
        "issuer": str(body["issuer"]),
        "beneficiary": str(body["beneficiary"]),
        "title": str(body.get("title", "")),
        "commitment_kind": str(body.get("kind", "")),
        "document_sha256": str(body["document_sha256"]),
        "legal_basis": str(body.get("legal_basis", "")),
        "responsible": responsible_of(body),
        "obligations": _obligations(list(body.get("obligations", []))),
        "facts": [],
        "last_index": event.index,
    }


def apply_commitment(state: CommitmentState | None, event: LoggedEvent) -> CommitmentState | None:
    """Fold one event of a commitment stream into its state (updated in place and returned)."""
    if state is not None and event.index <= state["last_index"]:
        return state  # already folded: applying is idempotent
    if event.type == "commitment.made":
        return state if state is not None else new_commitment(event)
    if state is None:
        return None
    state["last_index"] = event.index
    fact = _commitment_fact(state, event)
    if fact is not None:
        state["facts"].append(fact)
    return state


def _commitment_fact(state: CommitmentState, event: LoggedEvent) -> Fact | None:
    body = event.body
    kind = event.type
    if kind == "commitment.changed":
        return _change_fact(state, event)
    if kind == "compensation.determined":
        beneficiary = str(body["beneficiary"])
        return new_fact(
            event,
            duty_id=str(body["duty_id"]),
            beneficiary=beneficiary,
            amount_fen=int(body["amount_fen"]),
            due_date=str(body["due_date"]),
            binds=_pending_duty(state, beneficiary),
        )
    if kind == "commitment.obligation_fulfilled":
        return new_fact(
            event,
            str(body["fulfilled_on"]),
            obligation_id=str(body["obligation_id"]),
            amount_fen=int(body["amount_fen"]) if "amount_fen" in body else None,
        )
    if kind == "accountability.recorded":
        return accountability_fact(event)
    plain = _PLAIN_FACTS.get(kind)
    return None if plain is None else plain_fact(event, *plain)


_PLAIN_FACTS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "commitment.acknowledged": (None, ("party_id",)),
    "compensation.paid": ("paid_on", ("duty_id", "amount_fen")),
}


def _change_fact(state: CommitmentState, event: LoggedEvent) -> Fact:
    body = event.body
    reason = str(body["reason"])
    consultation = body.get("consultation")
    new_obligations = body.get("new_obligations")
    duty = None
    if reason in COMPENSABLE_CHANGE_REASONS:
        duty = f"{state['commitment_id']}/change-{event.version}"
    return new_fact(
        event,
        str(body["effective_on"]),
        version=event.version,
        action=str(body["action"]),
        reason=reason,
        legal_authority=_optional_str(body.get("legal_authority")),
        procedure_ref=_optional_str(body.get("procedure_ref")),
        consultation=None
        if consultation is None
        else {
            "held_on": str(consultation["held_on"]),
            "record_sha256": str(consultation["record_sha256"]),
        },
        new_obligations=None if new_obligations is None else _obligations(new_obligations),
        duty=duty,
    )


def _optional_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _pending_duty(state: CommitmentState, beneficiary: str) -> str | None:
    """The earliest change duty of ``beneficiary`` that no determination has bound yet."""
    if beneficiary != state["beneficiary"]:
        return None
    bound = {f["binds"] for f in state["facts"] if f["type"] == "compensation.determined"}
    for fact in state["facts"]:
        if fact["type"] == "commitment.changed" and fact["duty"] and fact["duty"] not in bound:
            return str(fact["duty"])
    return None


def commitment_visible(state: CommitmentState, as_of: date, at: int | None) -> bool:
    return (at is None or state["index"] < at) and state["on"] <= as_of.isoformat()


# -- obligations -----------------------------------------------------------


@dataclass(slots=True)
class ObligationStatus:
    obligation: Obligation
    source: Fact | None  # the change that introduced it; None for commitment.made
    due_date: date
    cancelled_by: Fact | None = None
    fulfilments: list[Fact] = field(default_factory=list)
    fulfilled_fen: int = 0
    complete: bool = False


def obligation_statuses(facts: list[Fact], state: CommitmentState) -> list[ObligationStatus]:
    """Obligations with cancellations and fulfilments applied (``facts`` already visible).

    A withdrawal effective on or before an obligation's due date cancels it. An amendment
    with ``new_obligations`` does the same to the obligations still due on or after its
    ``effective_on`` and adds the new ones. A fulfilment counts when dated on or before
    the due date; amounts add up, and a fulfilment that states no amount fulfils the
    whole obligation. Fulfilments are matched by ``obligation_id``.
    """
    entries = [
        ObligationStatus(obligation, None, parse_date(obligation["due_date"]))
        for obligation in state["obligations"]
    ]
    for fact in facts:
        if fact["type"] != "commitment.changed":
            continue
        replaces = fact["action"] == "withdraw" or fact["new_obligations"] is not None
        if not replaces:
            continue
        effective_on = parse_date(fact["on"])
        for entry in entries:
            if entry.cancelled_by is None and effective_on <= entry.due_date:
                entry.cancelled_by = fact
        if fact["action"] != "withdraw":
            entries.extend(
                ObligationStatus(obligation, fact, parse_date(obligation["due_date"]))
                for obligation in fact["new_obligations"]
            )
    fulfilments = [f for f in facts if f["type"] == "commitment.obligation_fulfilled"]
    for entry in entries:
        _fulfil(entry, fulfilments)
    return entries


def _fulfil(entry: ObligationStatus, fulfilments: list[Fact]) -> None:
    """Add up the fulfilments of ``entry`` dated on or before its due date."""
    whole = False
    for fulfilment in fulfilments:
        if fulfilment["obligation_id"] != entry.obligation["obligation_id"]:
            continue
        if parse_date(fulfilment["on"]) > entry.due_date:
            continue
        entry.fulfilments.append(fulfilment)
        if fulfilment["amount_fen"] is None:
            whole = True
        else:
            entry.fulfilled_fen += fulfilment["amount_fen"]
    amount = entry.obligation["amount_fen"]
    if amount is None:
        entry.complete = bool(entry.fulfilments)
    else:
        entry.complete = whole or entry.fulfilled_fen >= amount


# -- compensation duties ---------------------------------------------------


@dataclass(slots=True)
class DutyStatus:
    duty_id: str
    cause: str
    beneficiary: str
    status: str
    amount_fen: int | None = None
    due_date: date | None = None
    paid_fen: int = 0
    outstanding_fen: int | None = None
    days_overdue: int = 0
    change: Fact | None = None
    determination: Fact | None = None
    payments: list[Fact] = field(default_factory=list)


def duty_statuses(
    state: CommitmentState,
    all_facts: list[Fact],
    as_of: date,
    calendar: BusinessCalendar,
) -> list[DutyStatus]:
    """Compensation duties as of ``as_of``; ``all_facts`` are the facts below ``at``.

    A duty exists once its change is effective or its determination counts (recorded
    on or before ``as_of``). Until determined it keeps its provisional name and is
    ``awaiting_determination``, then ``undetermined`` after the 90-day period from
    ``effective_on``. Determined: ``paid`` when fully paid, ``overdue`` after its
    ``due_date``, else ``open``. Payments are matched by either name of the duty.
    """
    as_of_iso = as_of.isoformat()
    payments = [f for f in all_facts if f["type"] == "compensation.paid" and f["on"] <= as_of_iso]
    result: list[DutyStatus] = []
    for change, determination in _duties(all_facts):
        change_counts = change is not None and change["on"] <= as_of_iso
        determined = determination is not None and determination["on"] <= as_of_iso
        if not (change_counts or determined):
            continue
        names = set()
        if change is not None:
            names.add(change["duty"])
        if determination is not None:
            names.add(determination["duty_id"])
        status = DutyStatus(
            duty_id="",
            cause=state["stream"],
            beneficiary=state["beneficiary"],
            status=AWAITING_DETERMINATION,
            change=change,
            payments=[p for p in payments if p["duty_id"] in names],
        )
        status.paid_fen = sum(p["amount_fen"] for p in status.payments)
        if determined and determination is not None:
            _determined(status, determination, as_of)
        elif change is not None:
            status.duty_id = change["duty"]
            window_end = calendar.period_end(parse_date(change["on"]), DETERMINATION_WINDOW_DAYS)
            status.status = UNDETERMINED if as_of > window_end else AWAITING_DETERMINATION
        result.append(status)
    return result


def _duties(all_facts: list[Fact]) -> list[tuple[Fact | None, Fact | None]]:
    """(opening change, binding determination) pairs, in the order the duties arose."""
    determinations = {
        f["binds"]: f
        for f in all_facts
        if f["type"] == "compensation.determined" and f["binds"] is not None
    }
    duties: list[tuple[Fact | None, Fact | None]] = []
    for fact in all_facts:
        if fact["type"] == "commitment.changed" and fact["duty"]:
            duties.append((fact, determinations.get(fact["duty"])))
        elif fact["type"] == "compensation.determined" and fact["binds"] is None:
            duties.append((None, fact))
    return duties


def _determined(status: DutyStatus, determination: Fact, as_of: date) -> None:
    status.determination = determination
    status.duty_id = determination["duty_id"]
    status.beneficiary = determination["beneficiary"]
    status.amount_fen = determination["amount_fen"]
    status.due_date = parse_date(determination["due_date"])
    status.outstanding_fen = max(0, determination["amount_fen"] - status.paid_fen)
    if status.outstanding_fen == 0:
        status.status = PAID
    elif as_of > status.due_date:
        status.status = OVERDUE
        status.days_overdue = (as_of - status.due_date).days
    else:
        status.status = OPEN
