"""Write races between two processes on one database, made deterministic.

Two ``Ledger`` instances stand for two ``ledger serve`` processes. A commit by the first is
injected at a chosen point of the second's decision, the moment a real race would hit; the
outcome must be what DESIGN 6 promises whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application import Ledger, WriteConflicts
from ledger.envelope import Submission
from ledger.errors import KeyRevoked, NonceReused
from ledger.timeutil import format_instant
from tests.factories import FINANCE_ID, World, contract_body, make_world

STREAM = "contract/RACE-1"


@pytest.fixture
def two_writers(database_url: str) -> Iterator[tuple[World, Ledger]]:
    world = make_world(database_url)
    other = Ledger(database_url, clock=world.clock, verify_workers=1)
    # Opened by the other process: this one has not cached the stream.
    other.record(world.sign(world.keys["buyer"], "contract.signed", STREAM,
                            contract_body("RACE-1")))
    try:
        yield world, other
    finally:
        other.close()
        world.ledger.close()


def commit_elsewhere_after_nonce_lookup(monkeypatch: pytest.MonkeyPatch, ledger: Ledger,
                                        other: Ledger, submission: Submission) -> None:
    """``other`` commits ``submission`` just after ``ledger`` looked up recorded nonces."""
    original = ledger._recorded_nonces
    done: list[Any] = []

    def lookup_then_race(pairs: list[tuple[str, bytes]]) -> Any:
        found = original(pairs)
        if not done:
            done.append(other.record(submission))
        return found

    monkeypatch.setattr(ledger, "_recorded_nonces", lookup_then_race)


def payment(world: World, payment_id: str, **kwargs: Any) -> Submission:
    return world.sign(world.keys["finance"], "payment.made", STREAM, {
        "payment_id": payment_id, "milestone_id": "m1", "amount_fen": 100,
        "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": "V-1",
        "purpose": "principal"}, **kwargs)


@pytest.mark.parametrize("event", ["payment.made", "contract.signed"])
def test_identical_submission_committed_by_another_process_mid_decision(
        two_writers: tuple[World, Ledger], monkeypatch: pytest.MonkeyPatch,
        event: str) -> None:
    world, other = two_writers
    if event == "payment.made":
        submission = payment(world, "race-1")
    else:
        submission = world.sign(world.keys["buyer"], "contract.signed", "contract/RACE-2",
                                contract_body("RACE-2"))
    commit_elsewhere_after_nonce_lookup(monkeypatch, world.ledger, other, submission)
    size_before = world.ledger.size()
    outcome = world.ledger.record(submission)
    original = other.record(submission)
    assert original.created is False
    assert outcome.created is False
    assert outcome.receipt == original.receipt
    assert world.ledger.size() == size_before + 1


def test_identical_submission_committed_by_another_process_before_decision(
        two_writers: tuple[World, Ledger]) -> None:
    """Without the mid-decision window the same race is answered correctly."""
    world, other = two_writers
    submission = payment(world, "race-2")
    first = other.record(submission)
    again = world.ledger.record(submission)
    assert again.created is False and again.receipt == first.receipt


def test_nonce_reused_by_another_process_mid_decision(
        two_writers: tuple[World, Ledger], monkeypatch: pytest.MonkeyPatch) -> None:
    """A different envelope under a nonce just used elsewhere is still refused (409)."""
    world, other = two_writers
    nonce = world.nonce()
    first = payment(world, "n-1", nonce=nonce)
    second = payment(world, "n-2", nonce=nonce)
    commit_elsewhere_after_nonce_lookup(monkeypatch, world.ledger, other, first)
    size_before = world.ledger.size()
    with pytest.raises(NonceReused):
        world.ledger.record(second)
    assert world.ledger.size() == size_before + 1


def revocation(world: World) -> Submission:
    return world.sign(world.operator, "key.revoked", f"party/{FINANCE_ID}", {
        "key_name": world.keys["finance"].name, "reason": "token lost",
        "effective_at": format_instant(world.clock.now)})


def test_a_key_revoked_by_another_process_mid_decision_is_refused(
        two_writers: tuple[World, Ledger], monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch read the signer's party before the revocation committed elsewhere and
    extends another stream, so no unique constraint stops it: the log having moved on
    under what it read makes it decide again, and the key is refused."""
    world, other = two_writers
    world.ledger.record(payment(world, "before"))  # this process now caches the key
    commit_elsewhere_after_nonce_lookup(monkeypatch, world.ledger, other, revocation(world))
    size_before = world.ledger.size()
    with pytest.raises(KeyRevoked):
        world.ledger.record(payment(world, "after"))
    assert world.ledger.size() == size_before + 1  # the revocation only
    # and it stays refused: the stale key is not kept in this process's cache
    with pytest.raises(KeyRevoked):
        world.ledger.record(payment(world, "later"))


