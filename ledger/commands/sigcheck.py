"""Envelope signatures of an audit checked on every core.

The audit's replay decides, in log order, which registered key must have signed each
leaf; the Ed25519 checks themselves are independent, so they go to the worker processes
of :mod:`ledger.sigpool` in blocks while the replay goes on: block k is checked while
the replay reads block k + 1, and collecting block k makes this process help with what
the workers have not started. With ``processes = n`` there are n - 1 workers. Small logs
are checked in-process: starting workers would cost more than it saves.
"""

from __future__ import annotations

from ..sigpool import PendingChecks, SignaturePool, check_signatures

# (leaf index, key name, public key, envelope bytes, signature)
SignatureJob = tuple[int, str, bytes, bytes, bytes]

CHUNK = 2048
POOL_THRESHOLD = 8192  # leaves; below this one process is faster


def verify_chunk(jobs: list[SignatureJob]) -> list[int]:
    """The leaf indices whose envelope signature does not verify (domain-separated)."""
    results = check_signatures([(public, envelope, signature)
                                for _i, _n, public, envelope, signature in jobs])
    return [job[0] for job, ok in zip(jobs, results, strict=True) if not ok]


class SignatureChecker:
    """Collects jobs, verifies them in blocks, and reports the bad indices at the end."""

    def __init__(self, processes: int, expected_jobs: int) -> None:
        self.processes = max(1, processes) if expected_jobs >= POOL_THRESHOLD else 1
        self.workers = self.processes - 1
        self._pool = SignaturePool(self.workers, chunk=32, threshold=1)
        self._buffer: list[SignatureJob] = []
        self._pending: tuple[list[SignatureJob], PendingChecks] | None = None
        self.bad: list[int] = []
        self.checked = 0

    def add(self, job: SignatureJob) -> None:
        self._buffer.append(job)
        if len(self._buffer) >= CHUNK:
            self._flush()

    def _collect(self) -> None:
        if self._pending is not None:
            jobs, pending = self._pending
            self._pending = None
            self.bad += [job[0] for job, ok in zip(jobs, pending.result(), strict=True)
                         if not ok]

    def _flush(self) -> None:
        block, self._buffer = self._buffer, []
        self._collect()
        if block:
            self.checked += len(block)
            self._pending = (block, self._pool.submit(
                [(public, envelope, signature) for _i, _n, public, envelope, signature in block]))

    def finish(self) -> list[int]:
        """Wait for every block; the bad indices in ascending order."""
        try:
            self._flush()
            self._collect()
        finally:
            self.close()
        return sorted(self.bad)

    def close(self) -> None:
        self._pending = None
        self._pool.close()
