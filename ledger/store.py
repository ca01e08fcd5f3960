"""Storage beside the eventsourcing tables: leaves, nonces, tree nodes, checkpoints.

The recorder subclasses run inside the events' insert transaction (SQLite: after the
insert has taken the write lock; PostgreSQL: while the EXCLUSIVE table lock is held),
so leaf indices are dense, 0-based and in commit order, and a rolled-back transaction
leaves no trace in any table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from . import merkle
from .errors import InvalidInput

leaf_hash_of = merkle.leaf_hash  # SHA-256(0x00 || leaf), RFC 6962


@dataclass(slots=True)
class PendingLeaf:
    originator_id: Any
    version: int
    stream: str
    leaf: bytes
    leaf_hash: bytes
    recorded_at: str
    signer: str
    nonce: bytes
    envelope_sha256: bytes


@dataclass(slots=True)
class PendingBatch:
    """Travels through ``Application.save(**kwargs)`` to the recorder.

    ``decided_at`` is the log size the batch was decided against and ``read`` the streams
    the decision read. When another writer (another process on the same database) has
    appended meanwhile, the recorder lists the streams it appended to in ``moved``, and
    refuses the batch with ``LogMovedOn`` when one of them was read: the decision may
    rest on a state that is no longer the latest (a key revoked, a role withdrawn).
    """

    leaves: list[PendingLeaf]
    first_index: int | None = None
    by_event: dict[tuple[Any, int], PendingLeaf] = field(default_factory=dict)
    decided_at: int | None = None
    read: frozenset[str] = frozenset()
    moved: list[str] = field(default_factory=list)


class LogMovedOn(IntegrityError):
    """Another writer appended to streams the batch was decided on; decide it again."""

    def __init__(self, streams: Sequence[str] | None) -> None:
        self.streams = None if streams is None else list(streams)
        shown = "the log" if streams is None else ", ".join(list(streams)[:5])
        super().__init__(f"another writer appended to {shown} while this batch was decided")


def _check_moved(cursor: Any, p: str, batch: PendingBatch, size: int) -> None:
    if batch.decided_at is None or size == batch.decided_at:
        return
    if size < batch.decided_at:  # cannot happen to an append-only log; never trust it
        raise LogMovedOn(None)
    cursor.execute(f"SELECT DISTINCT stream FROM leaves WHERE idx >= {p}", (batch.decided_at,))
    moved = sorted(str(row[0]) for row in cursor.fetchall())
    if batch.read.intersection(moved):
        raise LogMovedOn(moved)
    batch.moved = moved


def _sqlite_tables() -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS leaves ("
        " idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL UNIQUE, leaf BLOB NOT NULL,"
        " stream TEXT NOT NULL, version INTEGER NOT NULL, recorded_at TEXT NOT NULL,"
        " UNIQUE (stream, version))",
        "CREATE TABLE IF NOT EXISTS nonces ("
        " signer TEXT NOT NULL, nonce BLOB NOT NULL, envelope_sha256 BLOB NOT NULL,"
        " leaf_idx INTEGER NOT NULL, PRIMARY KEY (signer, nonce)) WITHOUT ROWID",
    ]


def _postgres_tables() -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS leaves ("
        " idx BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL UNIQUE, leaf BYTEA NOT NULL,"
        " stream TEXT NOT NULL, version INTEGER NOT NULL, recorded_at TEXT NOT NULL,"
        " UNIQUE (stream, version))",
        "CREATE TABLE IF NOT EXISTS nonces ("
        " signer TEXT NOT NULL, nonce BYTEA NOT NULL, envelope_sha256 BYTEA NOT NULL,"
        " leaf_idx BIGINT NOT NULL, PRIMARY KEY (signer, nonce))",
    ]


def _tree_store(dialect: str) -> Any:
    try:
        from .treestore import TreeStore
    except ImportError:  # pragma: no cover - present in every complete checkout
        return None
    return TreeStore(dialect)


def _log_size(cursor: Any) -> int:
    cursor.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves")
    return int(cursor.fetchall()[0][0])


def _write_leaves(cursor: Any, dialect: str, batch: PendingBatch, stored_events:
                  Sequence[StoredEvent], tree: Any, size: int | None = None) -> None:
    """The batch's leaves, nonces and tree nodes; ``size``, when the caller already read
    the log's size under the write lock and checked what moved since, is taken as is."""
    p = "?" if dialect == "sqlite" else "%s"
    if size is None:
        size = _log_size(cursor)
        _check_moved(cursor, p, batch, size)
    ordered = [batch.by_event[(s.originator_id, s.originator_version)] for s in stored_events]
    cursor.executemany(
        f"INSERT INTO leaves (idx, leaf_hash, leaf, stream, version, recorded_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
        [(size + i, x.leaf_hash, x.leaf, x.stream, x.version, x.recorded_at)
         for i, x in enumerate(ordered)],
    )
    cursor.executemany(
        "INSERT INTO nonces (signer, nonce, envelope_sha256, leaf_idx) "
        f"VALUES ({p}, {p}, {p}, {p})",
        [(x.signer, x.nonce, x.envelope_sha256, size + i) for i, x in enumerate(ordered)],
    )
    if tree is not None:
        tree.append(cursor, size, [x.leaf_hash for x in ordered])
    batch.leaves = ordered
    batch.first_index = size


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.tree = _tree_store("sqlite")
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements() + _sqlite_tables()
        if self.tree is not None:
            statements += self.tree.create_table_statements()
        return statements

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        batch = kwargs.get("ledger_batch")
        if batch is not None:
            _write_leaves(c.sqlite_cursor, "sqlite", batch, stored_events, self.tree)
        return ids


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *args: Any, **kwargs: Any):
        self.tree = _tree_store("postgres")
        super().__init__(datastore, *args, **kwargs)
        extra = _postgres_tables()
        if self.tree is not None:
            extra += self.tree.create_table_statements()
        self.sql_create_statements.extend(
            SQL(s).format() for s in extra)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """Insert the events, their leaves, nonces and tree nodes in one transaction.

        The inherited method runs in pipeline mode and, to keep psycopg quiet, holds on
        to any exception raised after the insert until the transaction block has been
        left, so the block commits whatever had been written before the failure. Here
        every exception leaves the block and the transaction rolls back: a batch is
        recorded whole or not at all."""
        if not stored_events:
            return []
        batch = kwargs.get("ledger_batch")
        with self.datastore.get_connection() as conn, conn.transaction():
            size = None
            if batch is not None:
                # Lock first (as inserting would) and look at what other writers appended
                # since the batch was decided: a batch that read one of their streams is
                # decided again for exactly those (LogMovedOn), instead of colliding on a
                # stream version (IntegrityError, after which every stream is reloaded).
                with conn.cursor() as curs:
                    self._lock_table(curs)
                with conn.cursor(row_factory=tuple_row) as plain:
                    size = _log_size(plain)
                    _check_moved(plain, "%s", batch, size)
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
                self._insert_stored_events(curs, stored_events, **kwargs)
                ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            if batch is not None:
                with conn.cursor(row_factory=tuple_row) as plain:
                    _write_leaves(plain, "postgres", batch, stored_events, self.tree, size)
        return ids