def test_a_write_elsewhere_to_streams_not_read_lets_the_batch_through(
        two_writers: tuple[World, Ledger], monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process appending to streams this batch did not read does not make it
    decide again; both land, one after the other, and this process reloads the streams
    the other one extended before using them."""
    world, other = two_writers
    world.ledger.record(payment(world, "warm"))
    world.ledger.record(world.sign(world.keys["buyer"], "contract.signed", "contract/RACE-3",
                                   contract_body("RACE-3")))  # cached here, paid elsewhere
    elsewhere = world.sign(world.keys["finance"], "payment.made", "contract/RACE-3", {
        "payment_id": "else-1", "milestone_id": "m1", "amount_fen": 100,
        "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": "V-2",
        "purpose": "principal"})
    commit_elsewhere_after_nonce_lookup(monkeypatch, world.ledger, other, elsewhere)
    decided = world.ledger._decide_and_save
    decisions: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        decisions.append(1)
        return decided(*args, **kwargs)

    monkeypatch.setattr(world.ledger, "_decide_and_save", counting)
    size_before = world.ledger.size()
    outcome = world.ledger.record(payment(world, "here"))
    assert decisions == [1]
    assert outcome.receipt.leaf_index == size_before + 1  # after the other's leaf
    assert world.ledger.size() == size_before + 2
    cached = world.ledger.cached_stream("contract/RACE-3")
    assert cached is not None and cached.version == 2  # not the stale version 1
    assert [e.index for e in world.ledger.events(size_before)] == [size_before,
                                                                        size_before + 1]


def test_a_stream_another_process_keeps_writing_fails_only_its_own_items(
        two_writers: tuple[World, Ledger], monkeypatch: pytest.MonkeyPatch) -> None:
    """Group commit: another process commits to STREAM every time this one is about to
    save. The item on STREAM cannot be recorded (503), but the item on a stream nobody
    else writes must be: it failed with its group-mate (every item got the 503)."""
    world, other = two_writers
    world.ledger.record(world.sign(world.keys["buyer"], "contract.signed", "contract/COLD",
                                   contract_body("COLD")))
    hot = payment(world, "hot")
    cold = world.sign(world.keys["finance"], "payment.made", "contract/COLD", {
        "payment_id": "cold", "milestone_id": "m1", "amount_fen": 100,
        "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": "V-2",
        "purpose": "principal"})
    hot_pair = (hot.decode().signer, hot.decode().nonce)
    original = world.ledger._recorded_nonces
    count = iter(range(10_000))

    def lookup_then_race(pairs: list[tuple[str, bytes]]) -> Any:
        found = original(pairs)
        if hot_pair in pairs:  # deciding the item on STREAM: the other process writes
            other.record(payment(world, f"elsewhere-{next(count)}"))
        return found

    monkeypatch.setattr(world.ledger, "_recorded_nonces", lookup_then_race)
    results = world.ledger.record_each([hot, cold])
    assert isinstance(results[0], WriteConflicts)
    assert not isinstance(results[1], Exception) and results[1].created
