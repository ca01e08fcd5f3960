"""Test support for the tree store: connect to a ``database_url`` and fill ``leaves``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from ledger import merkle
from ledger.treestore import TreeStore

LEAVES_DDL = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS leaves (idx BIGINT PRIMARY KEY, "
        "leaf_hash BLOB UNIQUE NOT NULL, leaf BLOB NOT NULL, stream TEXT NOT NULL, "
        "version INTEGER NOT NULL, recorded_at TEXT NOT NULL)"
    ),
    "postgres": (
        "CREATE TABLE IF NOT EXISTS leaves (idx BIGINT PRIMARY KEY, "
        "leaf_hash BYTEA UNIQUE NOT NULL, leaf BYTEA NOT NULL, stream TEXT NOT NULL, "
        "version INTEGER NOT NULL, recorded_at TEXT NOT NULL)"
    ),
}


@dataclass
class TreeDB:
    dialect: str
    connection: Any
    store: TreeStore

    @property
    def p(self) -> str:
        return "?" if self.dialect == "sqlite" else "%s"

    def cursor(self) -> Any:
        return self.connection.cursor()

    def commit(self) -> None:
        self.connection.commit()

    def add_leaves(self, leaves: Sequence[bytes]) -> bytes:
        """Insert leaves and their tree nodes in one transaction; return the new root."""
        cur = self.cursor()
        start = self.store.size(cur)
        hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
        p = self.p
        cur.executemany(
            f"INSERT INTO leaves (idx, leaf_hash, leaf, stream, version, recorded_at) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
            [
                (start + i, h, leaf, "test/stream", start + i + 1, "2026-01-01T00:00:00Z")
                for i, (h, leaf) in enumerate(zip(hashes, leaves, strict=True))
            ],
        )
        root = self.store.append(cur, start, hashes)
        self.commit()
        return root

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.cursor()
        cur.execute(sql.replace("?", self.p), params)
        self.commit()


def leaf_bytes(i: int) -> bytes:
    return b"leaf %d " % i + bytes([i % 251]) * (i % 7)


@contextmanager
def open_tree_db(url: str) -> Iterator[TreeDB]:
    """Connect to ``sqlite:///PATH`` or ``postgresql://...`` and create the tables."""
    if url.startswith("sqlite:///"):
        connection: Any = sqlite3.connect(url[len("sqlite:///") :])
        dialect = "sqlite"
    elif url.startswith(("postgresql://", "postgres://")):
        connection = psycopg.connect(url)
        dialect = "postgres"
    else:  # pragma: no cover - fixture urls are one of the two
        raise ValueError(f"unsupported database url {url!r}")
    store = TreeStore(dialect)
    try:
        cur = connection.cursor()
        cur.execute(LEAVES_DDL[dialect])
        store.create_tables(cur)
        connection.commit()
        yield TreeDB(dialect, connection, store)
    finally:
        connection.close()
