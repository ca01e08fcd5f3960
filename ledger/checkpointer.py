"""Signing checkpoints, and checking the stored log before and after.

The checkpointer signs a C2SP checkpoint (key name = origin) when the tree has grown
and keeps every checkpoint it signed in ``checkpoints(size, root, note, signed_at)``.
Before signing size ``n`` after the last signed size ``m`` it

1. verifies the last stored checkpoint note with the log key and rebuilds the right
   edge of the stored tree at ``m``: it must give the signed root;
2. re-hashes leaves ``m .. n-1`` from ``leaves``, compares each with the ``leaf_hash``
   column and the stored level-0 node, and recomputes every complete subtree those
   leaves complete, comparing it with the stored node;
3. computes the consistency proof ``m -> n`` from the stored nodes and verifies it
   against the signed root and the recomputed new root.

Any failure raises :class:`LogIntegrityError` naming the first bad leaf index (and
node) when it can, and nothing is signed. :func:`check_log` performs the same
re-hashing over the whole log offline and reports every problem it finds, plus any
stored checkpoint whose root does not match the leaves.

Work is done in batches of leaves; only O(log n) hashes and one batch are in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import merkle
from .errors import LedgerError, VerificationError
from .keys import SignerKey, VerifierKey
from .merkle import CompactRange, Node
from .note import Checkpoint, open_checkpoint, sign_checkpoint
from .timeutil import Clock, format_instant, utc_now
from .treestore import Cursor, TreeStore, blob_type, check_dialect, placeholder

DEFAULT_BATCH = 4096
_ADVISORY_LOCK_KEY = 0x6C65646765724350  # serializes checkpointers on PostgreSQL


class LogIntegrityError(VerificationError):
    """The stored log does not match what was signed or what its leaves hash to."""

    code = "log_integrity"
    title = "Stored log is damaged"

    def __init__(self, message: str, *, index: int | None = None, node: Node | None = None) -> None:
        detail: dict[str, Any] = {}
        if index is not None:
            detail["index"] = index
        if node is not None:
            detail["node"] = list(node)
        super().__init__(message, **detail)
        self.index = index
        self.node = node


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str
    signed_at: str

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root


@dataclass(frozen=True, slots=True)
class LogProblem:
    """One finding: ``index`` is the first leaf concerned; ``node`` a damaged subtree."""

    index: int | None
    message: str
    node: Node | None = None


@dataclass(slots=True)
class LogReport:
    tree_size: int
    leaf_count: int
    checkpoints_checked: int = 0
    problems: list[LogProblem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        indices = [p.index for p in self.problems if p.index is not None]
        return min(indices) if indices else None


# Re-hashing leaves against the stored tree ---------------------------------------------


class _Rebuild:
    """Re-hash leaves in batches and compare with the stored tree, from a frontier."""

    def __init__(self, store: TreeStore, compact: CompactRange, batch: int) -> None:
        self.store = store
        self.compact = compact  # follows the stored tree where only leaf bytes differ
        # The tree the leaf bytes give, for checkpoint roots: ``compact`` itself until a
        # leaf's bytes and its stored hash first differ, then a range of its own.
        self._leaves: CompactRange | None = None
        self.batch = batch
        p = placeholder(store.dialect)
        self._leaves_sql = (
            f"SELECT idx, leaf, leaf_hash FROM leaves WHERE idx >= {p} AND idx < {p} ORDER BY idx"
        )
        self._p = p

    @property
    def leaves(self) -> CompactRange:
        return self.compact if self._leaves is None else self._leaves

    def _stored_nodes(self, cursor: Cursor, start: int, end: int) -> dict[Node, bytes]:
        """Stored nodes that leaves ``[start, end)`` complete, in one query."""
        p = self._p
        terms: list[str] = []
        params: list[int] = []
        for level in range(end.bit_length() + 1):
            lo, hi = start >> level, end >> level
            if lo < hi:
                terms.append(f"(level = {p} AND idx >= {p} AND idx < {p})")
                params += (level, lo, hi)
        cursor.execute(
            f"SELECT level, idx, hash FROM {self.store.table} WHERE " + " OR ".join(terms), params
        )
        return {(int(lv), int(ix)): bytes(h) for lv, ix, h in cursor.fetchall()}

    def run(self, cursor: Cursor, end: int) -> Iterator[LogProblem]:
        """Advance the frontier to ``end``, yielding problems in leaf order."""
        while self.compact.size < end:
            start = self.compact.size
            stop = min(end, start + self.batch)
            stored = self._stored_nodes(cursor, start, stop)
            cursor.execute(self._leaves_sql, (start, stop))
            rows = cursor.fetchall()
            expected = start
            for idx, leaf, column_hash in rows:
                if int(idx) != expected:
                    break
                yield from self._leaf(expected, bytes(leaf), bytes(column_hash), stored)
                expected += 1
            if expected != stop:
                yield LogProblem(expected, f"leaf {expected} is missing from the leaves table")
                return

    def _leaf(
        self, index: int, leaf: bytes, column_hash: bytes, stored: dict[Node, bytes],
        computed: bytes | None = None,
    ) -> Iterator[LogProblem]:
        if computed is None:
            computed = merkle.leaf_hash(leaf)
        in_tree = stored.get((0, index))
        value = computed
        if computed != column_hash or computed != in_tree:
            tree_text = in_tree.hex() if in_tree is not None else "missing"
            yield LogProblem(
                index,
                f"leaf {index} hashes to {computed.hex()}; leaves.leaf_hash is "
                f"{column_hash.hex()}, tree node (0, {index}) is {tree_text}",
                (0, index),
            )
            if in_tree is not None and in_tree == column_hash:
                value = in_tree  # the leaf bytes changed; keep checking the tree above it
        if self._leaves is None and value != computed:
            self._leaves = CompactRange(self.compact.size,
                                        list(self.compact.frontier().values()))
        if self._leaves is not None:
            self._leaves.append(computed)
        for level, idx, digest in self.compact.append(value)[1:]:
            if stored.get((level, idx)) != digest:
                first = idx << level
                yield LogProblem(
                    first,
                    f"tree node (level {level}, idx {idx}) over leaves {first}.."
                    f"{((idx + 1) << level) - 1} does not match its recomputed hash "
                    f"{digest.hex()}",
                    (level, idx),
                )


def _raise(problem: LogProblem) -> None:
    raise LogIntegrityError(problem.message, index=problem.index, node=problem.node)


def _leaf_count(cursor: Cursor) -> int:
    cursor.execute("SELECT MAX(idx) FROM leaves")
    row = cursor.fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


# The checkpointer ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedTree:
    """A tree size and root re-derived from the leaves and consistent with ``last``."""

    last: SignedCheckpoint | None
    size: int
    root: bytes


def _same(a: SignedCheckpoint | None, b: SignedCheckpoint | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.size == b.size and a.root == b.root


class Checkpointer:
    """Signs checkpoints of the log stored beside ``leaves`` and ``tree_nodes``."""

    table = "checkpoints"

    def __init__(
        self,
        dialect: str,
        log_key: SignerKey,
        *,
        clock: Clock = utc_now,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.dialect = check_dialect(dialect)
        self.log_key = log_key
        self.verifier: VerifierKey = log_key.verifier
        self.clock = clock
        self.batch_size = batch_size
        self.store = TreeStore(self.dialect)
        p = placeholder(self.dialect)
        columns = "size, root, note, signed_at"
        self._latest_sql = f"SELECT {columns} FROM {self.table} ORDER BY size DESC LIMIT 1"
        self._at_sql = f"SELECT {columns} FROM {self.table} WHERE size = {p}"
        self._covering_sql = (
            f"SELECT {columns} FROM {self.table} WHERE size >= {p} ORDER BY size LIMIT 1"
        )
        self._insert_sql = f"INSERT INTO {self.table} ({columns}) VALUES ({p}, {p}, {p}, {p})"

    @property
    def origin(self) -> str:
        return self.log_key.name

    def create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (size BIGINT PRIMARY KEY, "
            f"root {blob_type(self.dialect)} NOT NULL, note TEXT NOT NULL, "
            "signed_at TEXT NOT NULL)"
        ]

    def create_tables(self, cursor: Cursor) -> None:
        for statement in self.create_table_statements():
            cursor.execute(statement)

    # Reading ------------------------------------------------------------------
    def _from_row(self, row: Any) -> SignedCheckpoint:
        size, root, note, signed_at = row
        try:
            checkpoint = open_checkpoint(note, self.verifier)
        except LedgerError as exc:
            raise LogIntegrityError(f"stored checkpoint {size} does not verify: {exc}") from exc
        if checkpoint.size != int(size) or checkpoint.root != bytes(root):
            raise LogIntegrityError(
                f"stored checkpoint row {size} does not match its signed note "
                f"(size {checkpoint.size}, root {checkpoint.root.hex()})"
            )
        return SignedCheckpoint(checkpoint, str(note), str(signed_at))

    def _one(
        self, cursor: Cursor, sql: str, params: tuple[int, ...] = ()
    ) -> SignedCheckpoint | None:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return None if row is None else self._from_row(row)

    def latest(self, cursor: Cursor) -> SignedCheckpoint | None:
        """The largest signed checkpoint, its signature verified, or None."""
        return self._one(cursor, self._latest_sql)

    def at_size(self, cursor: Cursor, size: int) -> SignedCheckpoint | None:
        return self._one(cursor, self._at_sql, (size,))

    def covering(self, cursor: Cursor, size: int) -> SignedCheckpoint | None:
        """The smallest signed checkpoint with at least ``size`` leaves, or None."""
        return self._one(cursor, self._covering_sql, (size,))

    # Signing -----------------------------------------------------------------
    def current(self, cursor: Cursor) -> SignedCheckpoint:
        """Sign a checkpoint if the tree has grown; return the latest one."""
        signed = self.sign_if_grown(cursor)
        if signed is not None:
            return signed
        latest = self.latest(cursor)
        if latest is None:  # pragma: no cover - sign_if_grown always signs a first one
            raise LogIntegrityError("no checkpoint could be signed")
        return latest

    def sign_if_grown(self, cursor: Cursor) -> SignedCheckpoint | None:
        """Check and sign the current tree when it is larger than the last checkpoint.

        The first call signs even an empty tree. Returns the new checkpoint, or None
        when the tree has not grown. Call inside a transaction; the caller commits.
        """
        self._lock_signing(cursor)
        checked = self.check_growth(cursor)
        return None if checked is None else self._insert(cursor, checked)

    def check_growth(self, cursor: Cursor) -> CheckedTree | None:
        """Verify the tree grown since the last checkpoint, without signing it: the
        expensive part of signing, which may run in a read transaction (the leaves and
        nodes it reads never change once written). None when it has not grown."""
        last = self.latest(cursor)
        size = self.store.size(cursor)
        old_size = 0 if last is None else last.size
        if last is not None and size == old_size:
            return None
        if size < old_size:
            raise LogIntegrityError(
                f"the tree has {size} leaves but checkpoint {old_size} was signed",
                index=size,
            )
        return CheckedTree(last, size, self._checked_root(cursor, last, size))

    def sign_checked(self, cursor: Cursor, checked: CheckedTree) -> SignedCheckpoint | None:
        """Sign a tree verified by ``check_growth`` (in a write transaction, briefly),
        provided no other checkpoint was signed meanwhile; if one was, the growth is
        checked again against it here. None when the tree has not grown beyond it."""
        self._lock_signing(cursor)
        last = self.latest(cursor)
        if _same(last, checked.last):
            return self._insert(cursor, checked)
        recheck = self.check_growth(cursor)
        return None if recheck is None else self._insert(cursor, recheck)

    def _lock_signing(self, cursor: Cursor) -> None:
        """One signer at a time across processes (PostgreSQL; SQLite has one writer)."""
        if self.dialect == "postgres":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))

    def _insert(self, cursor: Cursor, checked: CheckedTree) -> SignedCheckpoint:
        checkpoint = Checkpoint(self.origin, checked.size, checked.root)
        note = sign_checkpoint(checkpoint, self.log_key)
        signed_at = format_instant(self.clock().replace(microsecond=0))
        cursor.execute(self._insert_sql, (checked.size, checked.root, note, signed_at))
        return SignedCheckpoint(checkpoint, note, signed_at)

    def _checked_root(self, cursor: Cursor, last: SignedCheckpoint | None, size: int) -> bytes:
        old_size = 0 if last is None else last.size
        try:
            compact = self.store.frontier(cursor, old_size)
        except LedgerError as exc:
            self._locate(cursor, old_size)
            raise LogIntegrityError(f"stored tree at size {old_size} is damaged: {exc}") from exc
        if last is not None and compact.root() != last.root:
            self._locate(cursor, old_size)
            raise LogIntegrityError(
                f"stored tree at size {old_size} gives root {compact.root().hex()}, "
                f"but checkpoint {old_size} signed {last.root.hex()}"
            )
        rebuild = _Rebuild(self.store, compact, self.batch_size)
        for problem in rebuild.run(cursor, size):
            _raise(problem)
        new_root = rebuild.leaves.root()
        if last is not None and old_size > 0:
            try:
                proof = self.store.consistency_proof(cursor, old_size, size)
                merkle.verify_consistency(old_size, size, proof.hashes, last.root, new_root)
            except LedgerError as exc:
                raise LogIntegrityError(
                    f"no valid consistency proof {old_size} -> {size}: {exc}"
                ) from exc
        return new_root

    def _locate(self, cursor: Cursor, end: int) -> None:
        """Re-hash leaves ``0 .. end-1`` and raise on the first problem found."""
        rebuild = _Rebuild(self.store, CompactRange(), self.batch_size)
        for problem in rebuild.run(cursor, end):
            _raise(problem)


# Offline audit ----------------------------------------------------------------------


class TreeCheck:
    """The checks of :func:`check_log`, fed the leaves in index order.

    ``check_log`` reads the leaves itself; an audit, which reads and hashes every leaf
    anyway, feeds them as it goes, so each leaf is read and hashed once. Every leaf is
    compared with its ``leaf_hash`` column and its tree node, every stored subtree node
    with its recomputed hash, and each checkpoint's root with the tree of the leaves at
    its size (and its note with ``log_key`` when given).
    """

    def __init__(self, cursor: Cursor, dialect: str, log_key: VerifierKey | None = None,
                 *, max_problems: int = 1000) -> None:
        self.cursor = cursor
        self.store = TreeStore(dialect)
        self.log_key = log_key
        self.max_problems = max_problems
        self.stopped = False
        p = placeholder(self.store.dialect)
        tree_size = self.store.size(cursor)
        leaf_count = _leaf_count(cursor)
        self.report = LogReport(tree_size, leaf_count)
        if leaf_count != tree_size:
            first = min(leaf_count, tree_size)
            self.add(LogProblem(first, f"leaves table has {leaf_count} leaves, tree has "
                                f"{tree_size}"))
        self.end = min(leaf_count, tree_size)
        cursor.execute(f"SELECT MAX(size) FROM checkpoints WHERE size > {p}", (self.end,))
        beyond = cursor.fetchone()
        if beyond is not None and beyond[0] is not None:
            self.add(LogProblem(self.end, f"checkpoint {int(beyond[0])} was signed but the "
                                f"log has {self.end} leaves"))
        cursor.execute(
            f"SELECT size, root, note FROM checkpoints WHERE size <= {p} ORDER BY size",
            (self.end,),
        )
        self._checkpoints = [(int(s), bytes(r), str(n)) for s, r, n in cursor.fetchall()]
        self._next = 0
        self._rebuild = _Rebuild(self.store, CompactRange(), DEFAULT_BATCH)
        self._checkpoints_due()

    @property
    def size(self) -> int:
        """Leaves checked so far."""
        return self._rebuild.leaves.size

    def add(self, problem: LogProblem) -> bool:
        if len(self.report.problems) >= self.max_problems:
            self.report.truncated = True
            self.stopped = True
            return False
        self.report.problems.append(problem)
        return True

    def feed(self, start: int, leaves: Sequence[bytes], column_hashes: Sequence[bytes],
             computed: Sequence[bytes] | None = None) -> None:
        """Leaves ``start, start + 1, ...`` with their ``leaf_hash`` column and, when the
        caller has hashed them, their leaf hashes."""
        if self.stopped or self.size >= self.end:
            return  # leaves beyond the tree are reported as a size mismatch, not here
        if start != self.size:  # the leaves table has a hole before ``start``
            self._missing()
            return
        stop = min(start + len(leaves), self.end)
        if stop <= start:
            return
        stored = self._rebuild._stored_nodes(self.cursor, start, stop)
        for offset in range(stop - start):
            digest = computed[offset] if computed is not None else None
            for problem in self._rebuild._leaf(start + offset, leaves[offset],
                                               column_hashes[offset], stored, digest):
                if not self.add(problem):
                    return
            if (self._next < len(self._checkpoints)
                    and self._checkpoints[self._next][0] == start + offset + 1):
                self._checkpoints_due()
                if self.stopped:
                    return

    def finish(self) -> LogReport:
        if not self.stopped and self.size < self.end:
            self._missing()
        return self.report

    def _missing(self) -> None:
        self.add(LogProblem(self.size, f"leaf {self.size} is missing from the leaves table"))
        self.stopped = True

    def _checkpoints_due(self) -> None:
        """Check the checkpoints whose size the leaves have reached."""
        leaves = self._rebuild.leaves
        while (self._next < len(self._checkpoints)
               and self._checkpoints[self._next][0] == leaves.size):
            cp_size, cp_root, cp_note = self._checkpoints[self._next]
            self._next += 1
            self.report.checkpoints_checked += 1
            if leaves.root() != cp_root:
                self.add(LogProblem(None, f"checkpoint {cp_size} has root {cp_root.hex()}; "
                                    f"the leaves give {leaves.root().hex()}"))
            if self.log_key is not None:
                _check_note(cp_size, cp_root, cp_note, self.log_key, self.add)


def check_log(
    cursor: Cursor,
    dialect: str,
    log_key: VerifierKey | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    max_problems: int = 1000,
) -> LogReport:
    """Re-hash every leaf and subtree and check every stored checkpoint; report problems.

    With ``log_key``, checkpoint notes are verified with it too. Reports at most
    ``max_problems`` problems (``truncated`` tells when more were cut).
    """
    check = TreeCheck(cursor, dialect, log_key, max_problems=max_problems)
    p = placeholder(check.store.dialect)
    sql = (f"SELECT idx, leaf, leaf_hash FROM leaves WHERE idx >= {p} AND idx < {p} "
           "ORDER BY idx")
    for first in range(0, check.end, batch_size):
        if check.stopped:
            break
        stop = min(first + batch_size, check.end)
        cursor.execute(sql, (first, stop))
        # The run of rows contiguous from ``first``; a hole ends the check where it begins.
        run = [(bytes(leaf), bytes(h)) for i, (idx, leaf, h) in enumerate(cursor.fetchall())
               if int(idx) == first + i]
        check.feed(first, [leaf for leaf, _ in run], [h for _, h in run])
        if len(run) < stop - first:
            break
    return check.finish()


def _check_note(
    size: int, root: bytes, note: str, log_key: VerifierKey, add: Callable[[LogProblem], bool]
) -> None:
    try:
        checkpoint = open_checkpoint(note, log_key)
    except LedgerError as exc:
        add(LogProblem(None, f"checkpoint {size}: note does not verify: {exc}"))
        return
    if checkpoint.size != size or checkpoint.root != root:
        add(LogProblem(None, f"checkpoint {size}: row does not match its signed note"))
