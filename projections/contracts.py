"""Contract subjects: the fold of one ``contract/<id>`` stream and its milestone arithmetic.

The fold (:func:`apply_contract`) keeps the contract's terms and one normalized fact
per later event. Everything else is computed at query time from the facts visible at
``(as_of, at)``: the start of each payment term, the due date, the outstanding balance
day by day, and the late interest (DESIGN 5 and 5.1).

The one decision taken at fold time is the allocation of a principal payment: one
without ``milestone_id``, and the part of one naming a milestone that earlier payments
without it already paid, is allocated once, when recorded, against the milestones as
known on its ``paid_on`` (with the reference data known at that leaf), and the
allocation is kept in the fact, so later events never move it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Final, Literal, TypedDict

from ledger.records import LoggedEvent
from projections.calendar import BusinessCalendar
from projections.facts import (
    Fact,
    Responsible,
    accountability_fact,
    new_fact,
    plain_fact,
    responsible_of,
    visible,
)
from projections.reference import LprEntry, Reference, ReferenceView
from projections.rules import (
    BASIS_POINTS,
    DAYS_PER_YEAR,
    DEFAULT_PAYMENT_TERM_DAYS,
    PUBLIC_BUYER_KINDS,
    SME_DEFAULT_DAILY_RATE_PER_10000,
    SME_PUBLIC_BUYER_TERM_CAP_DAYS,
    SME_SCALES,
)
from projections.values import next_day, parse_date, round_half_up

KIND: Final = "contract"


class Milestone(TypedDict):
    milestone_id: str
    amount_fen: int


class ContractState(TypedDict):
    kind: Literal["contract"]
    stream: str
    index: int
    hash: str
    on: str
    contract_id: str
    buyer: str
    supplier: str
    supplier_scale: str
    value_fen: int
    payment_basis: str
    payment_term_days: int | None
    acceptance_period_days: int | None
    late_interest_annual_bp: int | None
    document_sha256: str
    responsible: Responsible
    milestones: list[Milestone]
    # Whether a principal payment naming no milestone has been folded: only then can a
    # payment naming one find part of its milestone already paid (see allocate_payment).
    # Derived from the facts, like last_index (projections.store.join_state).
    unallocated_principal: bool
    facts: list[Fact]
    last_index: int


# -- fold ------------------------------------------------------------------


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def new_contract(event: LoggedEvent) -> ContractState:
    body = event.body
    return {
        "kind": KIND,
        "stream": event.stream,
        "index": event.index,
        "hash": event.leaf_hash.hex(),
        "on": str(body["signed_on"]),
        "contract_id": str(body["contract_id"]),
        "buyer": str(body["buyer"]),
        "supplier": str(body["supplier"]),
        "supplier_scale": str(body["supplier_scale_at_signing"]),
        "value_fen": int(body["value_fen"]),
        "payment_basis": str(body["payment_basis"]),
        "payment_term_days": _optional_int(body.get("payment_term_days")),
        "acceptance_period_days": _optional_int(body.get("acceptance_period_days")),
        "late_interest_annual_bp": _optional_int(body.get("late_interest_annual_bp")),
        "document_sha256": str(body["document_sha256"]),
        "responsible": responsible_of(body),
        "milestones": [
            {"milestone_id": str(m["milestone_id"]), "amount_fen": int(m["amount_fen"])}
            for m in body["milestones"]
        ],
        "unallocated_principal": False,
        "facts": [],
        "last_index": event.index,
    }


def apply_contract(
    state: ContractState | None, event: LoggedEvent, reference: Reference
) -> ContractState | None:
    """Fold one event of a contract stream into its state (updated in place and returned).

    ``reference`` must be the reference fold as of this event (all reference events
    with a smaller leaf index); it is consulted only to allocate a payment that names
    no milestone.
    """
    if state is not None and event.index <= state["last_index"]:
        return state  # already folded: applying is idempotent
    if event.type == "contract.signed":
        return state if state is not None else new_contract(event)
    if state is None:
        return None
    state["last_index"] = event.index
    fact = _contract_fact(state, event, reference)
    if fact is not None:
        state["facts"].append(fact)
    return state


# event type -> (field holding the business date or None, fields kept as they are)
_PLAIN_FACTS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "contract.countersigned": (None, ("party_id",)),
    "contract.delivered": ("delivered_on", ("milestone_id",)),
    "contract.accepted": ("accepted_on", ("milestone_id", "result")),
    "contract.settlement_confirmed": ("confirmed_on", ("milestone_id", "amount_fen")),
    "milestone.disputed": ("raised_on", ("milestone_id", "disputed_fen")),
    "dispute.resolved": ("resolved_on", ("milestone_id", "owed_fen")),
    "payment.contested": (None, ("payment_id",)),
    "receivable.confirmation_requested": ("requested_on", ("milestone_id", "amount_fen")),
    "receivable.confirmed": ("confirmed_on", ("milestone_id", "amount_fen")),
    "contract.amended": (None, ("reason",)),
    "contract.terminated": ("on", ("reason",)),
}


def _contract_fact(state: ContractState, event: LoggedEvent, reference: Reference) -> Fact | None:
    if event.type == "payment.made":
        return _payment_fact(state, event, reference)
    if event.type == "accountability.recorded":
        return accountability_fact(event)
    plain = _PLAIN_FACTS.get(event.type)
    if plain is None:
        return None
    date_field, names = plain
    return plain_fact(event, date_field, names)


def _payment_fact(state: ContractState, event: LoggedEvent, reference: Reference) -> Fact:
    body = event.body
    amount = int(body["amount_fen"])
    purpose = str(body["purpose"])
    milestone_id = body.get("milestone_id")
    unallocated = 0
    if milestone_id is not None and (purpose != "principal"
                                     or not state["unallocated_principal"]):
        # Without a principal payment that named no milestone, the domain's check keeps
        # this one within what its milestone still owes: nothing to spill, and the fold
        # stays one step per payment (allocating walks the contract's facts).
        allocation: list[list[str | int]] = [[str(milestone_id), amount]]
    else:
        if milestone_id is None and purpose == "principal":
            state["unallocated_principal"] = True
        allocation, unallocated = allocate_payment(
            state, reference.view(event.index), parse_date(str(body["paid_on"])), amount,
            purpose, None if milestone_id is None else str(milestone_id),
        )
    return new_fact(
        event,
        str(body["paid_on"]),
        payment_id=str(body["payment_id"]),
        milestone_id=None if milestone_id is None else str(milestone_id),
        amount_fen=amount,
        purpose=purpose,
        method=str(body.get("method", "")),
        allocation=allocation,
        unallocated_fen=unallocated,
    )


def has_unallocated_principal(facts: Iterable[Fact]) -> bool:
    """Whether ``facts`` hold a principal payment that named no milestone."""
    return any(f["type"] == "payment.made" and f["milestone_id"] is None
               and f["purpose"] == "principal" for f in facts)


def allocate_payment(
    state: ContractState, view: ReferenceView, paid_on: date, amount: int, purpose: str,
    named: str | None = None,
) -> tuple[list[list[str | int]], int]:
    """Allocate a payment; returns ``(allocation, left over)``.

    Order: milestones whose due date is known on ``paid_on`` by due date, then the
    others in contract order. Principal fills first the undisputed unpaid part of each
    milestone in that order, then the disputed parts; anything beyond (the domain
    refuses such a payment) stays unallocated. Interest fills the interest accrued up
    to ``paid_on`` and not yet paid; the rest goes to the first milestone in the order.

    A principal payment ``named`` for a milestone fills that milestone's unpaid part
    first. The domain keeps it within what the milestone owes less the payments that
    named it, but cannot see where earlier payments without a milestone were allocated
    (that needs the due dates): what the milestone no longer owes because of them is
    allocated as a payment without a milestone would be, so that money paid is never
    counted twice against one milestone while another is shown owing it.
    """
    statuses = milestone_statuses(state, view, paid_on, None)
    order = sorted(
        statuses,
        key=lambda s: (0, s.due, s.position) if s.due is not None else (1, date.max, s.position),
    )
    taken: dict[str, int] = {}
    remaining = amount
    if purpose == "principal":
        before = _allocated_before(state, "principal")
        unpaid = {
            s.milestone_id: s.amount_fen - s.written_off_fen - before.get(s.milestone_id, 0)
            for s in order
        }
        rooms = [
            {s.milestone_id: max(0, unpaid[s.milestone_id] - s.disputed_fen) for s in order},
            {s.milestone_id: max(0, unpaid[s.milestone_id]) for s in order},
        ]
        if named is not None:
            share = min(remaining, max(0, unpaid.get(named, 0)))
            taken[named] = share
            remaining -= share
        for room in rooms:
            for status in order:
                mid = status.milestone_id
                share = min(remaining, room[mid] - taken.get(mid, 0))
                if share > 0:
                    taken[mid] = taken.get(mid, 0) + share
                    remaining -= share
    else:
        before = _allocated_before(state, purpose)
        for status in order:
            mid = status.milestone_id
            share = min(remaining, max(0, status.interest_fen - before.get(mid, 0)))
            if share > 0:
                taken[mid] = share
                remaining -= share
        if remaining > 0 and order:
            first = order[0].milestone_id
            taken[first] = taken.get(first, 0) + remaining
            remaining = 0
    if named is not None and remaining > 0:
        # Beyond what the whole contract owes (refused by the domain): stays on the
        # milestone the payment names, as it always did.
        taken[named] = taken.get(named, 0) + remaining
        remaining = 0
    allocation: list[list[str | int]] = [
        [s.milestone_id, taken[s.milestone_id]] for s in order if taken.get(s.milestone_id)
    ]
    if named is not None and named not in {s.milestone_id for s in order}:
        allocation.append([named, taken[named]])
    return allocation, remaining


def _allocated_before(state: ContractState, purpose: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for fact in state["facts"]:
        if fact["type"] == "payment.made" and fact["purpose"] == purpose:
            for milestone_id, fen in fact["allocation"]:
                totals[milestone_id] = totals.get(milestone_id, 0) + fen
    return totals


# -- terms -----------------------------------------------------------------


def is_sme(state: ContractState) -> bool:
    return state["supplier_scale"] in SME_SCALES


def public_buyer_with_sme(state: ContractState, view: ReferenceView) -> bool:
    return view.party_kind(state["buyer"]) in PUBLIC_BUYER_KINDS and is_sme(state)


def payment_term_days(state: ContractState, view: ReferenceView) -> int:
    """Agreed term, else 30; capped at 60 for a government/public buyer and SME supplier."""
    agreed = state["payment_term_days"]
    days = DEFAULT_PAYMENT_TERM_DAYS if agreed is None else agreed
    if public_buyer_with_sme(state, view):
        days = min(days, SME_PUBLIC_BUYER_TERM_CAP_DAYS)
    return days


def lpr_at_signing(state: ContractState, view: ReferenceView) -> LprEntry | None:
    return view.lpr_on(parse_date(state["on"]))


def daily_rate(
    state: ContractState, view: ReferenceView
) -> tuple[Fraction | None, LprEntry | None]:
    """Late interest per fen per day, and the LPR publication it rests on (if any).

    SME supplier: 5/10000 without an agreed rate, else max(agreed, LPR at signing)/365.
    Large supplier: agreed/365, else LPR at signing/365, else no interest (``None``).
    """
    agreed = state["late_interest_annual_bp"]
    lpr = lpr_at_signing(state, view)
    per_year = BASIS_POINTS * DAYS_PER_YEAR
    if is_sme(state):
        if agreed is None:
            return Fraction(SME_DEFAULT_DAILY_RATE_PER_10000, BASIS_POINTS), None
        if lpr is not None and lpr["one_year_bp"] > agreed:
            return Fraction(lpr["one_year_bp"], per_year), lpr
        return Fraction(agreed, per_year), None
    if agreed is not None:
        return Fraction(agreed, per_year), None
    if lpr is not None:
        return Fraction(lpr["one_year_bp"], per_year), lpr
    return None, None


# -- milestones at (as_of, at) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class LateAcceptance:
    """An acceptance period that ended without an acceptance in time."""

    milestone_id: str
    period_end: date
    delivery: Fact
    acceptance: Fact | None


@dataclass(frozen=True, slots=True)
class AcceptanceOutcome:
    start: date | None
    evidence: list[Fact]
    late: LateAcceptance | None


@dataclass(slots=True)
class MilestoneStatus:
    milestone_id: str
    position: int
    amount_fen: int
    start: date | None = None
    due: date | None = None
    paid_fen: int = 0
    interest_paid_fen: int = 0
    disputed_fen: int = 0
    written_off_fen: int = 0
    contested_fen: int = 0
    outstanding_fen: int = 0
    days_overdue: int = 0
    interest: Fraction = Fraction(0)
    first_overdue_day: date | None = None
    evidence: list[Fact] = field(default_factory=list)
    late_acceptance: LateAcceptance | None = None

    @property
    def interest_fen(self) -> int:
        return round_half_up(self.interest)


def acceptance_outcome(
    milestone_id: str,
    facts: Iterable[Fact],
    period_days: int | None,
    calendar: BusinessCalendar,
    as_of: date,
) -> AcceptanceOutcome:
    """Where acceptance starts the payment term, and whether acceptance was late.

    A delivery opens an acceptance period (``delivered_on`` + ``period_days``). A passed
    acceptance within it starts the term on ``accepted_on``; an acceptance (passed or
    failed) after its end, or none by ``as_of``, starts the term at the period end and is
    late. A failed acceptance within the period starts nothing; the next delivery opens
    a new period. A delivery while a period is running does not restart it. Without an
    agreed period there is no cap and nothing is late.

    Deliveries and acceptances are taken in the order of their dates (a delivery before
    an acceptance of the same day, then log order), not of the log: an acceptance
    recorded before the delivery it follows must not escape the cap.
    """
    pending: Fact | None = None
    period_end: date | None = None
    steps = sorted(
        (f for f in facts if f["type"] in ("contract.delivered", "contract.accepted")),
        key=lambda f: (f["on"], f["type"] != "contract.delivered", f["index"]),
    )
    for fact in steps:
        if fact["type"] == "contract.delivered":
            if pending is None:
                pending = fact
                if period_days is not None:
                    period_end = calendar.period_end(parse_date(fact["on"]), period_days)
        elif fact["type"] == "contract.accepted":
            accepted_on = parse_date(fact["on"])
            passed = fact["result"] == "passed"
            if pending is None:
                if passed:
                    return AcceptanceOutcome(accepted_on, [fact], None)
                continue
            if period_end is not None and accepted_on > period_end:
                late = LateAcceptance(milestone_id, period_end, pending, fact)
                return AcceptanceOutcome(period_end, [pending, fact], late)
            if passed:
                return AcceptanceOutcome(accepted_on, [pending, fact], None)
            pending, period_end = None, None
    if pending is not None and period_end is not None and as_of > period_end:
        late = LateAcceptance(milestone_id, period_end, pending, None)
        return AcceptanceOutcome(period_end, [pending], late)
    return AcceptanceOutcome(None, [], None)


@dataclass(frozen=True, slots=True)
class _Terms:
    """What every milestone of one contract is computed with, at one ``as_of``."""

    basis: str
    acceptance_period_days: int | None
    calendar: BusinessCalendar
    term_days: int
    rate: Fraction | None
    as_of: date
    contested: dict[str, Fact]


def milestone_statuses(
    state: ContractState, view: ReferenceView, as_of: date, at: int | None
) -> list[MilestoneStatus]:
    """Every milestone of the contract as of ``as_of``, from facts below leaf ``at``."""
    facts = visible(state["facts"], as_of.isoformat(), at)
    by_milestone: dict[str, list[Fact]] = {m["milestone_id"]: [] for m in state["milestones"]}
    payment_ids: set[str] = set()
    contests: list[Fact] = []
    for fact in facts:
        if fact["type"] == "payment.made":
            payment_ids.add(fact["payment_id"])
            for milestone_id in {entry[0] for entry in fact["allocation"]}:
                if milestone_id in by_milestone:
                    by_milestone[milestone_id].append(fact)
        elif fact["type"] == "payment.contested":
            contests.append(fact)
        elif fact.get("milestone_id") in by_milestone:
            by_milestone[fact["milestone_id"]].append(fact)
    contested: dict[str, Fact] = {}
    for contest in contests:
        if contest["payment_id"] in payment_ids:
            contested.setdefault(contest["payment_id"], contest)
    terms = _Terms(
        basis=state["payment_basis"],
        acceptance_period_days=state["acceptance_period_days"],
        calendar=view.calendar,
        term_days=payment_term_days(state, view),
        rate=daily_rate(state, view)[0],
        as_of=as_of,
        contested=contested,
    )
    statuses = []
    for position, milestone in enumerate(state["milestones"]):
        status = MilestoneStatus(milestone["milestone_id"], position, milestone["amount_fen"])
        facts_of_milestone = by_milestone[status.milestone_id]
        start_evidence = _start_term(status, facts_of_milestone, terms)
        deltas, counted = _balance(status, facts_of_milestone, terms)
        status.evidence = [*start_evidence, *counted]
        _overdue(status, deltas, terms)
        statuses.append(status)
    return statuses


def _start_term(status: MilestoneStatus, facts: list[Fact], terms: _Terms) -> list[Fact]:
    """Set start, owed amount and due date per the payment basis; returns the evidence."""
    outcome = acceptance_outcome(
        status.milestone_id, facts, terms.acceptance_period_days, terms.calendar, terms.as_of
    )
    status.late_acceptance = outcome.late
    evidence: list[Fact] = []
    if terms.basis == "acceptance":
        status.start = outcome.start
        evidence = outcome.evidence
    elif terms.basis == "delivery":
        deliveries = [f for f in facts if f["type"] == "contract.delivered"]
        if deliveries:
            first = min(deliveries, key=lambda f: (f["on"], f["index"]))
            status.start = parse_date(first["on"])
            evidence = [first]
    elif terms.basis == "settlement":
        settlements = [f for f in facts if f["type"] == "contract.settlement_confirmed"]
        if settlements:
            status.amount_fen = settlements[-1]["amount_fen"]
            status.start = parse_date(min(f["on"] for f in settlements))
            evidence = settlements
    if status.start is not None:
        status.due = terms.calendar.period_end(status.start, terms.term_days)
    return evidence


def _balance(
    status: MilestoneStatus, facts: list[Fact], terms: _Terms
) -> tuple[list[tuple[date, int]], list[Fact]]:
    """Payments, disputes and resolutions of one milestone.

    Returns the changes to the outstanding balance, each effective from a day (the day
    after the event's date): principal payments and disputes reduce it, a resolution
    restores the owed part of what was disputed. Also returns the facts counted.
    """
    deltas: list[tuple[date, int]] = []
    open_disputes: list[int] = []
    counted: list[Fact] = []
    for fact in facts:
        kind = fact["type"]
        effective = next_day(parse_date(fact["on"]))
        if kind == "payment.made":
            share = sum(fen for mid, fen in fact["allocation"] if mid == status.milestone_id)
            if fact["purpose"] == "principal":
                status.paid_fen += share
                deltas.append((effective, -share))
            else:
                status.interest_paid_fen += share
            contest = terms.contested.get(fact["payment_id"])
            if contest is not None:
                status.contested_fen += share
                counted.append(contest)
            counted.append(fact)
        elif kind == "milestone.disputed":
            open_disputes.append(fact["disputed_fen"])
            deltas.append((effective, -fact["disputed_fen"]))
            counted.append(fact)
        elif kind == "dispute.resolved":
            disputed = sum(open_disputes)
            owed = min(fact["owed_fen"], disputed)
            deltas.append((effective, owed))
            status.written_off_fen += disputed - owed
            open_disputes = []
            counted.append(fact)
    status.disputed_fen = sum(open_disputes)
    status.outstanding_fen = max(0, status.amount_fen + sum(d for _, d in deltas))
    return deltas, counted


def _overdue(status: MilestoneStatus, deltas: list[tuple[date, int]], terms: _Terms) -> None:
    """Days overdue, the first overdue day and the exact interest, from due + 1 to as_of."""
    due, as_of = status.due, terms.as_of
    if due is None or as_of <= due:
        return
    if status.outstanding_fen > 0:
        status.days_overdue = (as_of - due).days
    fen_days, first_day = overdue_fen_days(status.amount_fen, deltas, next_day(due), as_of)
    status.first_overdue_day = first_day
    if terms.rate is not None:
        status.interest = terms.rate * fen_days


def overdue_fen_days(
    amount: int, deltas: list[tuple[date, int]], first: date, last: date
) -> tuple[int, date | None]:
    """Sum of each day's outstanding over ``first..last`` and the first day it was > 0."""
    level = amount + sum(d for day, d in deltas if day <= first)
    later = sorted((day, d) for day, d in deltas if day > first)
    total = 0
    first_positive: date | None = None
    cursor = first
    for day, change in [*later, (next_day(last), 0)]:
        days = (min(day, next_day(last)) - cursor).days
        if days > 0 and level > 0:
            total += level * days
            if first_positive is None:
                first_positive = cursor
        if day > last:
            break
        cursor = max(cursor, day)
        level += change
    return total, first_positive


def contract_visible(state: ContractState, as_of: date, at: int | None) -> bool:
    """A contract counts once signed (``signed_on <= as_of``) and recorded below ``at``."""
    return (at is None or state["index"] < at) and state["on"] <= as_of.isoformat()