# ---------------------------------------------------------------------------
# Database URLs and read access
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DatabaseURL:
    dialect: str  # "sqlite" | "postgres"
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///"):]
            if not path:
                raise InvalidInput("sqlite URL needs a path: sqlite:////abs/path/ledger.sqlite3")
            return cls("sqlite", path=path)
        if url.startswith(("postgresql://", "postgres://")):
            parts = urlparse(url)
            return cls(
                "postgres",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=(parts.path or "/").lstrip("/") or "postgres",
            )
        raise InvalidInput(f"database URL {url!r}: expected sqlite:///PATH or postgresql://...")

    def eventsourcing_env(self) -> dict[str, str]:
        if self.dialect == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.path,
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": "ledger.store:LedgerSQLiteRecorder",
            }
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_POOL_SIZE": "8",
            "APPLICATION_RECORDER_TOPIC": "ledger.store:LedgerPostgresRecorder",
        }

    def connect(self) -> Any:
        """A plain DB-API connection (tuple rows) for readers and tools."""
        if self.dialect == "sqlite":
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password or None, dbname=self.dbname,
                               autocommit=True)


class Reader:
    """Read-only queries over the leaves; ``?`` placeholders in either dialect."""

    def __init__(self, recorder: Any, dialect: str) -> None:
        self.recorder = recorder
        self.dialect = dialect

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        if self.dialect == "sqlite":
            with self.recorder.datastore.transaction(commit=False) as c:
                yield _QCursor(c.sqlite_cursor, "?")
        else:
            with self.recorder.datastore.get_connection() as conn, conn.cursor(
                    row_factory=tuple_row) as curs:
                yield _QCursor(curs, "%s")


class _QCursor:
    def __init__(self, cursor: Any, placeholder: str) -> None:
        self.raw = cursor
        self.placeholder = placeholder

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.placeholder != "?":
            sql = sql.replace("?", self.placeholder)
        self.raw.execute(sql, params)
        return self

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.raw.fetchall())
