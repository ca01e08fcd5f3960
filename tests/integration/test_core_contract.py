"""The recording contract, run identically on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application import Ledger, decode_leaf_fast
from ledger.envelope import Submission
from ledger.errors import BatchRejected, NonceReused, RuleViolation, VersionConflict
from ledger.store import DatabaseURL, leaf_hash_of
from tests.factories import BUYER_ID, SUPPLIER_ID, World, contract_body, make_world

STREAM = "contract/HM-2026-001"


def pay(payment_id: str, amount: int, milestone: str | None = "m1") -> dict[str, Any]:
    body: dict[str, Any] = {"payment_id": payment_id, "amount_fen": amount,
                            "paid_on": "2026-08-01", "method": "transfer",
                            "voucher_ref": f"V-{payment_id}", "purpose": "principal"}
    if milestone:
        body["milestone_id"] = milestone
    return body


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = make_world(database_url)
    yield w
    w.ledger.close()


def test_receipts_are_dense_and_chained(world: World) -> None:
    start = world.ledger.size()
    first = world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    second = world.post(world.keys["supplier"], "contract.countersigned", STREAM,
                        {"party_id": SUPPLIER_ID})
    third = world.post(world.keys["finance"], "payment.made", STREAM, pay("p1", 1000))
    receipts = [first.receipt, second.receipt, third.receipt]
    assert [r.leaf_index for r in receipts] == [start, start + 1, start + 2]
    assert [r.version for r in receipts] == [1, 2, 3]
    assert all(o.created for o in (first, second, third))
    events = world.ledger.stream_events(STREAM)
    assert [e.prev for e in events] == [None, receipts[0].leaf_hash, receipts[1].leaf_hash]
    # Every stored leaf hashes to its receipt, and the stored bytes are the leaf.
    for receipt in receipts:
        leaf = world.ledger.leaf(receipt.leaf_index)
        assert leaf is not None
        assert leaf_hash_of(leaf) == receipt.leaf_hash
        assert hashlib.sha256(b"\x00" + leaf).digest() == receipt.leaf_hash
    assert world.ledger.size() == start + 3
    # Indices over the whole log are exactly 0..n-1.
    assert [i for i, _ in world.ledger.leaves(0, world.ledger.size())] == list(
        range(world.ledger.size()))


def test_leaf_holds_the_envelope_exactly_as_received(world: World) -> None:
    sub = world.sign(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    outcome = world.ledger.record(sub)
    leaf = decode_leaf_fast(world.ledger.leaf(outcome.receipt.leaf_index) or b"")
    assert leaf["envelope"] == sub.envelope_bytes
    assert leaf["signature"] == sub.signature
    assert leaf["stream"] == STREAM and leaf["version"] == 1 and leaf["prev"] is None
    assert leaf["type"] == "contract.signed" and leaf["v"] == 1
    assert leaf["recorded_at"] == "2026-11-25T08:00:00Z"


def test_identical_submission_returns_the_original_receipt(world: World) -> None:
    sub = world.sign(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    first = world.ledger.record(sub)
    size = world.ledger.size()
    world.clock.advance(days=3)
    again = world.ledger.record(sub)
    assert again.created is False
    assert again.receipt == first.receipt
    assert world.ledger.size() == size


def test_nonce_reused_with_a_different_envelope_is_a_conflict(world: World) -> None:
    world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body(),
               nonce=b"\x01" * 16)
    size = world.ledger.size()
    with pytest.raises(NonceReused, match="nonce"):
        world.post(world.keys["buyer"], "contract.signed", "contract/OTHER",
                   contract_body("OTHER"), nonce=b"\x01" * 16)
    assert world.ledger.size() == size
    # The same nonce from another signer is fine.
    world.post(world.keys["supplier"], "contract.countersigned", STREAM,
               {"party_id": SUPPLIER_ID}, nonce=b"\x01" * 16)


def test_expect_version_mismatch_is_a_conflict(world: World) -> None:
    world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body(),
               expect_version=0)
    with pytest.raises(VersionConflict, match="holds 1 events"):
        world.post(world.keys["supplier"], "contract.countersigned", STREAM,
                   {"party_id": SUPPLIER_ID}, expect_version=0)
    ok = world.post(world.keys["supplier"], "contract.countersigned", STREAM,
                    {"party_id": SUPPLIER_ID}, expect_version=1)
    assert ok.receipt.version == 2


def test_existing_id_is_a_conflict(world: World) -> None:
    world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    from ledger.errors import AlreadyExists

    with pytest.raises(AlreadyExists):
        world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())


def test_batch_is_all_or_nothing(world: World) -> None:
    world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    size = world.ledger.size()
    good = [world.sign(world.keys["finance"], "payment.made", STREAM, pay(f"p{i}", 100))
            for i in range(3)]
    bad = world.sign(world.keys["finance"], "payment.made", STREAM,
                     pay("p-huge", 10**12))  # more than is owed
    forged = world.sign(world.keys["finance"], "payment.made", STREAM, pay("p-x", 100))
    forged = type(forged)(forged.envelope_bytes, bytes(64))
    with pytest.raises(BatchRejected) as info:
        world.ledger.record_batch([good[0], bad, good[1], forged, good[2]])
    failures = {index: error for index, error in info.value.failures}
    assert set(failures) == {1, 3}
    assert isinstance(failures[1], RuleViolation) and failures[1].rule == "OVERPAYMENT"
    assert failures[3].code == "bad_signature"
    assert world.ledger.size() == size
    problem = info.value.to_problem()
    assert [e["index"] for e in problem["errors"]] == [1, 3]
    # Without the bad items the same batch records, in order, in one go.
    outcomes = world.ledger.record_batch(good)
    assert [o.receipt.leaf_index for o in outcomes] == [size, size + 1, size + 2]
    assert [o.receipt.version for o in outcomes] == [2, 3, 4]


def test_batch_items_see_earlier_items(world: World) -> None:
    signed = world.sign(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    countersigned = world.sign(world.keys["supplier"], "contract.countersigned", STREAM,
                               {"party_id": SUPPLIER_ID})
    paid = world.sign(world.keys["finance"], "payment.made", STREAM, pay("p1", 20_000_000))
    over = world.sign(world.keys["finance"], "payment.made", STREAM, pay("p2", 1))
    with pytest.raises(BatchRejected) as info:
        world.ledger.record_batch([signed, countersigned, paid, over])
    assert [i for i, _ in info.value.failures] == [3]
    outcomes = world.ledger.record_batch([signed, countersigned, paid])
    assert [o.receipt.version for o in outcomes] == [1, 2, 3]
    events = world.ledger.stream_events(STREAM)
    assert events[2].prev == events[1].leaf_hash


def test_identical_items_in_a_batch_and_rerun(world: World) -> None:
    signed = world.sign(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    p1 = world.sign(world.keys["finance"], "payment.made", STREAM, pay("p1", 100))
    first = world.ledger.record_batch([signed, p1, p1])
    assert first[2].receipt == first[1].receipt and first[2].created is False
    size = world.ledger.size()
    p2 = world.sign(world.keys["finance"], "payment.made", STREAM, pay("p2", 100))
    rerun = world.ledger.record_batch([signed, p1, p2])
    assert [o.created for o in rerun] == [False, False, True]
    assert rerun[0].receipt == first[0].receipt
    assert world.ledger.size() == size + 1


def test_key_registered_earlier_in_the_batch_can_sign_later_items(world: World) -> None:
    from ledger.keys import SignerKey
    from tests.factories import seed

    new_key = SignerKey.from_seed(f"{BUYER_ID}/procurement-2", seed(42))
    reg = world.sign(world.operator, "key.registered", f"party/{BUYER_ID}",
                     {"party_id": BUYER_ID, "vkey": new_key.verifier.vkey, "roles": ["buyer"]})
    signed = world.sign(new_key, "contract.signed", STREAM, contract_body())
    outcomes = world.ledger.record_batch([reg, signed])
    assert all(o.created for o in outcomes)


def test_dense_indices_after_a_rolled_back_transaction(database_url: str) -> None:
    """Two writers on one database; the stale one's transaction rolls back and is retried."""
    world = make_world(database_url)
    other = Ledger(database_url, clock=world.clock, verify_workers=1)
    try:
        world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
        stale = copy.deepcopy(other.load_stream(STREAM))
        world.post(world.keys["supplier"], "contract.countersigned", STREAM,
                   {"party_id": SUPPLIER_ID})
        calls = {"n": 0}
        real_load = other.load_stream

        def load_stale_once(name: str) -> Any:
            if name == STREAM and calls["n"] == 0:
                calls["n"] += 1
                return copy.deepcopy(stale)
            return real_load(name)

        other.load_stream = load_stale_once  # type: ignore[method-assign]
        outcome = other.record(world.sign(world.keys["finance"], "payment.made", STREAM,
                                          pay("p1", 500)))
        assert calls["n"] == 1  # the stale state was used, and the save was retried
        assert outcome.receipt.version == 3
        size = other.size()
        assert [i for i, _ in other.leaves(0, size)] == list(range(size))
        events = other.stream_events(STREAM)
        assert [e.version for e in events] == [1, 2, 3]
        assert events[2].prev == events[1].leaf_hash
        url = DatabaseURL.parse(database_url)
        if url.dialect == "postgres":
            conn = url.connect()
            try:
                ids = [r[0] for r in conn.execute(
                    "SELECT notification_id FROM ledger_events ORDER BY notification_id")]
            finally:
                conn.close()
            # The rolled-back insert consumed a sequence value: ids have a gap,
            # leaf indices do not.
            assert ids[-1] - ids[0] + 1 > len(ids)
    finally:
        other.close()
        world.ledger.close()


