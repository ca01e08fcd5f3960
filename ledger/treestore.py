"""The persistent Merkle tree beside the leaves (SQLite and PostgreSQL).

Table ``tree_nodes(level, idx, hash)`` holds every complete subtree of the log: the
node ``(level, idx)`` is the RFC 6962 hash of leaves ``[idx << level, (idx + 1) <<
level)``; level 0 holds the leaf hashes. A tree of ``n`` leaves has fewer than ``2n``
such nodes. Roots and proofs for any size up to the current one are assembled from
O(log n) of them (see :mod:`ledger.merkle`), fetched in one query; nothing reads the
whole log.

:meth:`TreeStore.append` runs inside the transaction that inserts the leaves: it reads
the O(log n) frontier of the current tree once and inserts the newly completed
subtrees with one ``executemany``.

The store works on a DB-API cursor given by the caller (``sqlite3`` with ``?``
parameters, psycopg 3 with ``%s``) and never commits: transactions are the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from . import merkle
from .errors import Conflict, InvalidInput, VerificationError
from .merkle import Node

Dialect = Literal["sqlite", "postgres"]
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgres")

_NODES_PER_QUERY = 200  # keeps every statement far below SQLite's parameter limit


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use (sqlite3 and psycopg 3 both fit)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...

    def executemany(self, query: Any, params_seq: Any, /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class TreeSizeMismatch(Conflict):
    """``append`` was told a start size that is not the stored tree's size."""

    code = "tree_size_mismatch"
    title = "Tree size does not match"


class BeyondTree(InvalidInput):
    """A size or index beyond the current tree was asked for (HTTP 400)."""

    code = "beyond_tree"
    title = "Beyond the log"


class TreeIntegrityError(VerificationError):
    """Stored nodes are missing or inconsistent: the stored tree is damaged."""

    code = "tree_integrity"
    title = "Stored Merkle tree is damaged"


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "hashes": [h.hex() for h in self.hashes],
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    from_size: int
    to_size: int
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.from_size,
            "to": self.to_size,
            "hashes": [h.hex() for h in self.hashes],
        }


def check_dialect(dialect: str) -> Dialect:
    if dialect == "sqlite":
        return "sqlite"
    if dialect == "postgres":
        return "postgres"
    raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {DIALECTS}")


def placeholder(dialect: Dialect) -> str:
    return "?" if dialect == "sqlite" else "%s"


def blob_type(dialect: Dialect) -> str:
    return "BLOB" if dialect == "sqlite" else "BYTEA"


