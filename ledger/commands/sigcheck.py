"""Envelope signatures checked on every core: a process pool fed in chunks.

The audit's replay decides, in log order, which registered key must have signed each
leaf; the Ed25519 checks themselves are independent, so they run here in worker
processes (``spawn``: no inherited threads or connections) while the replay goes on.
With ``processes = n`` there are n - 1 workers, and the main process, between replay
steps, checks a chunk itself whenever the workers are behind: all n cores stay busy
whichever of replay and verification is the slower. Small logs are checked in-process:
starting workers would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache

from ..envelope import Submission
from ..keys import VerifierKey

# (leaf index, key name, public key, envelope bytes, signature)
SignatureJob = tuple[int, str, bytes, bytes, bytes]

CHUNK = 1024
POOL_THRESHOLD = 8192  # leaves; below this one process is faster


@lru_cache(maxsize=4096)
def _key(name: str, public: bytes) -> VerifierKey:
    return VerifierKey.from_public(name, public)


def verify_chunk(jobs: list[SignatureJob]) -> list[int]:
    """The leaf indices whose envelope signature does not verify (domain-separated)."""
    return [index for index, name, public, envelope, signature in jobs
            if not Submission(envelope, signature).verify_with(_key(name, public))]


class SignatureChecker:
    """Collects jobs, verifies them in chunks, and reports the bad indices at the end."""

    def __init__(self, processes: int, expected_jobs: int) -> None:
        self.processes = max(1, processes) if expected_jobs >= POOL_THRESHOLD else 1
        self.workers = self.processes - 1
        self._pool: ProcessPoolExecutor | None = None
        self._buffer: list[SignatureJob] = []
        self._pending: deque[Future[list[int]]] = deque()
        self.bad: list[int] = []
        self.checked = 0

    def add(self, job: SignatureJob) -> None:
        self._buffer.append(job)
        if len(self._buffer) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        chunk, self._buffer = self._buffer, []
        if not chunk:
            return
        self.checked += len(chunk)
        if self.workers == 0:
            self.bad += verify_chunk(chunk)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        while self._pending and self._pending[0].done():
            self.bad += self._pending.popleft().result()
        if len(self._pending) >= 2 * self.workers:
            self.bad += verify_chunk(chunk)  # the workers are behind: help them
        else:
            self._pending.append(self._pool.submit(verify_chunk, chunk))

    def finish(self) -> list[int]:
        """Wait for every chunk; the bad indices in ascending order."""
        try:
            self._flush()
            while self._pending:
                self.bad += self._pending.popleft().result()
        finally:
            self.close()
        return sorted(self.bad)

    def close(self) -> None:
        if self._pool is not None:
            for future in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
