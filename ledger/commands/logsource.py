"""Reading a whole log for offline checks: from a server's tiles, or from its database.

- :class:`ServerLog` pulls C2SP entry bundles (256 leaves each) and the level-0 hash
  tiles beside them (the leaf hashes the server's tree holds) for a checkpoint's size;
  the next bundles are fetched on a background thread while the caller works.
- :class:`DatabaseLog` reads the ``leaves`` table (and, for the audit, the tree, the
  stored checkpoints and the application's own copy of each event) in one read-only
  snapshot: ``sqlite:////abs/path`` is opened read-only, PostgreSQL in a
  ``REPEATABLE READ READ ONLY`` transaction.

Both yield :class:`LeafBatch` es in index order.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..client import LedgerClient
from ..errors import InvalidInput, VerificationError
from ..store import DatabaseURL
from ..tiles import TILE_WIDTH, EntryBundle, Tile, entry_bundles_for_size

HASH_SIZE = 32


@dataclass(frozen=True, slots=True)
class LeafBatch:
    start: int
    leaves: list[bytes]
    claimed_hashes: list[bytes] | None = None  # what the server's tree holds, when known
    column_hashes: list[bytes] | None = None  # the leaves table's leaf_hash column
    placements: list[tuple[str, int]] | None = None  # its stream and version columns


def parse_entry_bundle(data: bytes, start: int, width: int) -> list[bytes]:
    """Split a C2SP entry bundle (u16 big-endian length || entry, repeated)."""
    entries: list[bytes] = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise VerificationError(f"entry bundle at leaf {start} ends inside a length "
                                    "prefix", index=start + len(entries))
        length = int.from_bytes(data[position:position + 2], "big")
        position += 2
        entry = data[position:position + length]
        if len(entry) != length:
            raise VerificationError(f"entry bundle at leaf {start}: entry "
                                    f"{start + len(entries)} is cut short",
                                    index=start + len(entries))
        entries.append(entry)
        position += length
    if len(entries) != width:
        raise VerificationError(f"entry bundle at leaf {start} holds {len(entries)} entries, "
                                f"expected {width}", index=start + min(len(entries), width))
    return entries


def parse_hash_tile(data: bytes, start: int, width: int) -> list[bytes]:
    if len(data) != width * HASH_SIZE:
        raise VerificationError(f"hash tile at leaf {start} is {len(data)} bytes, expected "
                                f"{width * HASH_SIZE}", index=start)
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


class ServerLog:
    """The leaves of a server's log up to a tree size, from its tiles."""

    def __init__(self, base_url: str, *, prefetch: int = 4) -> None:
        self.base_url = base_url
        self.prefetch = max(prefetch, 1)

    def batches(self, size: int, *, with_hashes: bool = True) -> Iterator[LeafBatch]:
        bundles = entry_bundles_for_size(size)
        # One background thread with its own connection fetches ahead of the caller.
        fetcher = LedgerClient(self.base_url)

        def fetch(bundle: EntryBundle) -> LeafBatch:
            start = bundle.index * TILE_WIDTH
            leaves = parse_entry_bundle(fetcher.tile(bundle.path), start, bundle.width)
            hashes = None
            if with_hashes:
                tile = Tile(0, bundle.index, bundle.width)
                hashes = parse_hash_tile(fetcher.tile(tile.path), start, bundle.width)
            return LeafBatch(start, leaves, hashes)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiles") as pool:
            pending: deque[Future[LeafBatch]] = deque()
            queue = iter(bundles)
            try:
                for bundle in queue:
                    pending.append(pool.submit(fetch, bundle))
                    if len(pending) >= self.prefetch:
                        break
                while pending:
                    batch = pending.popleft().result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.append(pool.submit(fetch, nxt))
                    yield batch
            finally:
                for future in pending:
                    future.cancel()
                pool.shutdown(wait=True)
                fetcher.close()


