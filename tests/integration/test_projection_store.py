"""The persistent projection store, on SQLite and PostgreSQL: identical to the in-memory
engine, stable at a tree size, rebuildable, restartable after a crash, exactly once."""

from __future__ import annotations

import copy
import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from ledger.errors import InvalidInput
from ledger.records import LoggedEvent
from ledger.store import DatabaseURL
from projections import Projector, Reference, apply_event, compute_all, fold, subject_key
from projections.rules import RULES
from projections.runner import ProjectionRunner
from projections.store import (
    InvalidTreeSize,
    ProjectionBehind,
    ProjectionMismatch,
    ProjectionStore,
    projection_path,
    split_state,
)
from projections.subjects import SubjectState
from tests.factories import (
    BUYER_ID,
    FINANCE_ID,
    INSPECTOR_ID,
    LARGE_ID,
    OTHER_ID,
    SUPPLIER_ID,
    World,
    contract_body,
    make_world,
)
from tests.unit.test_projection_engine import scenario

AS_OF = date(2026, 12, 31)
AS_OFS = (date(2026, 8, 1), date(2026, 10, 15), AS_OF)
RESPONSIBLE = {"department": "Hami Industry and IT Bureau", "official": "Wang Li"}


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def pay(payment_id: str, amount: int, paid_on: str, milestone: str | None = None,
        purpose: str = "principal") -> dict[str, Any]:
    body: dict[str, Any] = {"payment_id": payment_id, "amount_fen": amount, "paid_on": paid_on,
                            "method": "transfer", "voucher_ref": f"V-{payment_id}",
                            "purpose": purpose}
    if milestone is not None:
        body["milestone_id"] = milestone
    return body


