"""Arrears read model: one row per milestone that is overdue or accrued late interest.

Hami Arts. 22, 64; SME Regulation Arts. 9, 10, 15, 17. Semantics in DESIGN 5 and 5.1;
the arithmetic lives in :mod:`projections.contracts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TypedDict

from projections.contracts import ContractState, MilestoneStatus, milestone_statuses
from projections.facts import Responsible, copy_responsible, evidence
from projections.reference import Reference
from projections.subjects import SubjectState, subject_visible

TOTAL_FIELDS = (
    "amount_fen",
    "paid_fen",
    "disputed_fen",
    "contested_fen",
    "outstanding_fen",
    "interest_fen",
    "interest_paid_fen",
)


class ArrearsRow(TypedDict):
    contract_id: str
    milestone_id: str
    payer: str
    payee: str
    due_date: str
    amount_fen: int
    paid_fen: int
    disputed_fen: int
    contested_fen: int
    outstanding_fen: int
    days_overdue: int
    interest_fen: int
    interest_paid_fen: int
    responsible: Responsible
    evidence: list[str]


def arrears_row(state: ContractState, status: MilestoneStatus) -> ArrearsRow | None:
    """The row of one milestone, or None when it is neither overdue nor accrued interest."""
    if status.due is None or (status.days_overdue <= 0 and status.interest_fen <= 0):
        return None
    return {
        "contract_id": state["contract_id"],
        "milestone_id": status.milestone_id,
        "payer": state["buyer"],
        "payee": state["supplier"],
        "due_date": status.due.isoformat(),
        "amount_fen": status.amount_fen,
        "paid_fen": status.paid_fen,
        "disputed_fen": status.disputed_fen,
        "contested_fen": status.contested_fen,
        "outstanding_fen": status.outstanding_fen,
        "days_overdue": status.days_overdue,
        "interest_fen": status.interest_fen,
        "interest_paid_fen": status.interest_paid_fen,
        "responsible": copy_responsible(state["responsible"]),
        "evidence": evidence(status.evidence, (state["index"], state["hash"])),
    }


def arrears_rows(
    state: SubjectState, reference: Reference, as_of: date, at: int | None
) -> list[ArrearsRow]:
    """Arrears rows of one subject for ``(as_of, at)``; empty for non-contract subjects."""
    if state["kind"] != "contract" or not subject_visible(state, as_of, at):
        return []
    rows = []
    for status in milestone_statuses(state, reference.view(at), as_of, at):
        row = arrears_row(state, status)
        if row is not None:
            rows.append(row)
    return rows


def arrears_totals(rows: Iterable[ArrearsRow]) -> dict[str, int]:
    """Totals add the rounded rows (DESIGN 5.1)."""
    totals = dict.fromkeys(("rows", *TOTAL_FIELDS), 0)
    for row in rows:
        totals["rows"] += 1
        for name in TOTAL_FIELDS:
            value = row.get(name)
            totals[name] += value if isinstance(value, int) else 0
    return totals
