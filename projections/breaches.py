"""Breach read model: one row per rule violation known at ``(as_of, at)``.

Rule ids and articles come from :mod:`projections.rules`. ``detected_on`` is the first
day of the violation. Rows of rules about a state of affairs (ARREARS,
COMPENSATION_OVERDUE) last while it lasts; rows about something that did not happen in
time (ACCEPTANCE_LATE, CONFIRMATION_LATE, COMPLAINT_UNANSWERED, OBLIGATION_MISSED) or
about terms and changes stay: doing it late does not erase the breach.
"""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from projections import rules
from projections.calendar import BusinessCalendar
from projections.commitments import (
    OVERDUE,
    CommitmentState,
    duty_statuses,
    obligation_statuses,
)
from projections.complaints import ComplaintState
from projections.contracts import (
    ContractState,
    MilestoneStatus,
    is_sme,
    lpr_at_signing,
    milestone_statuses,
    public_buyer_with_sme,
)
from projections.facts import Fact, Responsible, copy_responsible, evidence, in_prefix, visible
from projections.reference import Reference, ReferenceView
from projections.subjects import SubjectState, subject_visible
from projections.values import format_yuan, next_day, parse_date


class BreachRow(TypedDict):
    rule: str
    article: str
    subject_stream: str
    party: str
    responsible: Responsible | None
    detected_on: str
    detail: str
    evidence: list[str]


def _row(
    rule: str,
    *,
    subject_stream: str,
    party: str,
    responsible: Responsible | None,
    detected_on: date,
    detail: str,
    leaves: list[str],
) -> BreachRow:
    return {
        "rule": rule,
        "article": rules.article(rule),
        "subject_stream": subject_stream,
        "party": party,
        "responsible": None if responsible is None else copy_responsible(responsible),
        "detected_on": detected_on.isoformat(),
        "detail": detail,
        "evidence": leaves,
    }


def breach_rows(
    state: SubjectState, reference: Reference, as_of: date, at: int | None
) -> list[BreachRow]:
    """Every breach of one subject for ``(as_of, at)``, ordered by detected_on then rule."""
    if not subject_visible(state, as_of, at):
        return []
    view = reference.view(at)
    if state["kind"] == "contract":
        rows = contract_breaches(state, view, as_of, at)
    elif state["kind"] == "commitment":
        rows = commitment_breaches(state, view.calendar, as_of, at)
    else:
        rows = complaint_breaches(state, view.calendar, as_of, at)
    return sorted(rows, key=breach_sort_key)


def breach_sort_key(row: BreachRow) -> tuple[str, str, str, str]:
    return row["detected_on"], row["subject_stream"], row["rule"], row["detail"]


# -- contracts -------------------------------------------------------------


def contract_breaches(
    state: ContractState, view: ReferenceView, as_of: date, at: int | None
) -> list[BreachRow]:
    statuses = milestone_statuses(state, view, as_of, at)
    return [
        *contract_term_breaches(state, view),
        *arrears_breaches(state, statuses),
        *acceptance_breaches(state, statuses),
        *confirmation_breaches(state, view.calendar, as_of, at),
    ]


def _contract_row(
    state: ContractState, rule: str, detected_on: date, detail: str, leaves: list[str]
) -> BreachRow:
    return _row(
        rule,
        subject_stream=state["stream"],
        party=state["buyer"],
        responsible=state["responsible"],
        detected_on=detected_on,
        detail=detail,
        leaves=leaves,
    )


def _signed_leaf(state: ContractState | CommitmentState | ComplaintState) -> tuple[int, str]:
    return state["index"], state["hash"]


def contract_term_breaches(state: ContractState, view: ReferenceView) -> list[BreachRow]:
    """TERM_OVER_60 and RATE_BELOW_LPR, both detected on the signing date."""
    rows: list[BreachRow] = []
    signed_on = parse_date(state["on"])
    agreed_term = state["payment_term_days"]
    if (
        agreed_term is not None
        and agreed_term > rules.SME_PUBLIC_BUYER_TERM_CAP_DAYS
        and public_buyer_with_sme(state, view)
    ):
        buyer = view.party(state["buyer"])
        extra = [] if buyer is None else [(buyer["index"], buyer["hash"])]
        rows.append(
            _contract_row(
                state,
                rules.TERM_OVER_60,
                signed_on,
                f"contract {state['contract_id']}: agreed payment term {agreed_term} days "
                f"for an SME supplier ({state['supplier_scale']}); capped at "
                f"{rules.SME_PUBLIC_BUYER_TERM_CAP_DAYS}",
                evidence([], _signed_leaf(state), *extra),
            )
        )
    agreed_rate = state["late_interest_annual_bp"]
    lpr = lpr_at_signing(state, view)
    if (
        is_sme(state)
        and agreed_rate is not None
        and lpr is not None
        and agreed_rate < lpr["one_year_bp"]
    ):
        rows.append(
            _contract_row(
                state,
                rules.RATE_BELOW_LPR,
                signed_on,
                f"contract {state['contract_id']}: agreed late-interest rate "
                f"{agreed_rate} bp a year is below the one-year LPR of "
                f"{lpr['one_year_bp']} bp in force since {lpr['effective_on']}; "
                f"interest runs at the LPR",
                evidence([], _signed_leaf(state), (lpr["index"], lpr["hash"])),
            )
        )
    return rows