def record_history(world: World) -> None:
    """Contracts paid late and in part, a dispute, a contested payment, an unanswered
    confirmation, commitments changed (one for the public interest, compensated in part,
    one for a forbidden reason), a complaint answered late, an accountability record."""
    op, buyer, supplier = world.operator, world.keys["buyer"], world.keys["supplier"]
    finance, large, other = world.keys["finance"], world.keys["large"], world.keys["other"]
    inspector = world.keys["inspector"]
    world.post(op, "calendar.published", "reference/calendar", {
        "year": 2026, "holidays": ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06",
                                   "2026-10-07"], "workdays": ["2026-10-10"]})
    world.post(op, "rate.lpr_published", "reference/lpr",
               {"effective_on": "2026-01-20", "one_year_bp": 300})

    c1 = "contract/C1"
    world.post(buyer, "contract.signed", c1, contract_body("C1", late_interest_annual_bp=200))
    world.post(supplier, "contract.countersigned", c1, {"party_id": SUPPLIER_ID})
    world.post(supplier, "contract.delivered", c1, {"milestone_id": "m1",
                                                    "delivered_on": "2026-06-10"})
    world.post(buyer, "contract.accepted", c1, {"milestone_id": "m1", "accepted_on": "2026-06-20",
                                                "result": "passed"})
    world.post(finance, "payment.made", c1, pay("C1-P1", 5_000_000, "2026-07-10", "m1"))
    world.post(supplier, "contract.delivered", c1, {"milestone_id": "m2",
                                                    "delivered_on": "2026-07-01"})
    world.post(finance, "payment.made", c1, pay("C1-P2", 10_000_000, "2026-08-15", "m1"))
    world.post(buyer, "contract.accepted", c1, {"milestone_id": "m2", "accepted_on": "2026-08-05",
                                                "result": "passed"})
    world.post(supplier, "receivable.confirmation_requested", c1,
               {"milestone_id": "m2", "amount_fen": 10_000_000, "requested_on": "2026-09-01"})
    world.post(finance, "payment.made", c1, pay("C1-P3", 8_000_000, "2026-09-01"))  # unallocated
    world.post(buyer, "milestone.disputed", c1, {"milestone_id": "m2", "disputed_fen": 2_000_000,
                                                 "reason": "defects", "raised_on": "2026-09-10"})
    world.post(buyer, "dispute.resolved", c1, {"milestone_id": "m2", "resolved_on": "2026-10-12",
                                               "owed_fen": 1_000_000})
    world.post(finance, "payment.made", c1,
               pay("C1-P4", 50_000, "2026-10-20", "m1", purpose="interest"))
    world.post(inspector, "accountability.recorded", c1, {
        "subject_stream": c1, "responsible": RESPONSIBLE, "finding": "m1 paid late",
        "action": "written warning"})

    c2 = "contract/C2"
    world.post(buyer, "contract.signed", c2, contract_body(
        "C2", supplier=LARGE_ID, supplier_scale_at_signing="large", payment_basis="delivery",
        payment_term_days=90, value_fen=3_650_000, document_sha256="cd" * 32,
        milestones=[{"milestone_id": "m1", "description": "works", "amount_fen": 3_650_000}]))
    world.post(large, "contract.delivered", c2, {"milestone_id": "m1",
                                                 "delivered_on": "2026-05-01"})
    world.post(finance, "payment.made", c2, pay("C2-P1", 3_650_000, "2026-09-01", "m1"))
    world.post(large, "payment.contested", c2, {"payment_id": "C2-P1",
                                                "reason": "not received"})

    c3 = "contract/C3"
    world.post(buyer, "contract.signed", c3, contract_body(
        "C3", supplier=OTHER_ID, supplier_scale_at_signing="micro", payment_basis="settlement",
        payment_term_days=90, document_sha256="ef" * 32))
    world.post(other, "contract.countersigned", c3, {"party_id": OTHER_ID})
    world.post(buyer, "contract.settlement_confirmed", c3,
               {"milestone_id": "m1", "amount_fen": 15_000_000, "confirmed_on": "2026-07-01"})
    world.post(finance, "payment.made", c3, pay("C3-P1", 4_000_000, "2026-10-30", "m1"))

    k1 = "commitment/K1"
    world.post(buyer, "commitment.made", k1, {
        "commitment_id": "K1", "issuer": BUYER_ID, "beneficiary": SUPPLIER_ID,
        "title": "Industrial park rent subsidy", "kind": "subsidy",
        "document_sha256": "12" * 32, "legal_basis": "Hami measures Art. 20",
        "obligations": [
            {"obligation_id": "O1", "description": "rent subsidy", "amount_fen": 1_000_000,
             "due_date": "2026-10-31"},
            {"obligation_id": "O2", "description": "road access", "due_date": "2026-12-01"},
        ],
        "responsible": RESPONSIBLE})
    world.post(supplier, "commitment.acknowledged", k1, {"party_id": SUPPLIER_ID})
    world.post(finance, "commitment.obligation_fulfilled", k1, {
        "obligation_id": "O1", "fulfilled_on": "2026-10-01", "amount_fen": 400_000,
        "evidence_sha256": "34" * 32})
    world.post(buyer, "commitment.changed", k1, {
        "action": "amend", "effective_on": "2026-11-01", "reason": "public_interest"})
    world.clock.advance(days=1)
    world.post(buyer, "compensation.determined", k1, {
        "duty_id": "K1-D1", "beneficiary": SUPPLIER_ID, "amount_fen": 800_000,
        "due_date": "2026-11-20", "basis": "appraisal"})
    world.post(finance, "compensation.paid", k1, {
        "duty_id": "K1-D1", "amount_fen": 300_000, "paid_on": "2026-11-10",
        "voucher_ref": "V-K1-D1"})

    k2 = "commitment/K2"
    world.post(buyer, "commitment.made", k2, {
        "commitment_id": "K2", "issuer": BUYER_ID, "beneficiary": LARGE_ID,
        "title": "Land use rights", "kind": "land", "document_sha256": "56" * 32,
        "legal_basis": "Hami measures Art. 20",
        "obligations": [{"obligation_id": "L1", "description": "hand over the plot",
                         "due_date": "2027-03-01"}],
        "responsible": RESPONSIBLE})
    world.post(buyer, "commitment.changed", k2, {
        "action": "withdraw", "effective_on": "2026-11-15", "reason": "personnel_change",
        "legal_authority": "county decision 7", "procedure_ref": "HM-2026-77",
        "consultation": {"held_on": "2026-11-10", "record_sha256": "78" * 32}})

    q1 = "complaint/Q1"
    world.post(supplier, "complaint.filed", q1, {
        "complaint_id": "Q1", "against": BUYER_ID, "subject_stream": c1, "kind": "arrears",
        "filed_on": "2026-09-15"})
    world.post(buyer, "complaint.answered", q1, {"answered_on": "2026-11-20",
                                                "outcome": "payment scheduled"})


