"""Complaint subjects: the fold of one ``complaint/<id>`` stream."""

from __future__ import annotations

from datetime import date
from typing import Final, Literal, TypedDict

from ledger.records import LoggedEvent
from projections.facts import Fact, accountability_fact, new_fact

KIND: Final = "complaint"


class ComplaintState(TypedDict):
    kind: Literal["complaint"]
    stream: str
    index: int
    hash: str
    on: str
    complaint_id: str
    against: str
    subject_stream: str
    complaint_kind: str
    facts: list[Fact]
    last_index: int


def new_complaint(event: LoggedEvent) -> ComplaintState:
    body = event.body
    return {
        "kind": KIND,
        "stream": event.stream,
        "index": event.index,
        "hash": event.leaf_hash.hex(),
        "on": str(body["filed_on"]),
        "complaint_id": str(body["complaint_id"]),
        "against": str(body["against"]),
        "subject_stream": str(body["subject_stream"]),
        "complaint_kind": str(body["kind"]),
        "facts": [],
        "last_index": event.index,
    }


def apply_complaint(state: ComplaintState | None, event: LoggedEvent) -> ComplaintState | None:
    """Fold one event of a complaint stream into its state (updated in place and returned)."""
    if state is not None and event.index <= state["last_index"]:
        return state  # already folded: applying is idempotent
    if event.type == "complaint.filed":
        return state if state is not None else new_complaint(event)
    if state is None:
        return None
    state["last_index"] = event.index
    if event.type == "complaint.answered":
        state["facts"].append(
            new_fact(event, str(event.body["answered_on"]), outcome=str(event.body["outcome"]))
        )
    elif event.type == "accountability.recorded":
        state["facts"].append(accountability_fact(event))
    return state


def complaint_visible(state: ComplaintState, as_of: date, at: int | None) -> bool:
    return (at is None or state["index"] < at) and state["on"] <= as_of.isoformat()
