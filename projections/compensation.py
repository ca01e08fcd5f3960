"""Compensation read model: duties opened by changes for public or national interest.

Hami Arts. 9, 20: a change for the national or public interest is compensated. Until
``compensation.determined`` binds it, a duty carries its provisional name
``<commitment_id>/change-<stream version>`` and no amount or due date (null).
"""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from projections.commitments import duty_statuses
from projections.facts import in_prefix
from projections.reference import Reference
from projections.subjects import SubjectState, subject_visible


class CompensationRow(TypedDict):
    duty_id: str
    cause: str
    beneficiary: str
    amount_fen: int | None
    due_date: str | None
    paid_fen: int
    outstanding_fen: int | None
    days_overdue: int
    status: str


def compensation_rows(
    state: SubjectState, reference: Reference, as_of: date, at: int | None
) -> list[CompensationRow]:
    """Compensation duties of one subject for ``(as_of, at)``, in the order they arose."""
    if state["kind"] != "commitment" or not subject_visible(state, as_of, at):
        return []
    known = [fact for fact in state["facts"] if in_prefix(fact["index"], at)]
    return [
        {
            "duty_id": duty.duty_id,
            "cause": duty.cause,
            "beneficiary": duty.beneficiary,
            "amount_fen": duty.amount_fen,
            "due_date": None if duty.due_date is None else duty.due_date.isoformat(),
            "paid_fen": duty.paid_fen,
            "outstanding_fen": duty.outstanding_fen,
            "days_overdue": duty.days_overdue,
            "status": duty.status,
        }
        for duty in duty_statuses(state, known, as_of, reference.view(at).calendar)
    ]