def record_more(world: World) -> None:
    """Later history: payments that change arrears as of any date, a new contract."""
    finance, buyer = world.keys["finance"], world.keys["buyer"]
    world.clock.advance(days=1)
    world.post(finance, "payment.made", "contract/C1", pay("C1-P5", 5_000_000, "2026-11-30"))
    world.post(finance, "payment.made", "contract/C3", pay("C3-P2", 1_000_000, "2026-06-01"))
    world.post(buyer, "contract.signed", "contract/C4", contract_body("C4",
                                                                     signed_on="2026-01-05"))
    world.post(world.operator, "rate.lpr_published", "reference/lpr",
               {"effective_on": "2026-01-01", "one_year_bp": 250})


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = make_world(database_url)
    record_history(w)
    yield w
    w.ledger.close()


@pytest.fixture
def store(database_url: str) -> Iterator[ProjectionStore]:
    s = ProjectionStore(database_url)
    yield s
    s.close()


def views(store: ProjectionStore | Projector, as_of: date, at: int | None) -> str:
    """Every read model, with the filtered forms too, as one comparable text."""
    result: dict[str, Any] = {
        "arrears": store.arrears(as_of, at),
        "breaches": store.breaches(as_of, at),
        "compensation": store.compensation(as_of, at),
        "accountability": store.accountability(as_of, at),
    }
    for party in (BUYER_ID, SUPPLIER_ID, LARGE_ID, OTHER_ID, FINANCE_ID):
        result[f"arrears payer {party}"] = store.arrears(as_of, at, payer=party)
        result[f"arrears payee {party}"] = store.arrears(as_of, at, payee=party)
        result[f"breaches party {party}"] = store.breaches(as_of, at, party=party)
    result["arrears both"] = store.arrears(as_of, at, payer=BUYER_ID, payee=LARGE_ID)
    for rule in [*RULES, "NO_SUCH_RULE"]:
        result[f"breaches {rule}"] = store.breaches(as_of, at, rule=rule)
        result[f"breaches {rule} buyer"] = store.breaches(as_of, at, rule=rule, party=BUYER_ID)
    return as_json(result)


def projector_at(events: list[LoggedEvent]) -> Projector:
    projector = Projector()
    projector.extend(events)
    return projector


def test_store_gives_the_results_of_the_engine(world: World, store: ProjectionStore) -> None:
    runner = ProjectionRunner(world.ledger, store, chunk=7)
    assert runner.catch_up() == world.ledger.size()
    events = world.ledger.events()
    assert store.position() == len(events)
    projector = projector_at(events)
    full = store.compute_all(AS_OF)
    assert as_json(full) == as_json(compute_all(events, AS_OF))
    rules_seen = {row["rule"] for row in full["breaches"]["rows"]}
    assert rules_seen == set(RULES)  # every rule fires somewhere in this history
    assert {row["contract_id"] for row in full["arrears"]["rows"]} == {"C1", "C2", "C3"}
    assert full["compensation"]["rows"][0]["status"] == "overdue"
    for as_of in AS_OFS:
        assert views(store, as_of, None) == views(projector, as_of, None), as_of
    for at in range(len(events) + 1):
        assert as_json(store.compute_all(AS_OF, at)) == as_json(
            compute_all(events, AS_OF, at)), at
    store.few_subjects = 0  # facts through the join, as for large reports
    for at in (None, 10, 30, len(events) - 5):
        assert as_json(store.compute_all(AS_OF, at)) == as_json(
            compute_all(events, AS_OF, at)), at
        assert views(store, AS_OFS[1], at) == views(projector, AS_OFS[1], at), at
    store.few_subjects = ProjectionStore.few_subjects
    for at in (10, 30, len(events) - 5):
        assert views(store, AS_OFS[1], at) == views(projector, AS_OFS[1], at), at
    for digest in {*full["documents"]["documents"], "AB" * 32, "00" * 32}:
        for at in (None, 20, len(events)):
            assert store.documents_named(digest, at) == projector.documents_named(digest, at)