class DatabaseLog:
    """A read-only snapshot of a ledger database."""

    def __init__(self, url: str) -> None:
        self.url = DatabaseURL.parse(url)
        self.dialect = self.url.dialect
        self.p = "?" if self.dialect == "sqlite" else "%s"
        self.connection = self._connect()
        self.cursor: Any = self.connection.cursor()
        if self.dialect == "sqlite":
            self.cursor.execute("BEGIN")
        else:
            self.cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if not self.has_table("leaves"):
            raise InvalidInput(f"{url} holds no ledger (no leaves table)")

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            path = Path(self.url.path)
            if not path.is_file():
                raise InvalidInput(f"no SQLite database at {path}")
            return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True,
                                   isolation_level=None, check_same_thread=False)
        try:
            return self.url.connect()
        except Exception as exc:
            from ..client import ServerUnreachable

            raise ServerUnreachable(f"cannot connect to the database: {exc}") from exc

    def close(self) -> None:
        try:
            self.cursor.close()
        finally:
            self.connection.close()

    def __enter__(self) -> DatabaseLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_table(self, name: str) -> bool:
        if self.dialect == "sqlite":
            self.cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,))
        else:
            self.cursor.execute("SELECT 1 FROM information_schema.tables WHERE table_name = %s",
                                (name,))
        return self.cursor.fetchone() is not None

    def size(self) -> int:
        self.cursor.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves")
        return int(self.cursor.fetchone()[0])

    def batches(self, size: int, *, batch: int = 2048,
                on_missing: Callable[[int], None] | None = None) -> Iterator[LeafBatch]:
        """Leaves ``0 .. size-1`` in order; a missing index is reported and skipped."""
        p = self.p
        for start in range(0, size, batch):
            stop = min(size, start + batch)
            self.cursor.execute(f"SELECT idx, leaf, leaf_hash, stream, version FROM leaves "
                                f"WHERE idx >= {p} AND idx < {p} ORDER BY idx", (start, stop))
            rows = self.cursor.fetchall()
            expected = start
            leaves: list[bytes] = []
            hashes: list[bytes] = []
            placements: list[tuple[str, int]] = []
            for idx, leaf, leaf_hash, stream, version in rows:
                while int(idx) > expected:  # a hole in the leaves table
                    if on_missing is not None:
                        on_missing(expected)
                    if leaves:
                        yield LeafBatch(expected - len(leaves), leaves, column_hashes=hashes,
                                        placements=placements)
                        leaves, hashes, placements = [], [], []
                    expected += 1
                leaves.append(bytes(leaf))
                hashes.append(bytes(leaf_hash))
                placements.append((str(stream), int(version)))
                expected += 1
            if leaves:
                yield LeafBatch(expected - len(leaves), leaves, column_hashes=hashes,
                                placements=placements)
            for missing in range(expected, stop):
                if on_missing is not None:
                    on_missing(missing)

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        if not self.has_table("checkpoints"):
            return []
        self.cursor.execute("SELECT size, root, note FROM checkpoints ORDER BY size")
        return [(int(s), bytes(r), str(n)) for s, r, n in self.cursor.fetchall()]

    # The application's own copy of each event --------------------------------------
    @property
    def events_table(self) -> str:
        return "stored_events" if self.dialect == "sqlite" else "ledger_events"

    def stream_leaves(self, stream: str) -> list[tuple[int, int, bytes]]:
        self.cursor.execute(f"SELECT version, idx, leaf FROM leaves WHERE stream = {self.p} "
                            "ORDER BY version", (stream,))
        return [(int(v), int(i), bytes(leaf)) for v, i, leaf in self.cursor.fetchall()]

    def stored_events(self, originator: Any) -> list[tuple[int, bytes]]:
        key = originator.hex if self.dialect == "sqlite" else originator
        self.cursor.execute(f"SELECT originator_version, state FROM {self.events_table} "
                            f"WHERE originator_id = {self.p} ORDER BY originator_version",
                            (key,))
        return [(int(v), bytes(state)) for v, state in self.cursor.fetchall()]

    def stored_event_count(self) -> int:
        self.cursor.execute(f"SELECT COUNT(*) FROM {self.events_table}")
        return int(self.cursor.fetchone()[0])


__all__ = ["DatabaseLog", "LeafBatch", "ServerLog", "parse_entry_bundle", "parse_hash_tile"]
