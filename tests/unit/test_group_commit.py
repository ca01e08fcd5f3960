"""Group commit: who shares a transaction, and who waits for whom.

A stand-in for the ledger records the groups it is given (each "commit" takes a few
milliseconds on a worker thread, as a real one does), so the committer's grouping can be
observed exactly: closed-loop clients that come back after a receipt join the next group
instead of being split across two, and nobody waits for a client that is not coming.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from ledger.application import Outcome
from ledger.envelope import Submission
from ledger.errors import ServiceUnavailable
from ledger.records import Receipt
from server import committer as committer_module
from server.committer import GroupCommitter
from server.metrics import Metrics


class RecordingLedger:
    def __init__(self, commit_seconds: float = 0.004) -> None:
        self.commit_seconds = commit_seconds
        self.groups: list[int] = []
        self.size = 0

    def record_each(self, submissions: Sequence[Submission]) -> list[Outcome]:
        time.sleep(self.commit_seconds)
        self.groups.append(len(submissions))
        outcomes = []
        for _ in submissions:
            outcomes.append(Outcome(Receipt(self.size, bytes(32), "contract/X", 1,
                                            "2026-11-30T00:00:00Z"), created=True))
            self.size += 1
        return outcomes


def sub(n: int) -> Submission:
    return Submission(n.to_bytes(4, "big"), bytes(64))


async def closed_loop_clients(committer: GroupCommitter, clients: int, each: int) -> None:
    """``clients`` clients, each submitting ``each`` times, one at a time; a receipt takes
    a client 0-3 ms (its round trip) to turn into its next submission."""
    async def client(c: int) -> None:
        for i in range(each):
            await committer.submit(sub(c * 1000 + i))
            await asyncio.sleep((c % 4) / 1000)

    await asyncio.gather(*(client(c) for c in range(clients)))


async def run_clients(linger: float, clients: int = 16, each: int = 10) -> list[int]:
    ledger = RecordingLedger()
    committer = GroupCommitter(ledger, Metrics(), linger=linger)  # type: ignore[arg-type]
    committer.start()
    try:
        await closed_loop_clients(committer, clients, each)
    finally:
        await committer.stop()
    assert sum(ledger.groups) == clients * each  # every submission recorded exactly once
    return ledger.groups


async def test_clients_answered_by_a_commit_join_the_next_group() -> None:
    lingering = await run_clients(linger=0.05)
    # Every group holds all the clients: each waits for those the last one answered.
    assert lingering.count(16) >= 8, lingering
    without = await run_clients(linger=0)
    # Without waiting, the clients split into a group committing and a group queueing
    # behind it, which commit in turn: more, smaller transactions for the same work.
    assert len(without) > len(lingering), (without, lingering)


async def test_a_lone_client_never_waits_for_the_linger() -> None:
    ledger = RecordingLedger(commit_seconds=0.0)
    committer = GroupCommitter(ledger, Metrics(), linger=0.5)  # type: ignore[arg-type]
    committer.start()
    try:
        started = time.perf_counter()
        for i in range(5):
            await committer.submit(sub(i))
        elapsed = time.perf_counter() - started
    finally:
        await committer.stop()
    assert ledger.groups == [1, 1, 1, 1, 1]
    assert elapsed < 0.25  # five submissions, not one linger of 0.5 s each


async def test_the_wait_ends_at_the_linger_when_clients_do_not_come_back() -> None:
    ledger = RecordingLedger(commit_seconds=0.02)
    committer = GroupCommitter(ledger, Metrics(), linger=0.1)  # type: ignore[arg-type]
    committer.start()
    try:
        # Three one-shot clients: two commit together while the third queues; after that
        # commit the writer waits for the two answered clients, who never return.
        first = [asyncio.ensure_future(committer.submit(sub(i))) for i in range(2)]
        await asyncio.sleep(0.005)
        third = asyncio.ensure_future(committer.submit(sub(2)))
        started = time.perf_counter()
        await asyncio.gather(*first)
        await third
        waited = time.perf_counter() - started
    finally:
        await committer.stop()
    assert ledger.groups == [2, 1]
    assert 0.09 < waited < 0.3  # the commit, then at most about one linger


async def test_after_a_wait_runs_out_the_writer_stops_waiting_for_a_while(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(committer_module, "LINGER_BACKOFF", 5.0)
    ledger = RecordingLedger(commit_seconds=0.02)
    committer = GroupCommitter(ledger, Metrics(), linger=0.2)  # type: ignore[arg-type]
    committer.start()

    async def burst(start: int) -> float:
        """Two one-shot clients, and a third arriving while their commit runs."""
        first = [asyncio.ensure_future(committer.submit(sub(start + i))) for i in range(2)]
        await asyncio.sleep(0.005)
        third = asyncio.ensure_future(committer.submit(sub(start + 2)))
        began = time.perf_counter()
        await asyncio.gather(*first, third)
        return time.perf_counter() - began

    try:
        waited_first = await burst(0)
        waited_second = await burst(10)
    finally:
        await committer.stop()
    assert ledger.groups == [2, 1, 2, 1]
    assert waited_first > 0.19  # waited the linger for the two answered clients
    assert waited_second < 0.15  # did not wait again


async def test_stopping_while_waiting_for_clients_answers_the_queue() -> None:
    ledger = RecordingLedger(commit_seconds=0.02)
    committer = GroupCommitter(ledger, Metrics(), linger=5.0)  # type: ignore[arg-type]
    committer.start()
    first = [asyncio.ensure_future(committer.submit(sub(i))) for i in range(2)]
    await asyncio.sleep(0.005)
    queued = asyncio.ensure_future(committer.submit(sub(2)))
    await asyncio.gather(*first)
    await asyncio.sleep(0.01)
    assert ledger.groups == [2] and committer._want == 3  # waiting for the two answered
    started = time.perf_counter()
    await committer.stop()
    assert time.perf_counter() - started < 1.0
    # The queued submission was either committed before the stop or refused by it;
    # it is never left hanging.
    assert queued.done()
    if queued.exception() is not None:
        assert isinstance(queued.exception(), ServiceUnavailable)
    else:
        assert ledger.groups == [2, 1]


async def test_a_cancelled_writer_leaves_nobody_waiting() -> None:
    ledger = RecordingLedger(commit_seconds=0.1)
    committer = GroupCommitter(ledger, Metrics(), linger=0.0)  # type: ignore[arg-type]
    committer.start()
    in_flight = [asyncio.ensure_future(committer.submit(sub(i))) for i in range(2)]
    await asyncio.sleep(0.02)  # the writer is committing these two
    queued = asyncio.ensure_future(committer.submit(sub(2)))
    await asyncio.sleep(0)
    assert committer._task is not None
    committer._task.cancel()
    await committer.stop()
    answers = await asyncio.wait_for(
        asyncio.gather(*in_flight, queued, return_exceptions=True), 1.0)
    assert all(isinstance(a, ServiceUnavailable) for a in answers), answers
    assert all("send it again" in str(a) for a in answers[:2]), answers


async def test_a_writer_that_fails_answers_everyone_and_starts_again(
        caplog: pytest.LogCaptureFixture) -> None:
    """A fault in the writer itself (not a database error, which ``_commit`` answers):
    the group it held and the clients queued behind it are answered at once, not left
    waiting, and the next submission is recorded by a fresh writer."""
    ledger = RecordingLedger(commit_seconds=0.05)
    committer = GroupCommitter(ledger, Metrics(), linger=0.0)  # type: ignore[arg-type]
    real_commit = committer._commit
    faults = [RuntimeError("a bug in the writer")]

    async def failing_commit(group: list[committer_module._Waiting]) -> int:
        answered = await real_commit(group)
        if faults:
            raise faults.pop()
        return answered

    committer._commit = failing_commit  # type: ignore[method-assign]
    committer.start()
    first = asyncio.ensure_future(committer.submit(sub(0)))
    await asyncio.sleep(0.01)  # the writer is committing the first
    queued = [asyncio.ensure_future(committer.submit(sub(i))) for i in (1, 2)]
    answers = await asyncio.wait_for(
        asyncio.gather(first, *queued, return_exceptions=True), 1.0)
    assert isinstance(answers[0], Outcome)  # committed and answered before the fault
    assert all(isinstance(a, ServiceUnavailable) for a in answers[1:]), answers
    assert "writer failed" in caplog.text
    later = await asyncio.wait_for(committer.submit(sub(3)), 1.0)
    assert isinstance(later, Outcome) and ledger.groups[-1] == 1
    await committer.stop()
