"""The log's read side and its checkpoints: proofs, tiles, entries, signed tree heads.

Works on the tables the recorders write (``leaves``, ``tree_nodes``) and keeps the
signed checkpoints in ``checkpoints``. Proofs come from O(log n) stored nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg.rows import tuple_row

from .checkpointer import Checkpointer, SignedCheckpoint
from .errors import EntryNotFound, InvalidInput, NotFound
from .keys import SignerKey, VerifierKey
from .tiles import read_path
from .timeutil import Clock, utc_now
from .treestore import ConsistencyProof, InclusionProof, TreeStore


class Log:
    def __init__(self, ledger: Any, log_key: SignerKey | None = None, *,
                 log_vkey: VerifierKey | None = None, clock: Clock = utc_now) -> None:
        self.ledger = ledger
        self.dialect: str = ledger.url.dialect
        self.store = TreeStore(self.dialect)
        self.checkpointer = Checkpointer(self.dialect, log_key, clock=clock) if log_key else None
        self.vkey = log_key.verifier if log_key is not None else log_vkey
        if self.checkpointer is not None:
            with self.write_cursor() as c:
                self.checkpointer.create_tables(c)

    # Cursors -------------------------------------------------------------
    @contextmanager
    def read_cursor(self) -> Iterator[Any]:
        with self.ledger.reader.cursor() as c:
            yield c.raw

    @contextmanager
    def write_cursor(self) -> Iterator[Any]:
        datastore = self.ledger.app.recorder.datastore
        if self.dialect == "sqlite":
            with datastore.transaction(commit=True) as c:
                yield c.sqlite_cursor
        else:
            with datastore.get_connection() as conn, conn.transaction(), conn.cursor(
                    row_factory=tuple_row) as curs:
                # Signing reads the latest checkpoint after waiting for the advisory lock;
                # under READ COMMITTED that read sees a checkpoint another process signed
                # while this one waited (a server default of REPEATABLE READ would not).
                curs.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                yield curs

    # Size, checkpoints ------------------------------------------------------
    def size(self) -> int:
        with self.read_cursor() as c:
            return int(self.store.size(c))

    def sign_checkpoint(self) -> SignedCheckpoint | None:
        """Sign a checkpoint when the tree has grown since the last (None otherwise)."""
        if self.checkpointer is None:
            raise NotFound("this process holds no log key and cannot sign checkpoints")
        # Re-deriving the grown tree from its leaves takes a while; it runs in a read
        # transaction so that recording goes on meanwhile, and only the signed row is
        # written in a (short) write transaction.
        with self.read_cursor() as c:
            checked = self.checkpointer.check_growth(c)
        if checked is None:
            return None
        with self.write_cursor() as c:
            return self.checkpointer.sign_checked(c, checked)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        checkpointer = self._reader_checkpointer()
        with self.read_cursor() as c:
            return checkpointer.latest(c)

    def checkpoint_covering(self, size: int) -> SignedCheckpoint | None:
        checkpointer = self._reader_checkpointer()
        with self.read_cursor() as c:
            return checkpointer.covering(c, size)

    def _reader_checkpointer(self) -> Checkpointer:
        if self.checkpointer is None:
            raise NotFound("this process holds no log key")
        return self.checkpointer

    # Proofs ----------------------------------------------------------------
    def _check_size(self, size: int, what: str) -> int:
        current = self.size()
        if size < 0 or size > current:
            raise InvalidInput(f"{what} {size} is beyond the log (size {current})",
                               field=what)
        return current

    def inclusion(self, index: int, tree_size: int | None = None) -> InclusionProof:
        current = self.size()
        size = current if tree_size is None else tree_size
        if size > current or size < 1:
            raise InvalidInput(f"tree_size {size} is outside the log (size {current})",
                               field="tree_size")
        if not 0 <= index < size:
            raise InvalidInput(f"index {index} is not below tree_size {size}", field="index")
        with self.read_cursor() as c:
            return self.store.inclusion_proof(c, index, size)

    def inclusion_by_hash(self, leaf_hash: bytes, tree_size: int | None = None) -> InclusionProof:
        index = self.ledger.index_of(leaf_hash)
        if index is None:
            raise EntryNotFound(f"no leaf with hash {leaf_hash.hex()}")
        return self.inclusion(index, tree_size)

    def consistency(self, from_size: int, to_size: int | None = None) -> ConsistencyProof:
        current = self.size()
        to = current if to_size is None else to_size
        if from_size < 1:
            raise InvalidInput("from must be at least 1 (every tree extends the empty tree)",
                               field="from")
        if to > current:
            raise InvalidInput(f"to {to} is beyond the log (size {current})", field="to")
        if from_size > to:
            raise InvalidInput(f"from {from_size} is larger than to {to}", field="from")
        with self.read_cursor() as c:
            return self.store.consistency_proof(c, from_size, to)

    def tile(self, path: str) -> bytes:
        """C2SP tlog-tiles: a hash tile or entry bundle of the latest checkpoint's tree."""
        latest = self.latest_checkpoint()
        size = 0 if latest is None else latest.size
        with self.read_cursor() as c:
            return read_path(c, self.store, path, size)

    def entry(self, index: int) -> bytes:
        leaf = self.ledger.leaf(index)
        if leaf is None:
            raise EntryNotFound(f"no entry at index {index}")
        return bytes(leaf)
