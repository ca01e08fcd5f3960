"""Envelope signatures checked on worker processes, with the calling thread helping.

Ed25519 checks are independent of each other and of everything else that recording a
batch or replaying a log decides, and they are the largest share of its CPU time. The
library releases the GIL while it verifies, but a thread has to take the GIL back
between two checks, and the thread deciding the batch holds it nearly all the time:
measured here, a verify thread beside a deciding thread managed about 70 % of its
solo rate. Worker processes have no such contention.

A submitted batch is sent whole to every worker and cut into small chunks that the
workers claim from the front, under a lock in shared memory, without waiting on this
process. When the caller asks for the results it claims the chunks still unclaimed
from the back and checks them itself, so both sides stay busy whichever is ahead.
(A process-pool executor was tried first: its feeder thread needs the GIL to hand
each chunk over, and so starved the worker while the batch was being decided.)
Batches of fewer than eight are checked inline: sending them would cost more than it
saves. Larger ones go to the workers even when small, because the process that records
them is the busier one, and in chunks of eight, so that the caller still finds work to
help with when a group commit of 32 submissions asks for its results: measured with
bench/http.py's 32 clients (2026-11-30), group commits ran about 10 % faster with their
checks on the worker than inline, and chunks of 8 about 5 % faster than chunks of 32,
while batches of 500 recorded at the same rate with either chunk size. When a
worker dies, what it held is checked inline and the pool is started afresh.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .envelope import signing_message

log = logging.getLogger(__name__)

# (Ed25519 public key, envelope bytes, signature), as `Submission.verify_with` checks it.
Check = tuple[bytes, bytes, bytes]


@lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> Ed25519PublicKey | None:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


def check_signatures(checks: Sequence[Check]) -> list[bool]:
    """Whether each envelope signature verifies (domain-separated) under its key."""
    results = []
    for public, envelope, signature in checks:
        key = _public_key(public)
        ok = key is not None and len(signature) == 64
        if ok:
            assert key is not None
            try:
                key.verify(signature, signing_message(envelope))
            except InvalidSignature:
                ok = False
        results.append(ok)
    return results


class PendingChecks:
    """The results of one submitted batch of checks, in submission order."""

    def __init__(self, pool: SignaturePool | None, batch: int, parts: list[list[Check]]) -> None:
        self._pool = pool
        self._batch = batch
        self._parts = parts
        self._results: list[bool] | None = None
        if pool is None:
            self._results = [ok for part in parts for ok in check_signatures(part)]

    def result(self) -> list[bool]:
        """Help with the chunks no worker has claimed, then collect the workers' ones."""
        if self._results is None:
            assert self._pool is not None
            done = self._pool.finish(self._batch, self._parts)
            self._results = [ok for part in done for ok in part]
        return self._results


# Nobody holds the claims' lock for more than a few integer operations: a longer wait
# means its holder died holding it (killed in between), and it will never be released.
LOCK_TIMEOUT = 5.0


class _Shared:
    """Chunk claims, shared with the workers: [batch id, next front chunk, end]."""

    def __init__(self, context: Any) -> None:
        self.lock = context.Lock()
        self.cells = context.RawArray("q", 3)

    @contextlib.contextmanager
    def claims(self) -> Iterator[Any]:
        """The cells, under the lock; OSError if the lock cannot be had."""
        if not self.lock.acquire(timeout=LOCK_TIMEOUT):
            raise OSError("the signature workers' lock was not released (a worker died "
                          "holding it?)")
        try:
            yield self.cells
        finally:
            self.lock.release()


def _work(tasks: Connection, results: Connection, shared: _Shared) -> None:
    """A worker: for each batch received, claim chunks from the front until none are left."""
    # Ctrl-C reaches the whole process group: the parent stops its workers (closing their
    # pipes ends this loop), so the interrupt is not theirs to die of with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results.send(None)  # ready
    while True:
        try:
            message = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        batch, parts = pickle.loads(message)  # noqa: S301 - from our own parent process
        while True:
            with shared.lock:
                if shared.cells[0] != batch or shared.cells[1] >= shared.cells[2]:
                    break
                index = shared.cells[1]
                shared.cells[1] = index + 1
            results.send((batch, index, check_signatures(parts[index])))


@dataclass
class _Process:
    process: Any
    tasks: Connection
    results: Connection