def test_state_survives_a_restart(database_url: str) -> None:
    world = make_world(database_url)
    world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    world.ledger.close()
    reopened = Ledger(database_url, clock=world.clock, verify_workers=1)
    try:
        world.ledger = reopened
        # The payment cap needs the contract's state, rebuilt from the stored leaves.
        with pytest.raises(RuleViolation, match="OVERPAYMENT"):
            world.post(world.keys["finance"], "payment.made", STREAM, pay("p1", 20_000_001))
        ok = world.post(world.keys["finance"], "payment.made", STREAM, pay("p1", 20_000_000))
        assert ok.receipt.version == 2
        # Initialising again is a no-op.
        assert reopened.initialise(world.operator, "x", "y") is False
    finally:
        reopened.close()


def test_buyer_party_id_in_events(world: World) -> None:
    world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
    events = world.ledger.stream_events(STREAM)
    assert events[0].body["buyer"] == BUYER_ID
    assert events[0].signer == world.keys["buyer"].name


def test_large_batch_with_a_forged_signature_verified_by_workers(database_url: str) -> None:
    """Signatures of big batches are checked by worker processes while the batch is
    decided; a failure found there rejects the batch and leaves no trace in memory."""
    world = make_world(database_url, verify_workers=2)
    try:
        world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
        size = world.ledger.size()
        subs = [world.sign(world.keys["finance"], "payment.made", STREAM, pay(f"p{i}", 10))
                for i in range(100)]
        forged = Submission(subs[70].envelope_bytes, bytes(64))
        with pytest.raises(BatchRejected) as info:
            world.ledger.record_batch([*subs[:70], forged, *subs[71:]])
        assert [(i, e.code) for i, e in info.value.failures] == [(70, "bad_signature")]
        assert world.ledger.size() == size
        # The cached contract state was not advanced by the rejected batch.
        outcomes = world.ledger.record_batch(subs)
        assert [o.receipt.version for o in outcomes] == list(range(2, 102))
        assert [o.receipt.leaf_index for o in outcomes] == list(range(size, size + 100))
    finally:
        world.ledger.close()