class TreeStore:
    """Complete-subtree storage of the log's Merkle tree."""

    table = "tree_nodes"

    def __init__(self, dialect: str) -> None:
        self.dialect: Dialect = check_dialect(dialect)
        self._p = placeholder(self.dialect)
        p = self._p
        self._insert_sql = f"INSERT INTO {self.table} (level, idx, hash) VALUES ({p}, {p}, {p})"
        self._size_sql = f"SELECT MAX(idx) FROM {self.table} WHERE level = 0"
        self._range_sql = (
            f"SELECT idx, hash FROM {self.table} "
            f"WHERE level = {p} AND idx >= {p} AND idx < {p} ORDER BY idx"
        )

    # Schema -----------------------------------------------------------------
    def create_table_statements(self) -> list[str]:
        if self.dialect == "sqlite":
            return [
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "level INTEGER NOT NULL, idx BIGINT NOT NULL, "
                "hash BLOB NOT NULL CHECK (length(hash) = 32), "
                "PRIMARY KEY (level, idx)) WITHOUT ROWID"
            ]
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "level INTEGER NOT NULL, idx BIGINT NOT NULL, "
            "hash BYTEA NOT NULL CHECK (octet_length(hash) = 32), "
            "PRIMARY KEY (level, idx))"
        ]

    def create_tables(self, cursor: Cursor) -> None:
        for statement in self.create_table_statements():
            cursor.execute(statement)

    # Reads ------------------------------------------------------------------
    def size(self, cursor: Cursor) -> int:
        """Number of leaves in the stored tree."""
        cursor.execute(self._size_sql)
        row = cursor.fetchone()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def fetch_nodes(self, cursor: Cursor, nodes: Sequence[Node]) -> dict[Node, bytes]:
        """The stored hashes of ``nodes`` (absent ones are left out)."""
        found: dict[Node, bytes] = {}
        p = self._p
        for start in range(0, len(nodes), _NODES_PER_QUERY):
            chunk = nodes[start : start + _NODES_PER_QUERY]
            where = " OR ".join([f"(level = {p} AND idx = {p})"] * len(chunk))
            params: list[int] = []
            for level, idx in chunk:
                params += (level, idx)
            cursor.execute(f"SELECT level, idx, hash FROM {self.table} WHERE {where}", params)
            for level, idx, digest in cursor.fetchall():
                found[(int(level), int(idx))] = bytes(digest)
        return found

    def nodes_in_range(self, cursor: Cursor, level: int, start: int, end: int) -> list[bytes]:
        """Hashes of nodes ``(level, start) .. (level, end - 1)``; all must exist."""
        if end <= start:
            return []
        cursor.execute(self._range_sql, (level, start, end))
        rows = cursor.fetchall()
        hashes: list[bytes] = []
        for expected, (idx, digest) in enumerate(rows, start=start):
            if int(idx) != expected:
                raise TreeIntegrityError(
                    f"tree node (level {level}, idx {expected}) is missing",
                    level=level,
                    idx=expected,
                )
            hashes.append(bytes(digest))
        if len(hashes) != end - start:
            missing = start + len(hashes)
            raise TreeIntegrityError(
                f"tree node (level {level}, idx {missing}) is missing", level=level, idx=missing
            )
        return hashes

    def _fetch_required(
        self, cursor: Cursor, nodes: Sequence[Node], needed_size: int
    ) -> dict[Node, bytes]:
        found = self.fetch_nodes(cursor, nodes)
        missing = [node for node in nodes if node not in found]
        if missing:
            stored = self.size(cursor)
            if needed_size > stored:
                raise BeyondTree(
                    f"tree size {needed_size} is beyond the log size {stored}",
                    tree_size=needed_size,
                    log_size=stored,
                )
            raise TreeIntegrityError(
                str(merkle.MissingNodeError(missing)),
                missing=[list(node) for node in missing],
            )
        return found

    def root(self, cursor: Cursor, size: int) -> bytes:
        """The RFC 6962 root of the first ``size`` leaves."""
        if size == 0:
            return merkle.EMPTY_ROOT
        wanted = merkle.root_nodes(size)
        return merkle.root_from_nodes(size, self._fetch_required(cursor, wanted, size))

    def leaf_hash(self, cursor: Cursor, index: int) -> bytes:
        merkle.inclusion_proof_size(index, index + 1)  # validates the index
        found = self._fetch_required(cursor, [(0, index)], index + 1)
        return found[(0, index)]

    def inclusion_proof(self, cursor: Cursor, index: int, size: int) -> InclusionProof:
        """The audit path of leaf ``index`` in the tree of ``size`` leaves."""
        wanted = [(0, index), *merkle.inclusion_proof_nodes(index, size)]
        found = self._fetch_required(cursor, wanted, size)
        hashes = merkle.inclusion_proof_from_nodes(index, size, found)
        return InclusionProof(index, size, found[(0, index)], tuple(hashes))

    def consistency_proof(self, cursor: Cursor, old_size: int, new_size: int) -> ConsistencyProof:
        """The RFC 6962 consistency proof from ``old_size`` to ``new_size`` (0 < old <= new)."""
        wanted = merkle.consistency_proof_nodes(old_size, new_size)
        if not wanted:  # equal sizes: still refuse a size beyond the log
            wanted = merkle.root_nodes(new_size)[-1:]
        found = self._fetch_required(cursor, wanted, new_size)
        hashes = merkle.consistency_proof_from_nodes(old_size, new_size, found)
        return ConsistencyProof(old_size, new_size, tuple(hashes))

    def frontier(self, cursor: Cursor, size: int) -> merkle.CompactRange:
        """The right edge of the tree of ``size`` leaves, from the stored nodes."""
        found = self._fetch_required(cursor, merkle.root_nodes(size), size)
        return merkle.CompactRange.from_nodes(size, found)

    # Writes -----------------------------------------------------------------
    def append(self, cursor: Cursor, start_size: int, leaf_hashes: Sequence[bytes]) -> bytes:
        """Add the leaves ``start_size ..`` with their completed subtrees; return the new root.

        Call inside the transaction that inserts the leaves themselves.
        """
        stored = self.size(cursor)
        if stored != start_size:
            raise TreeSizeMismatch(
                f"tree has {stored} leaves, cannot append at {start_size}",
                tree_size=stored,
                start_size=start_size,
            )
        compact = self.frontier(cursor, start_size)
        if not leaf_hashes:
            return compact.root()
        cursor.executemany(self._insert_sql, compact.extend(leaf_hashes))
        return compact.root()