def test_subject_state_is_the_fold_of_the_prefix(world: World, store: ProjectionStore) -> None:
    ProjectionRunner(world.ledger, store).catch_up()
    events = world.ledger.events()
    streams = ("contract/C1", "contract/C2", "contract/C3", "commitment/K1", "complaint/Q1")
    for at in range(0, len(events) + 1, 3):
        states, _ = fold(events[:at])
        for stream in streams:
            view = store.subject_state(stream, at)
            if stream not in states:
                assert view is None, (stream, at)
                continue
            assert view is not None
            assert view["log_size"] == at
            assert view["state"] == states[stream], (stream, at)
    current = store.subject_state("contract/C1")
    assert current is not None
    assert current["log_size"] == len(events)
    assert current["state"]["facts"][-1]["type"] == "accountability.recorded"
    assert store.subject_state("party/" + BUYER_ID) is None
    assert store.subject_state("contract/NONE") is None


def test_rows_at_a_tree_size_do_not_change_when_events_arrive(
    world: World, store: ProjectionStore
) -> None:
    runner = ProjectionRunner(world.ledger, store, chunk=10)
    runner.catch_up()
    size = store.position()
    before = {as_of: views(store, as_of, size) for as_of in AS_OFS}
    state_before = store.subject_state("contract/C1", size)
    record_more(world)
    runner.catch_up()
    assert store.position() == world.ledger.size() > size
    for as_of in AS_OFS:
        assert views(store, as_of, size) == before[as_of], as_of
    assert store.subject_state("contract/C1", size) == state_before
    # ... while the current rows did change, as the engine says they should.
    events = world.ledger.events()
    assert views(store, AS_OF, None) != before[AS_OF]
    assert views(store, AS_OF, None) == views(projector_at(events), AS_OF, None)


def test_rebuilding_from_empty_gives_identical_rows(world: World, store: ProjectionStore) -> None:
    runner = ProjectionRunner(world.ledger, store, chunk=5)
    runner.catch_up()
    first = {as_of: views(store, as_of, None) for as_of in AS_OFS}
    documents = as_json(store.document_index())
    store.rebuild()
    assert store.position() == 0
    assert store.arrears(AS_OF) == {"as_of": AS_OF.isoformat(), "log_size": 0, "rows": [],
                                    "totals": Projector().arrears(AS_OF)["totals"]}
    assert store.document_index()["documents"] == {}
    ProjectionRunner(world.ledger, store, chunk=1000).catch_up()
    for as_of in AS_OFS:
        assert views(store, as_of, None) == first[as_of]
    assert as_json(store.document_index()) == documents


class CrashingStore(ProjectionStore):
    """Dies after writing a chunk's rows and tracking, before the commit."""

    def __init__(self, *args: Any, survive: int = 0, **kwargs: Any) -> None:
        self.survive = survive
        super().__init__(*args, **kwargs)

    def _before_commit(self) -> None:
        if self.survive <= 0:
            raise RuntimeError("killed before commit")
        self.survive -= 1


