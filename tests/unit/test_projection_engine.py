"""The engine as a whole: determinism, prefixes, persistence shape, document index,
accountability register."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from projections import (
    DocumentIndex,
    Projector,
    Reference,
    accountability_rows,
    arrears_rows,
    breach_rows,
    compensation_rows,
    compute_all,
    fold,
    subject_parties,
)
from projections.subjects import SubjectState
from tests.unit.test_projection_support import GOV, LARGE, SMALL, LogBuilder, d

AS_OF = d("2025-11-30")


def scenario() -> LogBuilder:
    """A log touching every read model."""
    log = LogBuilder()
    log.standard_parties()
    log.calendar()
    log.lpr("2025-05-20", 300)
    log.contract(
        "C1",
        milestones=[("M1", 20_000_000), ("M2", 5_000_000)],
        acceptance_period_days=10,
        payment_term_days=90,
        late_interest_annual_bp=200,
    )
    log.deliver("2025-07-01", "M1", "C1")
    log.accept("2025-07-20", "M1", "C1")
    log.deliver("2025-08-01", "M2", "C1")
    log.accept("2025-08-05", "M2", "C1")
    log.pay("2025-09-15", 6_000_000, milestone=None, contract="C1")
    log.dispute("2025-09-20", 1_000_000, "M1", "C1")
    log.request_confirmation("2025-09-01", 20_000_000, "M1", "C1")
    log.contract(
        "C2", supplier=LARGE, scale="large", basis="delivery", milestones=[("M1", 3_650_000)]
    )
    log.deliver("2025-07-01", "M1", "C2")
    log.pay("2025-08-20", 3_650_000, "M1", "C2", payment_id="C2-P1")
    log.contest("C2-P1", "C2")
    log.commitment(
        "K1",
        obligations=[
            {
                "obligation_id": "O1",
                "description": "grant",
                "amount_fen": 1_000_000,
                "due_date": "2025-06-30",
            },
        ],
    )
    log.fulfil("O1", "2025-06-10", 400_000, "K1")
    log.change("2025-08-01", reason="public_interest", commitment="K1")
    log.clock = "2025-09-01"
    log.determine("K1-D1", 800_000, "2025-10-01", commitment="K1")
    log.compensate("K1-D1", 300_000, "2025-10-15", commitment="K1")
    log.complaint("2025-09-01", "Q1", subject="contract/C1")
    log.accountability("contract/C1", "milestone M1 unpaid")
    log.answer("2025-10-20", "Q1")
    return log


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def test_same_prefix_gives_identical_results() -> None:
    log = scenario()
    first = compute_all(log.events, AS_OF)
    second = compute_all(list(log.events), AS_OF)
    assert as_json(first) == as_json(second)
    assert first["arrears"]["rows"]
    assert first["breaches"]["rows"]
    assert first["compensation"]["rows"]
    assert first["accountability"]["rows"]
    assert first["documents"]["documents"]


def test_results_at_n_do_not_change_when_events_are_appended() -> None:
    log = scenario()
    for size in range(len(log.events) + 1):
        prefix_only = compute_all(log.events[:size], AS_OF)
        from_full_log = compute_all(log.events, AS_OF, at=size)
        assert as_json(prefix_only) == as_json(from_full_log), size
        assert from_full_log["arrears"]["log_size"] == size


def test_no_floats_anywhere_in_results() -> None:
    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(compute_all(scenario().events, AS_OF))


def test_every_rule_of_the_scenario() -> None:
    rows = compute_all(scenario().events, AS_OF)["breaches"]["rows"]
    assert {(row["rule"], row["subject_stream"]) for row in rows} == {
        ("TERM_OVER_60", "contract/C1"),
        ("RATE_BELOW_LPR", "contract/C1"),
        ("ACCEPTANCE_LATE", "contract/C1"),
        ("ARREARS", "contract/C1"),
        ("CONFIRMATION_LATE", "contract/C1"),
        ("CHANGE_NO_CONSULTATION", "commitment/K1"),
        ("CHANGE_NO_LEGAL_BASIS", "commitment/K1"),
        ("OBLIGATION_MISSED", "commitment/K1"),
        ("COMPENSATION_OVERDUE", "commitment/K1"),
        ("COMPLAINT_UNANSWERED", "complaint/Q1"),
    }


def test_subject_states_survive_msgpack_and_give_the_same_rows() -> None:
    log = scenario()
    states, reference = fold(log.events)
    packed = {key: msgpack.packb(state) for key, state in states.items()}
    packed_reference = msgpack.packb(reference.to_dict())
    restored: dict[str, SubjectState] = {key: msgpack.unpackb(blob) for key, blob in packed.items()}
    restored_reference = Reference.from_dict(msgpack.unpackb(packed_reference))
    assert restored == states
    for at in (None, 20, len(log.events)):
        for key in sorted(states):
            for rows_of in (arrears_rows, breach_rows, compensation_rows, accountability_rows):
                assert rows_of(restored[key], restored_reference, AS_OF, at) == rows_of(
                    states[key], reference, AS_OF, at
                )


def test_one_payer_query_needs_only_that_payers_subjects() -> None:
    log = scenario()
    states, reference = fold(log.events)
    assert {key: subject_parties(state) for key, state in states.items()} == {
        "contract/C1": (GOV, SMALL),
        "contract/C2": (GOV, LARGE),
        "commitment/K1": (GOV, SMALL),
        "complaint/Q1": (GOV, ""),
    }
    projector = Projector()
    projector.extend(log.events)
    expected = projector.arrears(AS_OF, payee=LARGE)["rows"]
    chosen = [s for s in states.values() if subject_parties(s)[1] == LARGE]
    assert [row for s in chosen for row in arrears_rows(s, reference, AS_OF, None)] == expected


def test_contested_payment_in_scenario() -> None:
    rows = compute_all(scenario().events, AS_OF)["arrears"]["rows"]
    [c2] = [row for row in rows if row["contract_id"] == "C2"]
    assert c2["contested_fen"] == 3_650_000
    assert c2["outstanding_fen"] == 0
    assert c2["days_overdue"] == 0
    # Large supplier, no agreed rate: the LPR at signing (300 bp), 08-01..08-20.
    assert c2["interest_fen"] == 3_000 * 20 // 10


def test_accountability_register_names_the_responsible_and_records() -> None:
    log = scenario()
    rows = compute_all(log.events, AS_OF)["accountability"]["rows"]
    contract_rows = [row for row in rows if row["subject_stream"] == "contract/C1"]
    assert contract_rows
    for row in contract_rows:
        assert row["responsible"] == {"department": "Hami Bureau of Works", "official": "Wang Wei"}
        [record] = row["accountability"]
        assert record["finding"] == "milestone M1 unpaid"
        assert record["recorded_on"] == "2025-09-01"
    [complaint] = [row for row in rows if row["subject_stream"] == "complaint/Q1"]
    assert complaint["responsible"] is None
    assert complaint["accountability"] == []


def test_accountability_record_after_as_of_is_not_shown() -> None:
    log = scenario()
    rows = compute_all(log.events, d("2025-08-31"))["accountability"]["rows"]
    assert all(row["accountability"] == [] for row in rows)


def test_document_index_names_every_event_with_a_document_hash() -> None:
    log = LogBuilder()
    log.standard_parties()
    signed = log.contract("C1")
    made = log.commitment("K1")
    fulfilled = log.add(
        "commitment/K1",
        "commitment.obligation_fulfilled",
        {"obligation_id": "O1", "fulfilled_on": "2025-06-01", "evidence_sha256": "EF" * 32},
    )
    changed = log.lawful_change("2025-03-01")
    projector = Projector()
    projector.extend(log.events)
    contract_doc = signed.body["document_sha256"]
    [ref] = projector.documents_named(contract_doc)["rows"]
    assert ref == {
        "sha256": contract_doc,
        "field": "document_sha256",
        "leaf_index": signed.index,
        "leaf_hash": signed.leaf_hash.hex(),
        "stream": "contract/C1",
        "version": 1,
        "type": "contract.signed",
    }
    assert projector.documents_named(made.body["document_sha256"])["rows"][0]["leaf_index"] == (
        made.index
    )
    [evidence] = projector.documents_named("ef" * 32)["rows"]
    assert evidence["leaf_index"] == fulfilled.index
    [record] = projector.documents_named("AB" * 32)["rows"]
    assert (record["field"], record["leaf_index"]) == ("consultation.record_sha256", changed.index)
    assert projector.documents_named(contract_doc, at=signed.index)["rows"] == []
    assert projector.documents_named("00" * 32)["rows"] == []


def test_log_must_be_dense_and_at_within_it() -> None:
    log = scenario()
    projector = Projector()
    projector.apply(log.events[0])
    with pytest.raises(ValueError, match="expected leaf 1"):
        projector.apply(log.events[2])
    with pytest.raises(ValueError, match="beyond the log"):
        projector.arrears(AS_OF, at=2)


def test_reference_as_known_at_a_tree_size() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)])
    log.accept("2025-09-01")  # + 30 = 10-01
    size_before_calendar = len(log.events)
    log.calendar()
    projector = Projector()
    projector.extend(log.events)
    before = projector.arrears(d("2025-10-05"), at=size_before_calendar)["rows"]
    after = projector.arrears(d("2025-10-05"))["rows"]
    assert [row["due_date"] for row in before] == ["2025-10-01"]
    assert after == []  # the published holidays move the due date to 10-09


def test_folding_an_event_twice_changes_nothing() -> None:
    log = scenario()
    once, reference_once = fold(log.events)
    twice, reference_twice = fold([*log.events, *log.events[5:]])
    assert twice == once
    assert reference_twice.to_dict() == reference_once.to_dict()


def test_document_index_round_trip_and_idempotence() -> None:
    log = scenario()
    index = DocumentIndex()
    for event in log.events:
        index.apply(event)
    restored = DocumentIndex.from_dict(msgpack.unpackb(msgpack.packb(index.to_dict())))
    for event in log.events:
        restored.apply(event)
    assert restored.to_dict() == index.to_dict()
