"""Group commit: concurrent single submissions share one transaction.

Handlers enqueue a submission and await its own outcome; one writer task drains the
queue into ``Ledger.record_each`` on a worker thread. A receipt is sent only after the
transaction holding its event has committed.

Each transaction has a fixed cost (its queries, the commit, the fold that follows), so
fewer, larger groups cost less per event. When a commit returns, the clients it answered
usually send their next submission within a round trip; rather than commit the few that
queued meanwhile and make the answered clients wait for the next group, the writer waits
until ``linger`` seconds after the commit for them to arrive too: for as many as the
commit answered plus those that queued behind it. A client arriving after the linger
goes at once, so does one whose last group it was alone in; when a wait runs out (some
answered clients send only once), the writer stops waiting for ``LINGER_BACKOFF``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ledger.application import Ledger, Outcome
from ledger.envelope import Submission
from ledger.errors import LedgerError, ServiceUnavailable

from .metrics import Metrics

# After a wait for answered clients runs out, how long to commit without waiting.
LINGER_BACKOFF = 0.1

log = logging.getLogger(__name__)


@dataclass
class _Waiting:
    submission: Submission
    future: asyncio.Future[Outcome]


class GroupCommitter:
    def __init__(self, ledger: Ledger, metrics: Metrics, *, max_group: int = 500,
                 linger: float = 0.003) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self.max_group = max_group
        self.linger = linger
        self._queue: list[_Waiting] = []
        self._wakeup = asyncio.Event()
        self._enough = asyncio.Event()
        self._want = 0  # queue length the writer is waiting for (0: not waiting)
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        self._closing = True
        self._wakeup.set()
        self._enough.set()
        if self._task is not None:
            # Returns even if the writer task was cancelled or failed; whoever it left
            # unanswered is answered below or by ``_run``'s own cleanup.
            await asyncio.gather(self._task, return_exceptions=True)
        self._refuse(self._queue, "server shutting down")

    @staticmethod
    def _refuse(waiting: list[_Waiting], reason: str) -> None:
        for w in waiting:
            if not w.future.done():
                w.future.set_exception(ServiceUnavailable(reason))

    async def submit(self, submission: Submission) -> Outcome:
        if self._closing:
            raise ServiceUnavailable("server shutting down")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(submission, future))
        self._wakeup.set()
        if self._want and len(self._queue) >= self._want:
            self._enough.set()
        return await future

    async def _run(self) -> None:
        group: list[_Waiting] = []
        try:
            await self._write_groups(group)
        except Exception:
            # A fault of the writer itself (database failures are answered by
            # ``_commit``): nobody may be left waiting, so answer everyone queued and
            # start a fresh writer for those who come next.
            log.exception("the group-commit writer failed; starting it again")
            queued, self._queue = self._queue, []
            self._refuse(queued, "the server could not record this submission; send it "
                                 "again")
            if not self._closing:
                self._task = asyncio.create_task(self._run(), name="group-commit")
        finally:
            # Cancelled or failed while a group was being committed: its clients cannot
            # know whether it committed; sent again, a recorded submission is answered
            # with its receipt.
            self._refuse(group, "the server stopped while recording this submission; "
                                "send it again to learn whether it was recorded")

    async def _write_groups(self, group: list[_Waiting]) -> None:
        """The writer loop; ``group`` holds the submissions being committed."""
        loop = asyncio.get_running_loop()
        expected, deadline, calm_until = 0, 0.0, 0.0
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                if loop.time() >= calm_until and not await self._gather(
                        expected, deadline - loop.time()):
                    # Some of those answered did not come back in time (clients that
                    # send once, or a slow one): stop waiting for a while.
                    calm_until = loop.time() + LINGER_BACKOFF
                group[:] = self._queue[: self.max_group]
                del self._queue[: self.max_group]
                answered = await self._commit(group)
                # Those just answered, with those that queued behind them meanwhile.
                expected = answered + len(self._queue)
                deadline = loop.time() + self.linger
                group.clear()
            if self._closing:
                return

    async def _gather(self, want: int, timeout: float) -> bool:
        """Wait up to ``timeout`` until ``want`` submissions (at most a group) are
        queued; False if the time ran out first."""
        want = min(want, self.max_group)
        if timeout <= 0 or self._closing or len(self._queue) >= want:
            return True
        self._want = want
        self._enough.clear()
        try:
            await asyncio.wait_for(self._enough.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self._want = 0
        return True

    async def _commit(self, group: list[_Waiting]) -> int:
        """Record a group and answer its clients; how many were still there to answer."""
        self.metrics.group_commit_size.observe(len(group))
        try:
            results = await asyncio.to_thread(self.ledger.record_each,
                                              [w.submission for w in group])
        except Exception as exc:  # a database failure: nobody gets a receipt
            error = exc if isinstance(exc, LedgerError) else ServiceUnavailable(
                f"could not record: {type(exc).__name__}")
            answered = 0
            for waiting in group:
                if not waiting.future.done():
                    waiting.future.set_exception(error)
                    answered += 1
            return answered
        answered = 0
        for waiting, result in zip(group, results, strict=True):
            if waiting.future.done():  # the client went away
                continue
            answered += 1
            if isinstance(result, LedgerError):
                waiting.future.set_exception(result)
            else:
                if result.created:
                    self.metrics.events_recorded.inc()
                waiting.future.set_result(result)
        return answered
