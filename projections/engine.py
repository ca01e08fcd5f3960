"""The projection engine: fold a log, answer every read model for ``(as_of, at)``.

:class:`Projector` keeps the three folds (reference data, subject states, document
index) and builds the API envelopes ``{as_of, log_size, rows[, totals]}``.
:func:`compute_all` is the one-call form used by tests and auditors: the same log
prefix and ``as_of`` always give byte-identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, TypeVar

from ledger.records import LoggedEvent
from projections.accountability import AccountabilityRow, accountability_rows
from projections.arrears import ArrearsRow, arrears_rows, arrears_totals
from projections.breaches import BreachRow, breach_rows, breach_sort_key
from projections.compensation import CompensationRow, compensation_rows
from projections.documents import DocumentIndex, DocumentReference
from projections.reference import Reference
from projections.subjects import SubjectState, apply_event, subject_key

Row = TypeVar("Row")


class Projector:
    """Folds a log in order; answers read models for any ``as_of`` and ``at <= size``."""

    def __init__(self) -> None:
        self.reference = Reference()
        self.subjects: dict[str, SubjectState] = {}
        self.documents = DocumentIndex()
        self.size = 0

    def apply(self, event: LoggedEvent) -> None:
        """Take in the next leaf; indices must be dense and in order."""
        if event.index != self.size:
            raise ValueError(f"expected leaf {self.size}, got leaf {event.index}")
        key = subject_key(event.stream)
        if key is not None:
            state = apply_event(self.subjects.get(key), event, self.reference)
            if state is not None:
                self.subjects[key] = state
        self.reference.apply(event)
        self.documents.apply(event)
        self.size += 1

    def extend(self, events: Iterable[LoggedEvent]) -> None:
        for event in events:
            self.apply(event)

    def log_size(self, at: int | None) -> int:
        if at is None:
            return self.size
        if not 0 <= at <= self.size:
            raise ValueError(f"at={at} is beyond the log (size {self.size})")
        return at

    def _collect(
        self,
        rows_of: Callable[[SubjectState, Reference, date, int | None], list[Row]],
        as_of: date,
        at: int | None,
        subjects: Iterable[SubjectState] | None = None,
    ) -> list[Row]:
        chosen = self.subjects.values() if subjects is None else subjects
        rows: list[Row] = []
        for state in sorted(chosen, key=lambda s: s["stream"]):
            rows.extend(rows_of(state, self.reference, as_of, at))
        return rows

    def arrears(
        self,
        as_of: date,
        at: int | None = None,
        payer: str | None = None,
        payee: str | None = None,
    ) -> dict[str, Any]:
        size = self.log_size(at)
        rows: list[ArrearsRow] = [
            row
            for row in self._collect(arrears_rows, as_of, size)
            if (payer is None or row["payer"] == payer) and (payee is None or row["payee"] == payee)
        ]
        return {
            "as_of": as_of.isoformat(),
            "log_size": size,
            "rows": rows,
            "totals": arrears_totals(rows),
        }

    def breaches(
        self,
        as_of: date,
        at: int | None = None,
        rule: str | None = None,
        party: str | None = None,
    ) -> dict[str, Any]:
        size = self.log_size(at)
        rows: list[BreachRow] = [
            row
            for row in self._collect(breach_rows, as_of, size)
            if (rule is None or row["rule"] == rule) and (party is None or row["party"] == party)
        ]
        rows.sort(key=breach_sort_key)
        return {"as_of": as_of.isoformat(), "log_size": size, "rows": rows}

    def compensation(self, as_of: date, at: int | None = None) -> dict[str, Any]:
        size = self.log_size(at)
        rows: list[CompensationRow] = self._collect(compensation_rows, as_of, size)
        return {"as_of": as_of.isoformat(), "log_size": size, "rows": rows}

    def accountability(self, as_of: date, at: int | None = None) -> dict[str, Any]:
        size = self.log_size(at)
        rows: list[AccountabilityRow] = self._collect(accountability_rows, as_of, size)
        rows.sort(key=lambda r: (r["detected_on"], r["subject_stream"], r["rule"], r["detail"]))
        return {"as_of": as_of.isoformat(), "log_size": size, "rows": rows}

    def documents_named(self, sha256: str, at: int | None = None) -> dict[str, Any]:
        size = self.log_size(at)
        rows: list[DocumentReference] = self.documents.lookup(sha256, size)
        return {"sha256": sha256.lower(), "log_size": size, "rows": rows}

    def document_index(self, at: int | None = None) -> dict[str, Any]:
        size = self.log_size(at)
        return {
            "log_size": size,
            "documents": {
                digest: self.documents.lookup(digest, size)
                for digest in self.documents.digests(size)
            },
        }


def compute_all(
    events: Iterable[LoggedEvent], as_of: date, at: int | None = None
) -> dict[str, dict[str, Any]]:
    """Every read model of a log for ``(as_of, at)``; ``events`` is the log from leaf 0."""
    projector = Projector()
    projector.extend(events)
    return {
        "arrears": projector.arrears(as_of, at),
        "breaches": projector.breaches(as_of, at),
        "compensation": projector.compensation(as_of, at),
        "accountability": projector.accountability(as_of, at),
        "documents": projector.document_index(at),
    }
