"""Accountability register (Hami Art. 64): who answers for each open breach.

One row per breach row of the subject (ARREARS included), with the responsible
department and official named by the contract or commitment (null for complaints)
and every ``accountability.recorded`` in that subject's stream known at ``(as_of, at)``.
"""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from projections.breaches import BreachRow, breach_rows
from projections.facts import Responsible, copy_responsible
from projections.reference import Reference
from projections.subjects import SubjectState, accountability_records


class AccountabilityEntry(TypedDict):
    responsible: Responsible
    finding: str
    action: str
    recorded_on: str
    evidence: str


class AccountabilityRow(TypedDict):
    rule: str
    article: str
    subject_stream: str
    party: str
    responsible: Responsible | None
    detected_on: str
    detail: str
    evidence: list[str]
    accountability: list[AccountabilityEntry]


def accountability_rows(
    state: SubjectState, reference: Reference, as_of: date, at: int | None
) -> list[AccountabilityRow]:
    breaches = breach_rows(state, reference, as_of, at)
    if not breaches:
        return []
    records: list[AccountabilityEntry] = [
        {
            "responsible": copy_responsible(fact["responsible"]),
            "finding": fact["finding"],
            "action": fact["action"],
            "recorded_on": fact["on"],
            "evidence": fact["hash"],
        }
        for fact in accountability_records(state, as_of, at)
    ]
    return [_with_records(row, records) for row in breaches]


def _with_records(row: BreachRow, records: list[AccountabilityEntry]) -> AccountabilityRow:
    return {
        "rule": row["rule"],
        "article": row["article"],
        "subject_stream": row["subject_stream"],
        "party": row["party"],
        "responsible": row["responsible"],
        "detected_on": row["detected_on"],
        "detail": row["detail"],
        "evidence": list(row["evidence"]),
        "accountability": [
            {**record, "responsible": copy_responsible(record["responsible"])} for record in records
        ],
    }