def arrears_breaches(state: ContractState, statuses: list[MilestoneStatus]) -> list[BreachRow]:
    rows = []
    for status in statuses:
        if status.days_overdue <= 0 or status.due is None:
            continue
        detected_on = status.first_overdue_day or next_day(status.due)
        rows.append(
            _contract_row(
                state,
                rules.ARREARS,
                detected_on,
                f"contract {state['contract_id']} milestone {status.milestone_id}: "
                f"{format_yuan(status.outstanding_fen)} yuan outstanding, due "
                f"{status.due.isoformat()}, {status.days_overdue} days overdue",
                evidence(status.evidence, _signed_leaf(state)),
            )
        )
    return rows


def acceptance_breaches(state: ContractState, statuses: list[MilestoneStatus]) -> list[BreachRow]:
    rows = []
    for status in statuses:
        late = status.late_acceptance
        if late is None:
            continue
        if late.acceptance is None:
            what = "no acceptance yet"
        else:
            what = f"accepted ({late.acceptance['result']}) on {late.acceptance['on']}"
        rows.append(
            _contract_row(
                state,
                rules.ACCEPTANCE_LATE,
                next_day(late.period_end),
                f"contract {state['contract_id']} milestone {late.milestone_id}: delivered "
                f"{late.delivery['on']}, acceptance period ended {late.period_end.isoformat()}, "
                f"{what}",
                evidence([late.delivery, late.acceptance], _signed_leaf(state)),
            )
        )
    return rows


def confirmation_breaches(
    state: ContractState, calendar: BusinessCalendar, as_of: date, at: int | None
) -> list[BreachRow]:
    """A confirmation request not answered by a ``receivable.confirmed`` of the same
    milestone, dated from the request to 30 days after it (a period)."""
    facts = visible(state["facts"], as_of.isoformat(), at)
    confirmations = [f for f in facts if f["type"] == "receivable.confirmed"]
    rows = []
    for request in facts:
        if request["type"] != "receivable.confirmation_requested":
            continue
        requested_on = parse_date(request["on"])
        deadline = calendar.period_end(requested_on, rules.CONFIRMATION_WINDOW_DAYS)
        if as_of <= deadline:
            continue
        answers = sorted(
            (
                c
                for c in confirmations
                if c["milestone_id"] == request["milestone_id"] and c["on"] >= request["on"]
            ),
            key=lambda c: (c["on"], c["index"]),
        )
        if answers and parse_date(answers[0]["on"]) <= deadline:
            continue
        late: Fact | None = answers[0] if answers else None
        what = "not confirmed" if late is None else f"confirmed late on {late['on']}"
        rows.append(
            _contract_row(
                state,
                rules.CONFIRMATION_LATE,
                next_day(deadline),
                f"contract {state['contract_id']} milestone {request['milestone_id']}: "
                f"confirmation of {format_yuan(request['amount_fen'])} yuan requested "
                f"{request['on']}, due by {deadline.isoformat()}, {what}",
                evidence([request, late]),
            )
        )
    return rows


# -- commitments -----------------------------------------------------------


def _commitment_row(
    state: CommitmentState, rule: str, detected_on: date, detail: str, leaves: list[str]
) -> BreachRow:
    return _row(
        rule,
        subject_stream=state["stream"],
        party=state["issuer"],
        responsible=state["responsible"],
        detected_on=detected_on,
        detail=detail,
        leaves=leaves,
    )