def test_a_crash_before_commit_leaves_nothing_and_a_restart_resumes(
    world: World, database_url: str
) -> None:
    crashing = CrashingStore(database_url, survive=2)
    runner = ProjectionRunner(world.ledger, crashing, chunk=6)
    assert runner.run_once() == 6
    assert runner.run_once() == 6
    committed = {as_of: views(crashing, as_of, None) for as_of in AS_OFS}
    documents = as_json(crashing.document_index())
    with pytest.raises(RuntimeError, match="killed before commit"):
        runner.run_once()
    # Nothing of the failed chunk is visible: not its rows, not its tracking position.
    assert crashing.position() == 12
    for as_of in AS_OFS:
        assert views(crashing, as_of, None) == committed[as_of]
    assert as_json(crashing.document_index()) == documents
    with pytest.raises(RuntimeError, match="killed before commit"):
        runner.run_once()  # the same object fails again, still nothing written
    assert crashing.position() == 12
    crashing.close()

    # A fresh store and runner, as after a process restart, resume at leaf 12.
    restarted = ProjectionStore(database_url)
    try:
        resumed = ProjectionRunner(world.ledger, restarted, chunk=4)
        assert restarted.position() == 12
        assert resumed.catch_up() == world.ledger.size() - 12
        events = world.ledger.events()
        assert as_json(restarted.compute_all(AS_OF)) == as_json(compute_all(events, AS_OF))
        for as_of in AS_OFS:
            assert views(restarted, as_of, None) == views(projector_at(events), as_of, None)
    finally:
        restarted.close()


def test_the_same_store_object_recovers_after_a_failed_chunk(
    world: World, database_url: str
) -> None:
    """The writer's in-memory states may hold the failed chunk: they must be dropped."""
    crashing = CrashingStore(database_url, survive=1, cache_subjects=1000)
    try:
        runner = ProjectionRunner(world.ledger, crashing, chunk=20)
        runner.run_once()
        with pytest.raises(RuntimeError):
            runner.run_once()
        crashing.survive = 10**6
        runner.catch_up()
        events = world.ledger.events()
        assert as_json(crashing.compute_all(AS_OF)) == as_json(compute_all(events, AS_OF))
    finally:
        crashing.close()


def test_limited_runs_then_fresh_objects_give_identical_rows(
    world: World, database_url: str
) -> None:
    first = ProjectionStore(database_url)
    runner = ProjectionRunner(world.ledger, first)
    assert runner.run_once(max_events=5) == 5
    assert runner.run_once(max_events=3) == 3
    assert runner.run_once(max_events=0) == 0
    assert first.position() == 8
    first.close()
    second = ProjectionStore(database_url, cache_subjects=0)
    try:
        runner = ProjectionRunner(world.ledger, second, chunk=9)
        while runner.run_once():
            pass
        assert second.position() == world.ledger.size()
        events = world.ledger.events()
        for as_of in AS_OFS:
            assert views(second, as_of, None) == views(projector_at(events), as_of, None)
    finally:
        second.close()


def test_reapplying_a_chunk_does_not_count_twice(world: World, store: ProjectionStore) -> None:
    events = world.ledger.events()
    assert store.apply(events[:20]) == 20
    once = views(store, AS_OF, None)
    assert store.apply(events[:20]) == 0
    assert store.apply(events[10:20]) == 0
    assert store.position() == 20
    assert views(store, AS_OF, None) == once
    assert store.apply(events[15:30]) == 10  # overlapping: only 20..29 are new
    assert store.apply(events[30:]) == len(events) - 30
    assert store.apply(events) == 0
    assert as_json(store.compute_all(AS_OF)) == as_json(compute_all(events, AS_OF))
    with pytest.raises(ValueError, match="missing"):
        store.apply([dataclasses.replace(events[-1], index=len(events) + 1)])  # a gap
    with pytest.raises(ValueError, match="consecutive"):
        store.apply([events[0], events[2]])