class SignaturePool:
    """``workers`` processes (started on first use) checking signatures in chunks.

    One batch is shared at a time: every worker receives the whole batch and claims
    chunks from its front; the caller, when it asks for the results, claims from the
    back. Submitting a batch abandons any earlier one that was not collected."""

    def __init__(self, workers: int, *, chunk: int = 8, threshold: int = 8) -> None:
        self.workers = max(0, workers)
        self.chunk = chunk
        self.threshold = threshold
        self._context = multiprocessing.get_context("spawn")
        self._shared: _Shared | None = None
        self._processes: list[_Process] = []
        self._batch = 0
        self._unavailable = False

    def submit(self, checks: Sequence[Check]) -> PendingChecks:
        parts = [list(checks[i:i + self.chunk]) for i in range(0, len(checks), self.chunk)]
        if self.workers == 0 or self._unavailable or len(checks) < self.threshold:
            return PendingChecks(None, 0, parts)
        try:
            shared = self._start()
            self._drain()
            self._batch += 1
            with shared.claims() as cells:
                cells[0], cells[1], cells[2] = self._batch, 0, len(parts)
            message = pickle.dumps((self._batch, parts), protocol=pickle.HIGHEST_PROTOCOL)
            for worker in self._processes:
                worker.tasks.send_bytes(message)
        except OSError:
            self.close()
            return PendingChecks(None, 0, parts)
        return PendingChecks(self, self._batch, parts)

    def finish(self, batch: int, parts: list[list[Check]]) -> list[list[bool]]:
        done: list[list[bool] | None] = [None] * len(parts)
        shared = self._shared
        if shared is None or batch != self._batch:
            return [check_signatures(part) for part in parts]  # abandoned
        while True:
            try:
                with shared.claims() as cells:
                    front, end = cells[1], cells[2]
                    if front >= end:
                        break
                    cells[2] = index = end - 1
            except OSError as error:
                # The workers cannot be trusted to finish: check what is left here.
                log.warning("signature workers stuck, checking inline: %s", error)
                self.close(wait=False)
                return [part if part is not None else check_signatures(parts[i])
                        for i, part in enumerate(done)]
            done[index] = check_signatures(parts[index])
        waiting = {i for i in range(front) if done[i] is None}
        while waiting:
            connections = {id(w.results): w.results for w in self._processes}
            for ready in wait(list(connections.values()), timeout=1.0):
                try:
                    got_batch, index, result = connections[id(ready)].recv()
                except (EOFError, OSError):
                    continue
                if got_batch == batch and index in waiting:
                    done[index] = result
                    waiting.discard(index)
            if waiting and not all(w.process.is_alive() for w in self._processes):
                # A worker died holding a chunk: check what is missing here.
                for index in waiting:
                    done[index] = check_signatures(parts[index])
                self.close()
                break
        return [part if part is not None else [] for part in done]

    def start(self) -> None:
        """Start the workers now rather than with the first large batch."""
        if self.workers > 0 and not self._unavailable:
            try:
                self._start()
            except OSError as error:
                log.warning("signature workers did not start: %s", error)

    def _start(self) -> _Shared:
        """The running workers' shared state, (re)starting them if needed; OSError if not."""
        if self._shared is not None and all(w.process.is_alive() for w in self._processes):
            return self._shared
        try:
            return self._spawn()
        except OSError:
            raise
        except Exception as error:
            # E.g. inside a daemonic process, which may not have children: check
            # inline from now on rather than fail every batch.
            log.warning("signature workers unavailable, checking inline: %r", error)
            self._unavailable = True
            self.close()
            raise OSError(str(error)) from error

    def _spawn(self) -> _Shared:
        self.close()
        shared = _Shared(self._context)
        for _ in range(self.workers):
            task_reader, task_writer = self._context.Pipe(duplex=False)
            result_reader, result_writer = self._context.Pipe(duplex=False)
            # spawn: a worker inherits no threads, locks or database connections.
            process = self._context.Process(target=_work, args=(task_reader, result_writer, shared),
                                            daemon=True, name="ledger-signatures")
            process.start()
            task_reader.close()
            result_writer.close()
            self._processes.append(_Process(process, task_writer, result_reader))
        for worker in self._processes:
            if not worker.results.poll(60) or worker.results.recv() is not None:
                self.close()
                raise OSError("a signature worker did not start")
        self._shared = shared
        return shared

    def _drain(self) -> None:
        """Read results left by an abandoned batch, so no pipe fills up."""
        for worker in self._processes:
            try:
                while worker.results.poll():
                    worker.results.recv()
            except EOFError as error:  # the worker is gone
                raise OSError("a signature worker exited") from error

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers: asked to finish (``wait``), or at once."""
        processes, self._processes, self._shared = self._processes, [], None
        for worker in processes:
            with contextlib.suppress(OSError):
                worker.tasks.send_bytes(b"")
            worker.tasks.close()
        for worker in processes:
            worker.process.join(timeout=5 if wait else 0)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join()
            worker.results.close()