def commitment_breaches(
    state: CommitmentState, calendar: BusinessCalendar, as_of: date, at: int | None
) -> list[BreachRow]:
    facts = visible(state["facts"], as_of.isoformat(), at)
    rows = [*change_breaches(state, facts)]
    rows.extend(obligation_breaches(state, facts, as_of))
    known = [f for f in state["facts"] if in_prefix(f["index"], at)]
    for duty in duty_statuses(state, known, as_of, calendar):
        if duty.status != OVERDUE or duty.due_date is None:
            continue
        rows.append(
            _commitment_row(
                state,
                rules.COMPENSATION_OVERDUE,
                next_day(duty.due_date),
                f"compensation duty {duty.duty_id}: {format_yuan(duty.outstanding_fen or 0)} "
                f"yuan of {format_yuan(duty.amount_fen or 0)} unpaid, due "
                f"{duty.due_date.isoformat()}, {duty.days_overdue} days overdue",
                evidence([duty.change, duty.determination, *duty.payments]),
            )
        )
    return rows


def change_breaches(state: CommitmentState, facts: list[Fact]) -> list[BreachRow]:
    """The three change rules, detected on the change's ``effective_on``."""
    rows = []
    for change in facts:
        if change["type"] != "commitment.changed":
            continue
        effective_on = parse_date(change["on"])
        leaves = evidence([change], _signed_leaf(state))
        what = (
            f"commitment {state['commitment_id']} {change['action']} effective "
            f"{change['on']} (version {change['version']}), reason {change['reason']}"
        )
        if change["reason"] in rules.FORBIDDEN_CHANGE_REASONS:
            rows.append(
                _commitment_row(
                    state,
                    rules.CHANGE_FORBIDDEN_REASON,
                    effective_on,
                    f"{what}: not a lawful reason to change a commitment",
                    leaves,
                )
            )
        if change["reason"] in rules.COMPENSABLE_CHANGE_REASONS and change["consultation"] is None:
            rows.append(
                _commitment_row(
                    state,
                    rules.CHANGE_NO_CONSULTATION,
                    effective_on,
                    f"{what}: no consultation record",
                    leaves,
                )
            )
        missing = [name for name in ("legal_authority", "procedure_ref") if change[name] is None]
        if missing:
            rows.append(
                _commitment_row(
                    state,
                    rules.CHANGE_NO_LEGAL_BASIS,
                    effective_on,
                    f"{what}: missing {' and '.join(missing)}",
                    leaves,
                )
            )
    return rows


def obligation_breaches(state: CommitmentState, facts: list[Fact], as_of: date) -> list[BreachRow]:
    rows = []
    for entry in obligation_statuses(facts, state):
        if entry.cancelled_by is not None or entry.complete or as_of <= entry.due_date:
            continue
        obligation = entry.obligation
        amount = obligation["amount_fen"]
        if amount is None:
            what = "not fulfilled"
        else:
            what = f"{format_yuan(entry.fulfilled_fen)} of {format_yuan(amount)} yuan fulfilled"
        source = [] if entry.source is None else [entry.source]
        rows.append(
            _commitment_row(
                state,
                rules.OBLIGATION_MISSED,
                next_day(entry.due_date),
                f"commitment {state['commitment_id']} obligation "
                f"{obligation['obligation_id']} due {obligation['due_date']}: {what}",
                evidence([*source, *entry.fulfilments], _signed_leaf(state)),
            )
        )
    return rows


# -- complaints ------------------------------------------------------------


def complaint_breaches(
    state: ComplaintState, calendar: BusinessCalendar, as_of: date, at: int | None
) -> list[BreachRow]:
    filed_on = parse_date(state["on"])
    deadline = calendar.period_end(filed_on, rules.COMPLAINT_WINDOW_DAYS)
    if as_of <= deadline:
        return []
    answers = sorted(
        (
            f
            for f in visible(state["facts"], as_of.isoformat(), at)
            if f["type"] == "complaint.answered"
        ),
        key=lambda f: (f["on"], f["index"]),
    )
    if answers and parse_date(answers[0]["on"]) <= deadline:
        return []
    late = answers[0] if answers else None
    what = "no answer" if late is None else f"answered late on {late['on']}"
    return [
        _row(
            rules.COMPLAINT_UNANSWERED,
            subject_stream=state["stream"],
            party=state["against"],
            responsible=None,
            detected_on=next_day(deadline),
            detail=f"complaint {state['complaint_id']} ({state['complaint_kind']}) about "
            f"{state['subject_stream']} filed {state['on']}, answer due by "
            f"{deadline.isoformat()}: {what}",
            leaves=evidence([late], _signed_leaf(state)),
        )
    ]
