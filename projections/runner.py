"""Follow the log into the projection store: bounded chunks, polling, restartable.

Leaf indices are dense and assigned in commit order on both backends, so the runner
polls by index: read leaves ``position .. position + chunk`` from the ``leaves`` table,
decode them, and hand them to :meth:`ProjectionStore.apply`, which folds them and
advances the tracking position in one transaction. Nothing is kept between calls that
the store does not hold, so a runner (or a process) that dies is replaced by a new
one that resumes from the stored position.

Use it three ways:

- ``await asyncio.to_thread(runner.run_once, 1000)`` from the aiohttp server, e.g.
  before answering a query at a tree size the projections have not reached;
- ``runner.start(interval)`` / ``runner.stop()``: a daemon thread that catches up and
  then polls every ``interval`` seconds;
- ``python -m projections.runner --database URL``: a separate process doing the same
  until interrupted (PostgreSQL: any number of them; they take turns on the tracking
  row lock and never fold a leaf twice).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from ledger.application import Ledger, logged_event
from ledger.store import leaf_hash_of
from projections.store import ProjectionMismatch, ProjectionStore

DEFAULT_CHUNK = 1000

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class ProjectionRunner:
    """Catches the store up with the ledger's log, one bounded chunk per transaction."""

    def __init__(self, ledger: Ledger, store: ProjectionStore, *, chunk: int = DEFAULT_CHUNK):
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        self.ledger = ledger
        self.store = store
        self.chunk = chunk
        self.last_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()

    def run_once(self, max_events: int | None = None) -> int:
        """Fold at most ``max_events`` (default: one chunk) new leaves; returns how many."""
        limit = self.chunk if max_events is None else max_events
        if limit < 1:
            return 0
        return self._fold_from(self.store.position(), limit, self.ledger.size())

    def _fold_from(self, position: int, limit: int, size: int) -> int:
        if size < position:  # never so for one log: leaves are only ever appended
            raise ProjectionMismatch(
                f"the projections have folded {position} leaves but the log holds {size}: "
                "they were folded from another log (one restored from a backup?); rebuild "
                "them")
        stop = min(size, position + limit)
        if stop <= position:
            return 0
        start = position - 1 if position > 0 else 0
        leaves = self.ledger.leaves(start, stop)
        previous: bytes | None = None
        if position > 0:
            previous = leaf_hash_of(leaves[0][1])
            leaves = leaves[1:]
        if [index for index, _ in leaves] != list(range(position, stop)):
            raise RuntimeError(f"leaves {position}..{stop - 1} are not all in the log")
        events = [logged_event(index, leaf) for index, leaf in leaves]
        return self.store.apply(events, previous_leaf_hash=previous)

    def catch_up(self, *, progress: Progress | None = None) -> int:
        """Fold chunks until the store has reached the log's size when called."""
        target = self.ledger.size()
        total = 0
        position = self.store.position()
        while position < target:
            folded = self._fold_from(position, self.chunk, target)
            total += folded
            # Folded nothing: another runner got there first; ask where the store is.
            position = min(position + self.chunk, target) if folded else self.store.position()
            if progress is not None:
                progress(position, target)
        return total

    # -- background --------------------------------------------------------
    def start(self, interval: float = 0.5) -> None:
        """Follow the log on a daemon thread, polling every ``interval`` seconds."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the projection runner is already running")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="projection-runner", daemon=True
        )
        self._thread.start()

    def poke(self) -> None:
        """Wake the background thread now (e.g. after recording events)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the background thread after its current chunk (committed or not at all)."""
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self, interval: float) -> None:
        while not self._stopping.is_set():
            try:
                folded = self.run_once()
                self.last_error = None
            except Exception as error:  # keep following; the next poll retries the chunk
                self.last_error = error
                log.exception("projection runner: folding failed; retrying in %ss", interval)
                folded = 0
            if folded == 0:
                self._wake.wait(interval)
                self._wake.clear()

    def run_forever(self, interval: float = 0.5) -> None:
        """Follow the log on the calling thread until :meth:`stop` is called."""
        self._stopping.clear()
        self._loop(interval)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m projections.runner",
        description="Fold the ledger's log into the projection store and keep following it.",
    )
    parser.add_argument("--database", required=True, help="sqlite:////abs/path or postgresql://")
    parser.add_argument("--interval", type=float, default=0.5, help="poll interval, seconds")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="leaves per transaction")
    parser.add_argument("--rebuild", action="store_true", help="start again from an empty store")
    parser.add_argument("--once", action="store_true", help="catch up, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ledger = Ledger(args.database, verify_workers=1)
    store = ProjectionStore(args.database)
    runner = ProjectionRunner(ledger, store, chunk=args.chunk)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # Interrupting anywhere is safe: a chunk's transaction commits whole or not at all.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if args.rebuild:
            store.rebuild()
        started = time.perf_counter()
        folded = runner.catch_up()
        log.info("caught up: %d leaves in %.1f s, position %d", folded,
                 time.perf_counter() - started, store.position())
        if not args.once:
            runner.run_forever(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
