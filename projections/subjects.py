"""Subjects: the unit the projections fold and store.

A subject is one ``contract/<id>``, ``commitment/<id>`` or ``complaint/<id>`` stream.
Its state is a plain dict (ints, strs, lists, dicts, None: msgpack-friendly, no
floats) holding the subject's terms and its normalized facts, each tagged with the
leaf index it came from; results for ``(as_of, at)`` are computed from that state
restricted to facts with ``index < at``. The state is keyed by its stream and carries
its payer and payee (see :func:`subject_parties`).

Events must be applied in log order, with the :class:`~projections.reference.Reference`
folded up to (not including) the event being applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ledger.records import LoggedEvent
from projections.commitments import CommitmentState, apply_commitment, commitment_visible
from projections.complaints import ComplaintState, apply_complaint, complaint_visible
from projections.contracts import ContractState, apply_contract, contract_visible
from projections.facts import Fact, visible
from projections.reference import Reference

SubjectState = ContractState | CommitmentState | ComplaintState

SUBJECT_KINDS = ("contract", "commitment", "complaint")


def subject_key(stream: str) -> str | None:
    """The subject a stream belongs to (the stream itself), or None for other streams."""
    kind, _, rest = stream.partition("/")
    if kind in SUBJECT_KINDS and rest:
        return stream
    return None


def apply_event(
    state: SubjectState | None, event: LoggedEvent, reference: Reference
) -> SubjectState | None:
    """Fold one event into the state of the subject whose stream it is in.

    Returns the new state (the given one, updated in place) or None while the stream
    has not been opened by its first event (``contract.signed``, ``commitment.made``,
    ``complaint.filed``).
    """
    kind = event.stream.partition("/")[0]
    if kind == "contract":
        contract = state if state is not None and state["kind"] == "contract" else None
        return apply_contract(contract, event, reference)
    if kind == "commitment":
        commitment = state if state is not None and state["kind"] == "commitment" else None
        return apply_commitment(commitment, event)
    if kind == "complaint":
        complaint = state if state is not None and state["kind"] == "complaint" else None
        return apply_complaint(complaint, event)
    return state


def fold(
    events: Iterable[LoggedEvent], reference: Reference | None = None
) -> tuple[dict[str, SubjectState], Reference]:
    """Fold events (in log order) into subject states and the reference data."""
    reference = Reference() if reference is None else reference
    states: dict[str, SubjectState] = {}
    for event in events:
        key = subject_key(event.stream)
        if key is not None:
            new = apply_event(states.get(key), event, reference)
            if new is not None:
                states[key] = new
        reference.apply(event)
    return states, reference


def subject_parties(state: SubjectState) -> tuple[str, str]:
    """The (payer, payee) columns of a subject row.

    Contract: (buyer, supplier); commitment: (issuer, beneficiary); complaint: (the
    party complained against, "" as the complainant is not named by the event).
    """
    if state["kind"] == "contract":
        return state["buyer"], state["supplier"]
    if state["kind"] == "commitment":
        return state["issuer"], state["beneficiary"]
    return state["against"], ""


def subject_visible(state: SubjectState, as_of: date, at: int | None) -> bool:
    """Whether the subject exists for ``(as_of, at)``: opened below ``at``, dated <= as_of."""
    if state["kind"] == "contract":
        return contract_visible(state, as_of, at)
    if state["kind"] == "commitment":
        return commitment_visible(state, as_of, at)
    return complaint_visible(state, as_of, at)


def accountability_records(state: SubjectState, as_of: date, at: int | None) -> list[Fact]:
    return [
        fact
        for fact in visible(state["facts"], as_of.isoformat(), at)
        if fact["type"] == "accountability.recorded"
    ]