def test_two_runners_at_once_fold_each_leaf_once(world: World, database_url: str) -> None:
    stores = [ProjectionStore(database_url, cache_subjects=c) for c in (1000, 0)]
    try:
        runners = [ProjectionRunner(world.ledger, s, chunk=3) for s in stores]
        threads = [threading.Thread(target=r.catch_up) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = world.ledger.events()
        expected = as_json(compute_all(events, AS_OF))
        for s in stores:
            assert s.position() == len(events)
            assert as_json(s.compute_all(AS_OF)) == expected
        # The writer that lost some turns notices and reloads instead of trusting its cache.
        record_more(world)
        runners[0].catch_up()
        runners[1].catch_up()
        events = world.ledger.events()
        assert as_json(stores[0].compute_all(AS_OF)) == as_json(compute_all(events, AS_OF))
    finally:
        for s in stores:
            s.close()


def test_at_beyond_the_position_is_refused(world: World, store: ProjectionStore) -> None:
    ProjectionRunner(world.ledger, store).run_once(max_events=10)
    with pytest.raises(ProjectionBehind, match="at=11 is beyond the projections") as info:
        store.arrears(AS_OF, at=11)
    assert isinstance(info.value, ValueError) and isinstance(info.value, InvalidInput)
    assert info.value.status == 400
    assert info.value.to_problem()["position"] == 10
    for query in (
        lambda: store.breaches(AS_OF, at=11),
        lambda: store.compensation(AS_OF, at=11),
        lambda: store.accountability(AS_OF, at=11),
        lambda: store.documents_named("ab" * 32, at=11),
        lambda: store.subject_state("contract/C1", at=11),
        lambda: store.document_index(at=11),
    ):
        with pytest.raises(ProjectionBehind):
            query()
    with pytest.raises(InvalidTreeSize, match="not negative"):
        store.arrears(AS_OF, at=-1)
    assert store.arrears(AS_OF, at=10)["log_size"] == 10


def test_a_store_folded_from_another_log_is_detected(world: World, store: ProjectionStore) -> None:
    events = world.ledger.events()
    store.apply(events[:10])
    with pytest.raises(ProjectionMismatch, match="rebuild"):
        store.apply(events[10:12], previous_leaf_hash=b"\x00" * 32)
    assert store.position() == 10
    store.apply(events[10:12], previous_leaf_hash=events[9].leaf_hash)
    assert store.position() == 12


def test_a_rebuild_does_not_empty_a_query_already_under_way(
        world: World, store: ProjectionStore, database_url: str) -> None:
    """A query reads the position and then the rows in one snapshot: a rebuild committed
    in between must not make the rows vanish from under that snapshot."""
    ProjectionRunner(world.ledger, store).catch_up()
    url = DatabaseURL.parse(database_url)
    if url.dialect == "postgres":
        reader = url.connect()
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    else:
        reader = sqlite3.connect(projection_path(url.path), isolation_level=None)
        reader.execute("BEGIN")
    try:
        (position,) = reader.execute("SELECT position FROM proj_tracking").fetchone()
        assert position == world.ledger.size()
        store.rebuild()
        (subjects,) = reader.execute("SELECT COUNT(*) FROM proj_subjects").fetchone()
        assert subjects > 0
        reader.rollback()
    finally:
        reader.close()
    assert store.position() == 0


def test_a_store_ahead_of_the_log_is_detected(world: World, store: ProjectionStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Read models kept while the log was restored from an older backup: they hold leaves
    the log no longer has, which no later fold would notice until the log outgrew them."""
    runner = ProjectionRunner(world.ledger, store)
    runner.catch_up()
    size = world.ledger.size()
    monkeypatch.setattr(world.ledger, "size", lambda: size - 3)
    with pytest.raises(ProjectionMismatch, match="rebuild"):
        runner.run_once()
    assert store.position() == size


def test_a_payer_query_reads_only_that_payers_subjects(
    world: World, database_url: str
) -> None:
    class CountingStore(ProjectionStore):
        loaded: list[int] = []  # noqa: RUF012

        def _subjects(self, cursor: Any, size: int, **where: str | None) -> list[SubjectState]:
            states = super()._subjects(cursor, size, **where)
            self.loaded.append(len(states))
            return states

    counting = CountingStore(database_url)
    try:
        ProjectionRunner(world.ledger, counting).catch_up()
        counting.arrears(AS_OF, payee=LARGE_ID)
        counting.arrears(AS_OF, payer=BUYER_ID)
        counting.breaches(AS_OF, party=INSPECTOR_ID)
        counting.breaches(AS_OF, rule="COMPLAINT_UNANSWERED")
        counting.compensation(AS_OF)
        assert counting.loaded == [1, 3, 0, 1, 2]
    finally:
        counting.close()


def test_background_thread_follows_the_log(world: World, store: ProjectionStore) -> None:
    runner = ProjectionRunner(world.ledger, store, chunk=8)
    runner.start(interval=0.01)
    try:
        assert runner.running
        _wait_for(lambda: store.position() == world.ledger.size())
        record_more(world)
        runner.poke()
        _wait_for(lambda: store.position() == world.ledger.size())
    finally:
        runner.stop()
    assert not runner.running
    assert runner.last_error is None
    events = world.ledger.events()
    assert as_json(store.compute_all(AS_OF)) == as_json(compute_all(events, AS_OF))


def _wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(0.01)


def test_every_rule_of_the_engine_scenario(database_url: str) -> None:
    """The unit tests' scenario (every rule, every read model), folded straight in."""
    events = scenario().events
    store = ProjectionStore(database_url)
    try:
        for start in range(0, len(events), 4):
            store.apply(events[start : start + 4])
        as_of = date(2025, 11, 30)
        projector = projector_at(events)
        for at in range(len(events) + 1):
            assert as_json(store.compute_all(as_of, at)) == as_json(
                compute_all(events, as_of, at)), at
        assert views(store, as_of, None) == views(projector, as_of, None)
        states, _ = fold(events)
        for stream, state in states.items():
            view = store.subject_state(stream)
            assert view is not None and view["state"] == state
    finally:
        store.close()


def test_folds_change_an_opened_subject_only_by_appending_facts(sqlite_url: str) -> None:
    """What the store's head + facts layout rests on (see projections.store)."""
    w = make_world(sqlite_url)
    try:
        record_history(w)
        record_more(w)
        logs = [w.ledger.events(), scenario().events]
    finally:
        w.ledger.close()
    for events in logs:
        reference = Reference()
        states: dict[str, SubjectState] = {}
        for event in events:
            key = subject_key(event.stream)
            if key is not None:
                before = copy.deepcopy(states.get(key))
                state = apply_event(states.get(key), event, reference)
                if state is not None:
                    states[key] = state
                if before is not None and state is not None:
                    assert split_state(state) == split_state(before), event
                    assert state["facts"][: len(before["facts"])] == before["facts"], event
                    assert state["last_index"] == event.index
            reference.apply(event)
        assert states


def test_tables_of_another_schema_version_are_replaced(database_url: str) -> None:
    store = ProjectionStore(database_url)
    try:
        store.apply(scenario().events[:10])
        with store._transaction(write=True) as cursor:
            cursor.execute("UPDATE proj_schema SET version = 1")
    finally:
        store.close()
    reopened = ProjectionStore(database_url)
    try:
        assert reopened.position() == 0
        assert reopened.apply(scenario().events) == len(scenario().events)
    finally:
        reopened.close()


def test_a_reconnection_failing_while_the_server_is_down_leaves_the_thread_usable(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken connection is forgotten before reconnecting: when reconnecting failed
    (the server still down) it stayed on the thread, and every later query there tried
    to forget it again (ValueError: a 500 for each, long after the server was back)."""
    store = ProjectionStore(postgres_url)
    try:
        assert store.position() == 0
        store._local.conn.close()  # as a server restart leaves it: closed under us
        real_connect = DatabaseURL.connect
        outage = [True]

        def connect(url: DatabaseURL) -> Any:
            if outage[0]:
                raise OSError("connection refused (the server is down)")
            return real_connect(url)

        monkeypatch.setattr(DatabaseURL, "connect", connect)
        with pytest.raises(OSError, match="server is down"):
            store.position()
        outage[0] = False
        assert store.position() == 0
        assert store.position() == 0
    finally:
        store.close()