def test_a_failure_after_the_insert_leaves_nothing_behind(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree nodes are the last thing written in a batch's transaction: when writing
    them fails, the events, leaves and nonces written before it are rolled back too."""
    world = make_world(database_url)
    try:
        world.post(world.keys["buyer"], "contract.signed", STREAM, contract_body())
        size = world.ledger.size()
        subs = [world.sign(world.keys["finance"], "payment.made", STREAM, pay(f"p{i}", 10))
                for i in range(20)]
        tree = type(world.ledger.app.recorder.tree)

        def broken_append(self: Any, cursor: Any, start: int, hashes: Any) -> bytes:
            raise RuntimeError("disk full while writing tree nodes")

        monkeypatch.setattr(tree, "append", broken_append)
        with pytest.raises(RuntimeError, match="disk full"):
            world.ledger.record_batch(subs)
        monkeypatch.undo()

        url = DatabaseURL.parse(database_url)
        conn = url.connect()
        try:
            counts = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                      for table in ("leaves", "nonces")}
            events = conn.execute(
                "SELECT COUNT(*) FROM " + ("ledger_events" if url.dialect == "postgres"
                                           else "stored_events")).fetchone()[0]
        finally:
            conn.close()
        assert counts == {"leaves": size, "nonces": size}
        assert events == size
        # The same batch then records whole, at the next dense indices.
        outcomes = world.ledger.record_batch(subs)
        assert [o.receipt.leaf_index for o in outcomes] == list(range(size, size + 20))
        assert world.ledger.size() == size + 20
        assert [e.version for e in world.ledger.stream_events(STREAM)] == list(range(1, 22))
    finally:
        world.ledger.close()


def test_streams_preloaded_in_bulk_equal_those_the_repository_loads(database_url: str) -> None:
    world = make_world(database_url)
    names = [f"contract/HM-PRE-{i}" for i in range(5)]
    for i, name in enumerate(names):
        world.post(world.keys["buyer"], "contract.signed", name, contract_body(f"HM-PRE-{i}"))
        for j in range(i):
            world.post(world.keys["finance"], "payment.made", name, pay(f"p{i}-{j}", 10))
    world.ledger.close()
    fresh = Ledger(database_url, clock=world.clock, verify_workers=0)
    try:
        fresh.preload_streams([*names, f"party/{BUYER_ID}", "contract/HM-NONE"])
        assert set(fresh._streams) == {*names, f"party/{BUYER_ID}"}
        for name in [*names, f"party/{BUYER_ID}"]:
            bulk, single = fresh._streams[name], fresh.load_stream(name)
            assert single is not None
            assert (bulk.id, bulk.version, bulk.head, bulk.stream, bulk.state) == (
                single.id, single.version, single.head, single.stream, single.state)
            assert (bulk.created_on, bulk.modified_on) == (single.created_on,
                                                           single.modified_on)
        # Recording on the preloaded state chains onto the stored heads.
        world.ledger = fresh
        outcome = world.post(world.keys["finance"], "payment.made", names[4], pay("p-last", 10))
        assert outcome.receipt.version == 6  # a signing and four payments before it
        assert fresh.stream_events(names[4])[-1].prev == fresh.stream_events(names[4])[-2].leaf_hash
    finally:
        fresh.close()


def test_the_nonce_lookup_searches_by_key_however_long_the_log(database_url: str) -> None:
    from ledger.application import nonce_lookup_sql

    world = make_world(database_url)
    try:
        signed = world.sign(world.keys["buyer"], "contract.signed", STREAM, contract_body())
        receipt = world.ledger.record(signed).receipt
        envelope = signed.decode()
        if world.ledger.url.dialect == "sqlite":
            with world.ledger.reader.cursor() as c:
                plan = " | ".join(str(row[3]) for row in c.execute(
                    "EXPLAIN QUERY PLAN " + nonce_lookup_sql(3), ["a", b"x"] * 3).fetchall())
            assert "SEARCH n USING PRIMARY KEY" in plan and "SCAN n" not in plan, plan
        found = world.ledger._recorded_nonces([(envelope.signer, envelope.nonce),
                                               (envelope.signer, bytes(16))])
        assert found == {(envelope.signer, envelope.nonce): (signed.envelope_sha256, receipt)}
    finally:
        world.ledger.close()
