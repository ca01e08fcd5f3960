"""Group commit: concurrent single submissions share one transaction.

Handlers enqueue a submission and await its own outcome; one writer task drains the
queue into ``Ledger.record_each`` on a worker thread. A receipt is sent only after the
transaction holding its event has committed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ledger.application import Ledger, Outcome
from ledger.envelope import Submission
from ledger.errors import LedgerError, ServiceUnavailable

from .metrics import Metrics


@dataclass
class _Waiting:
    submission: Submission
    future: asyncio.Future[Outcome]


class GroupCommitter:
    def __init__(self, ledger: Ledger, metrics: Metrics, *, max_group: int = 500) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self.max_group = max_group
        self._queue: list[_Waiting] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        for waiting in self._queue:
            if not waiting.future.done():
                waiting.future.set_exception(ServiceUnavailable("server shutting down"))

    async def submit(self, submission: Submission) -> Outcome:
        if self._closing:
            raise ServiceUnavailable("server shutting down")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(submission, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                group = self._queue[: self.max_group]
                del self._queue[: self.max_group]
                await self._commit(group)
            if self._closing:
                return

    async def _commit(self, group: list[_Waiting]) -> None:
        self.metrics.group_commit_size.observe(len(group))
        try:
            results = await asyncio.to_thread(self.ledger.record_each,
                                              [w.submission for w in group])
        except Exception as exc:  # a database failure: nobody gets a receipt
            error = exc if isinstance(exc, LedgerError) else ServiceUnavailable(
                f"could not record: {type(exc).__name__}")
            for waiting in group:
                if not waiting.future.done():
                    waiting.future.set_exception(error)
            return
        for waiting, result in zip(group, results, strict=True):
            if waiting.future.done():  # the client went away
                continue
            if isinstance(result, LedgerError):
                waiting.future.set_exception(result)
            else:
                if result.created:
                    self.metrics.events_recorded.inc()
                waiting.future.set_result(result)
