"""Write races between two processes on one database, made deterministic.

Two ``Ledger`` instances stand for two ``ledger serve`` processes. A commit by the first is
injected at a chosen point of the second's decision, the moment a real race would hit; the
outcome must be what DESIGN 6 promises whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.envelope import Submission
from ledger.errors import NonceReused
from tests.factories import World, contract_body, make_world

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
