"""The persistent projection store: the read models kept in SQL, tracked, exactly once.

The store holds the same three folds as :class:`~projections.engine.Projector` (subject
states, reference data, document index), persisted so that queries need not replay the
log and a restart resumes where it stopped. Results are identical to ``Projector`` for
the same log prefix: queries load the subject states they need and hand them to a
``Projector`` that computes the envelopes.

Tables (owned here; nothing else writes them):

``proj_tracking(name, position, leaf_hash)``
    The tree size folded so far and the hash of its last leaf (to notice a store
    that was built from another log).
``proj_subjects(first_index, subject, kind, payer, payee, head)``
    One row per ``contract/``, ``commitment/`` or ``complaint/`` stream, written when
    its first event is folded and never rewritten: the leaf that opened it
    (``first_index``, the row's key; a query at tree size N reads rows with
    ``first_index < N``), its (payer, payee) from
    :func:`~projections.subjects.subject_parties` (indexed, so a one-payer query reads
    only that payer's rows) and its state without the facts (``head``, msgpack).
``proj_facts(subject_index, leaf_index, ordinal, fact)``
    The subjects' facts, one msgpack row per fact, appended as leaves are folded
    (``subject_index`` is the subject's ``first_index``). A leaf that moves a state's
    ``last_index`` without adding a fact gets a row whose ``fact`` is NULL. A subject's
    state is its head, its facts in leaf order and ``last_index``; a query at tree size
    N reads only facts below N. Appending small rows instead of rewriting a state per
    leaf keeps the bytes written per leaf small and constant (SQLite's WAL is
    page-granular). This rests on the folds of :mod:`projections.subjects` changing a
    state after its opening leaf only by appending facts and moving ``last_index``
    (a test pins it).
``proj_reference(id, last_index, leaf_hash, state)``
    The reference fold (calendar, LPR, parties) as one msgpack row, with the index and
    hash of the last reference leaf in it (readers keep it parsed while those hold).
``proj_documents(sha256, leaf_index, ordinal, field, leaf_hash, stream, version, type)``
    The document index, one row per document hash named by an event.

Where they live: on PostgreSQL, in the ledger's own database beside ``leaves``. On
SQLite, in a file beside the ledger's (``ledger.sqlite3`` -> ``ledger.projections.sqlite3``,
see :func:`projection_path`), so that folding never takes the ledger file's write lock
away from ingest; the projections are derived data and can be rebuilt from the log at
any time. That file runs in WAL mode with ``synchronous=NORMAL``, and on PostgreSQL the
writer commits with ``synchronous_commit = off``: a crash may undo the last commits,
never half of one, and the runner folds those leaves again.

The tables carry a schema version (``proj_schema``); a store opened on tables of
another version drops and recreates them (they hold derived data only): rebuild.

Exactly once: :meth:`ProjectionStore.apply` writes the view rows and the new tracking
position in one transaction, after locking the tracking row (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL). Leaves below the stored position are
skipped, a gap is refused, and an interrupted transaction leaves nothing behind, so
a chunk can be offered any number of times, by any number of runners.

Asking for ``at`` beyond the stored position raises :class:`ProjectionBehind` (an
``InvalidInput``, status 400, that is also a ``ValueError``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypedDict, cast

import msgpack
from psycopg import IsolationLevel

from ledger.errors import InvalidInput
from ledger.records import LoggedEvent
from ledger.store import DatabaseURL
from projections import rules
from projections.contracts import has_unallocated_principal
from projections.documents import DocumentReference, event_documents
from projections.engine import Projector
from projections.reference import Reference
from projections.subjects import SubjectState, apply_event, subject_key, subject_parties

TRACKING_NAME = "projections"
SQLITE_SUFFIX = ".projections.sqlite3"

# Rules by the kind of subject that can fire them: a rule filter reads only those rows.
RULE_KINDS: dict[str, str] = {
    rules.ARREARS: "contract",
    rules.TERM_OVER_60: "contract",
    rules.RATE_BELOW_LPR: "contract",
    rules.ACCEPTANCE_LATE: "contract",
    rules.CONFIRMATION_LATE: "contract",
    rules.CHANGE_FORBIDDEN_REASON: "commitment",
    rules.CHANGE_NO_CONSULTATION: "commitment",
    rules.CHANGE_NO_LEGAL_BASIS: "commitment",
    rules.OBLIGATION_MISSED: "commitment",
    rules.COMPENSATION_OVERDUE: "commitment",
    rules.COMPLAINT_UNANSWERED: "complaint",
}

# Raised whenever the tables or what the fold stores change: read models of another
# version are dropped and folded again from the log. 4: a principal payment naming a
# milestone is allocated at fold time too (what the milestone no longer owes spills).
SCHEMA_VERSION = 4

_SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS proj_tracking ("
    " name TEXT PRIMARY KEY, position INTEGER NOT NULL, leaf_hash BLOB)",
    "CREATE TABLE IF NOT EXISTS proj_subjects ("
    " first_index INTEGER PRIMARY KEY, subject TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
    " payer TEXT NOT NULL, payee TEXT NOT NULL, head BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS proj_subjects_payer ON proj_subjects (payer, first_index)",
    "CREATE INDEX IF NOT EXISTS proj_subjects_payee ON proj_subjects (payee, first_index)",
    "CREATE INDEX IF NOT EXISTS proj_subjects_kind ON proj_subjects (kind, first_index)",
    "CREATE TABLE IF NOT EXISTS proj_facts ("
    " subject_index INTEGER NOT NULL, leaf_index INTEGER NOT NULL, ordinal INTEGER NOT NULL,"
    " fact BLOB, PRIMARY KEY (subject_index, leaf_index, ordinal))",
    "CREATE TABLE IF NOT EXISTS proj_reference ("
    " id INTEGER PRIMARY KEY, last_index INTEGER NOT NULL, leaf_hash BLOB NOT NULL,"
    " state BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS proj_documents ("
    " sha256 TEXT NOT NULL, leaf_index INTEGER NOT NULL, ordinal INTEGER NOT NULL,"
    " field TEXT NOT NULL, leaf_hash TEXT NOT NULL, stream TEXT NOT NULL,"
    " version INTEGER NOT NULL, type TEXT NOT NULL, PRIMARY KEY (leaf_index, ordinal))",
    "CREATE INDEX IF NOT EXISTS proj_documents_sha256 ON proj_documents (sha256, leaf_index)",
)

_POSTGRES_SCHEMA = tuple(
    statement.replace("BLOB", "BYTEA")
    .replace("INTEGER NOT NULL", "BIGINT NOT NULL")
    .replace("INTEGER PRIMARY KEY", "BIGINT PRIMARY KEY")
    for statement in _SQLITE_SCHEMA
)

PROJECTION_TABLES = ("proj_tracking", "proj_subjects", "proj_facts", "proj_reference",
                     "proj_documents")

_SUBJECT_COLUMNS = (
    ("first_index", "int8"),
    ("subject", "text"),
    ("kind", "text"),
    ("payer", "text"),
    ("payee", "text"),
    ("head", "bytea"),
)
_FACT_COLUMNS = (
    ("subject_index", "int8"),
    ("leaf_index", "int8"),
    ("ordinal", "int8"),
    ("fact", "bytea"),
)
_DOCUMENT_COLUMNS = (
    ("sha256", "text"),
    ("leaf_index", "int8"),
    ("ordinal", "int8"),
    ("field", "text"),
    ("leaf_hash", "text"),
    ("stream", "text"),
    ("version", "int8"),
    ("type", "text"),
)

# Any 64-bit constant; serialises concurrent schema creation on PostgreSQL.
_SCHEMA_LOCK = 0x70726F6A5F7363


class InvalidTreeSize(InvalidInput, ValueError):
    """A tree size the store cannot answer for (negative, or beyond its position)."""

    code = "invalid_tree_size"
    title = "Tree size out of range"


class ProjectionBehind(InvalidTreeSize):
    """``at`` is beyond what the projections have folded so far."""

    code = "projection_behind"
    title = "Projections have not reached this tree size"


class ProjectionMismatch(Exception):
    """The store was folded from a different log (the hash of its last leaf differs)."""


class SubjectView(TypedDict):
    stream: str
    log_size: int
    state: SubjectState


def projection_path(ledger_path: str) -> str:
    """The SQLite file of the projections of the ledger file ``ledger_path``."""
    path = Path(ledger_path)
    stem = path.name[: -len(".sqlite3")] if path.name.endswith(".sqlite3") else path.name
    return str(path.with_name(stem + SQLITE_SUFFIX))


def encode_state(state: SubjectState | dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(state, use_bin_type=True)
    return packed


def decode_state(blob: bytes) -> Any:
    return msgpack.unpackb(blob, raw=False)


# What a subject state holds beside its head, derived again from its facts by join_state.
_NOT_IN_HEAD = ("facts", "last_index", "unallocated_principal")


def split_state(state: SubjectState) -> dict[str, Any]:
    """The head of a subject state: everything but its facts and what derives from them
    (``last_index``; a contract's ``unallocated_principal``)."""
    return {key: value for key, value in state.items() if key not in _NOT_IN_HEAD}


def join_state(
    head: dict[str, Any], facts: Iterable[tuple[int, int, bytes | None]]
) -> SubjectState:
    """A subject state from its head and its ``(leaf_index, ordinal, fact)`` rows."""
    last_index = int(head["index"])
    folded = []
    for leaf_index, _, blob in sorted(facts, key=lambda row: (row[0], row[1])):
        if blob is not None:
            folded.append(decode_state(bytes(blob)))
        last_index = max(last_index, int(leaf_index))
    if head.get("kind") == "contract":
        head["unallocated_principal"] = has_unallocated_principal(folded)
    state = cast(SubjectState, head)
    state["facts"] = folded
    state["last_index"] = last_index
    return state


@dataclass(slots=True)
class _Chunk:
    """What one ``apply`` changes, written in its transaction."""

    subjects: dict[str, SubjectState] = field(default_factory=dict)  # for the writer cache
    heads: list[tuple[Any, ...]] = field(default_factory=list)
    facts: list[tuple[Any, ...]] = field(default_factory=list)
    documents: list[tuple[Any, ...]] = field(default_factory=list)
    reference_leaf: LoggedEvent | None = None


class ProjectionStore:
    """Tracked read models in SQL; one writer at a time, any number of readers.

    ``database_url`` is the ledger's (``sqlite:///ABS/PATH`` or ``postgresql://...``).
    ``sqlite_path`` overrides where the SQLite tables live (default
    :func:`projection_path` of the ledger file). ``cache_subjects`` bounds how many
    folded subject states the writer keeps in memory between chunks (0: none); the
    cache is trusted only while nobody else has advanced the tracking position.
    """

    #: Up to this many subjects, a query reads their facts by key; beyond, by a join.
    few_subjects = 5000

    def __init__(
        self,
        database_url: str,
        *,
        sqlite_path: str | None = None,
        name: str = TRACKING_NAME,
        cache_subjects: int = 20_000,
    ) -> None:
        url = DatabaseURL.parse(database_url)
        if url.dialect == "sqlite":
            url = DatabaseURL("sqlite", path=sqlite_path or projection_path(url.path))
        self.url = url
        self.dialect = url.dialect
        self.name = name
        self.cache_subjects = cache_subjects
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        # Writer caches, valid at tree size ``_synced`` (None: reload from the tables).
        self._synced: int | None = None
        self._reference: Reference | None = None
        self._states: dict[str, SubjectState] = {}
        # Reader cache: the parsed reference data, keyed by its last folded leaf.
        self._read_reference: tuple[tuple[int, bytes], Reference] | None = None
        self._create_schema()

    # -- connections -------------------------------------------------------
    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self.dialect == "postgres" and (conn.closed or conn.broken):
            # E.g. the server restarted: connect again. Forget the broken connection
            # first, so that a reconnection failing while the server is still down
            # leaves nothing behind to forget twice (a ValueError, then a 500 on every
            # later query on this thread, long after the server was back).
            with self._connections_lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            self._local.conn = None
            conn = None
        if conn is None:
            conn = self.url.connect()
            if self.dialect == "sqlite":
                conn.isolation_level = None  # transactions are begun explicitly
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
                # Fewer checkpoints (each one syncs the file) and the pages a chunk
                # touches kept in memory: both measured to matter for catch-up.
                conn.execute("PRAGMA cache_size=-65536")
                conn.execute("PRAGMA wal_autocheckpoint=10000")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _sql(self, statement: str) -> str:
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Any]:
        """A cursor inside one transaction: a snapshot for reads, the write lock for writes."""
        conn = self._connection()
        if self.dialect == "sqlite":
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            else:
                cursor.execute("COMMIT")
            finally:
                cursor.close()
            return
        conn.isolation_level = (
            IsolationLevel.READ_COMMITTED if write else IsolationLevel.REPEATABLE_READ
        )
        with conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def _execute(self, cursor: Any, statement: str, params: Sequence[Any] = ()) -> Any:
        cursor.execute(self._sql(statement), params)
        return cursor

    def _create_schema(self) -> None:
        with self._transaction(write=True) as cursor:
            if self.dialect == "postgres":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cursor.execute("CREATE TABLE IF NOT EXISTS proj_schema (version INTEGER NOT NULL)")
            row = cursor.execute("SELECT version FROM proj_schema").fetchone()
            if row is None or int(row[0]) != SCHEMA_VERSION:
                for table in PROJECTION_TABLES:
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cursor.execute("DELETE FROM proj_schema")
                self._execute(cursor, "INSERT INTO proj_schema (version) VALUES (?)",
                              (SCHEMA_VERSION,))
            for statement in _SQLITE_SCHEMA if self.dialect == "sqlite" else _POSTGRES_SCHEMA:
                cursor.execute(statement)
            self._execute(
                cursor,
                "INSERT INTO proj_tracking (name, position, leaf_hash) VALUES (?, 0, NULL) "
                "ON CONFLICT (name) DO NOTHING",
                (self.name,),
            )

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> ProjectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tracking ----------------------------------------------------------
    def position(self) -> int:
        """The tree size folded so far (the next leaf to apply)."""
        with self._transaction(write=False) as cursor:
            return self._position(cursor)[0]

    def _position(self, cursor: Any, *, lock: bool = False) -> tuple[int, bytes | None]:
        statement = "SELECT position, leaf_hash FROM proj_tracking WHERE name = ?"
        if lock and self.dialect == "postgres":
            statement += " FOR UPDATE"
        row = self._execute(cursor, statement, (self.name,)).fetchone()
        if row is None:
            raise ProjectionMismatch(f"tracking record {self.name!r} is missing")
        return int(row[0]), None if row[1] is None else bytes(row[1])

    # -- writing -----------------------------------------------------------
    def apply(
        self, events: Sequence[LoggedEvent], *, previous_leaf_hash: bytes | None = None
    ) -> int:
        """Fold a chunk of consecutive leaves; returns how many were new.

        View rows and tracking position are written in one transaction. Leaves below
        the stored position are skipped (already folded); a chunk starting beyond it is
        refused with ``ValueError``. ``previous_leaf_hash`` is the hash of the leaf just
        before ``events[0]``; with it, a store built from another log is detected.
        """
        if not events:
            return 0
        first = events[0].index
        for offset, event in enumerate(events):
            if event.index != first + offset:
                raise ValueError(
                    f"leaves must be consecutive: leaf {event.index} follows leaf "
                    f"{first + offset - 1}"
                )
        with self._write_lock:
            try:
                return self._apply_locked(events, previous_leaf_hash)
            except BaseException:
                self._forget()
                raise

    def _apply_locked(self, events: Sequence[LoggedEvent], previous_leaf_hash: bytes | None) -> int:
        first = events[0].index
        with self._transaction(write=True) as cursor:
            if self.dialect == "postgres":
                # A crash may lose the last commits, whole: the runner folds them again.
                cursor.execute("SET LOCAL synchronous_commit = off")
            position, tracked_hash = self._position(cursor, lock=True)
            if first > position:
                raise ValueError(
                    f"leaf {first} given, but the projections have folded {position} leaves: "
                    f"leaves {position}..{first - 1} are missing"
                )
            if position > 0 and tracked_hash is not None:
                seen = self._leaf_hash_from(events, previous_leaf_hash, position - 1)
                if seen is not None and seen != tracked_hash:
                    raise ProjectionMismatch(
                        f"leaf {position - 1} of this log has hash {seen.hex()}, the "
                        f"projections were folded from a leaf {tracked_hash.hex()}: "
                        "rebuild them"
                    )
            fresh = events[position - first :]
            if not fresh:
                return 0
            if self._synced != position:
                self._forget()
                self._reference = self._load_reference(cursor)
            chunk = self._fold(cursor, fresh)
            self._write(cursor, chunk)
            last = fresh[-1]
            self._execute(
                cursor,
                "UPDATE proj_tracking SET position = ?, leaf_hash = ? WHERE name = ?",
                (last.index + 1, last.leaf_hash, self.name),
            )
            self._before_commit()
        self._synced = fresh[-1].index + 1
        self._keep(chunk.subjects)
        return len(fresh)

    def _before_commit(self) -> None:
        """Called after every row of a chunk is written, before the commit (a test seam)."""

    @staticmethod
    def _leaf_hash_from(
        events: Sequence[LoggedEvent], previous: bytes | None, index: int
    ) -> bytes | None:
        first = events[0].index
        if index == first - 1:
            return previous
        if first <= index < first + len(events):
            return events[index - first].leaf_hash
        return None

    def _forget(self) -> None:
        self._synced = None
        self._reference = None
        self._states.clear()

    def _keep(self, states: dict[str, SubjectState]) -> None:
        """Cache states the writer did not hold (those it holds were updated in place).

        First in, first out: the oldest entries go when the cache is full.
        """
        if self.cache_subjects <= 0:
            return
        cache = self._states
        cache.update(states)
        excess = len(cache) - self.cache_subjects
        if excess > 0:
            for key in list(itertools.islice(cache, excess)):
                del cache[key]

    def _load_reference(self, cursor: Any) -> Reference:
        row = self._execute(cursor, "SELECT state FROM proj_reference WHERE id = 1").fetchone()
        return Reference() if row is None else Reference.from_dict(decode_state(bytes(row[0])))

    def _select_in(
        self, cursor: Any, statement: str, keys: Sequence[str] | Sequence[int]
    ) -> Iterator[Sequence[Any]]:
        """Rows of ``statement``, whose ``{match}`` is completed to match ``keys``."""
        if self.dialect == "postgres":
            if keys:
                yield from cursor.execute(statement.format(match="= ANY(%s)"), (list(keys),))
            return
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            match = f"IN ({', '.join('?' * len(part))})"
            yield from cursor.execute(statement.format(match=match), part)

    def _load_states(self, cursor: Any, keys: Sequence[str]) -> dict[str, SubjectState]:
        """The complete folds of ``keys`` (those opened so far), for the writer."""
        heads: dict[int, tuple[str, dict[str, Any]]] = {
            int(row[0]): (row[1], decode_state(bytes(row[2])))
            for row in self._select_in(
                cursor,
                "SELECT first_index, subject, head FROM proj_subjects WHERE subject {match}",
                keys,
            )
        }
        facts: dict[int, list[tuple[int, int, bytes | None]]] = {key: [] for key in heads}
        for row in self._select_in(
            cursor,
            "SELECT subject_index, leaf_index, ordinal, fact FROM proj_facts "
            "WHERE subject_index {match}",
            list(heads),
        ):
            facts[int(row[0])].append((row[1], row[2], row[3]))
        return {key: join_state(head, facts[index]) for index, (key, head) in heads.items()}

    def _fold(self, cursor: Any, events: Sequence[LoggedEvent]) -> _Chunk:
        """Fold a chunk in memory; returns the rows to write and the states to keep."""
        reference = self._reference
        assert reference is not None
        keys = [subject_key(event.stream) for event in events]
        cache = self._states
        states: dict[str, SubjectState] = {}
        missing = []
        for key in set(keys):
            if key is not None:
                cached = cache.get(key)
                if cached is None:
                    missing.append(key)
                else:
                    states[key] = cached
        chunk = _Chunk()
        loaded = self._load_states(cursor, sorted(missing))
        states.update(loaded)
        chunk.subjects.update(loaded)  # for the cache: states it does not hold yet
        heads, facts, documents = chunk.heads, chunk.facts, chunk.documents
        for event, key in zip(events, keys, strict=True):
            if key is not None:
                # The fold of a subject after its opening leaf only appends facts and
                # moves last_index (pinned by a test): rows are appended to match.
                before = states.get(key)
                known = 0 if before is None else len(before["facts"])
                last_index = None if before is None else before["last_index"]
                state = apply_event(before, event, reference)
                if state is not None:
                    subject_index = state["index"]  # the opening leaf: the row's key
                    if before is None:
                        states[key] = chunk.subjects[key] = state
                        payer, payee = subject_parties(state)
                        heads.append((subject_index, key, state["kind"], payer, payee,
                                      encode_state(split_state(state))))
                    added = state["facts"]
                    if len(added) > known:
                        for ordinal, fact in enumerate(added[known:]):
                            facts.append((subject_index, fact["index"], ordinal,
                                          encode_state(fact)))
                    elif before is not None and state["last_index"] != last_index:
                        facts.append((subject_index, state["last_index"], 0, None))
            if reference.apply(event):
                chunk.reference_leaf = event
            named = event_documents(event)
            if named:
                leaf_hash = event.leaf_hash.hex()
                for ordinal, (path, digest) in enumerate(named):
                    documents.append((digest, event.index, ordinal, path, leaf_hash,
                                      event.stream, event.version, event.type))
        return chunk

    def _write(self, cursor: Any, chunk: _Chunk) -> None:
        self._insert_many(cursor, "proj_subjects", _SUBJECT_COLUMNS, chunk.heads)
        self._insert_many(cursor, "proj_facts", _FACT_COLUMNS, chunk.facts)
        if chunk.reference_leaf is not None:
            reference = self._reference
            assert reference is not None
            self._execute(
                cursor,
                "INSERT INTO proj_reference (id, last_index, leaf_hash, state) "
                "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "last_index = excluded.last_index, leaf_hash = excluded.leaf_hash, "
                "state = excluded.state",
                (chunk.reference_leaf.index, chunk.reference_leaf.leaf_hash,
                 encode_state(reference.to_dict())),
            )
        self._insert_many(cursor, "proj_documents", _DOCUMENT_COLUMNS, chunk.documents)

    def _insert_many(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Append rows: ``executemany`` on SQLite, a binary COPY on PostgreSQL."""
        if not rows:
            return
        names = ", ".join(name for name, _ in columns)
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([kind for _, kind in columns])
            for row in rows:
                copy.write_row(row)

    def rebuild(self) -> None:
        """Drop every view row and reset tracking to 0, in one transaction."""
        with self._write_lock:
            self._forget()
            with self._transaction(write=True) as cursor:
                self._position(cursor, lock=True)
                # DELETE, not TRUNCATE: on PostgreSQL a truncated table looks empty even to
                # a query whose snapshot predates the truncation, which would then answer
                # for the old position with no rows.
                for table in ("proj_subjects", "proj_facts", "proj_reference", "proj_documents"):
                    cursor.execute(f"DELETE FROM {table}")
                self._execute(
                    cursor,
                    "UPDATE proj_tracking SET position = 0, leaf_hash = NULL WHERE name = ?",
                    (self.name,),
                )
            self._read_reference = None

    # -- reading -----------------------------------------------------------
    def _size(self, position: int, at: int | None) -> int:
        if at is None:
            return position
        if at < 0:
            raise InvalidTreeSize(f"at={at}: a tree size is not negative", at=at)
        if at > position:
            raise ProjectionBehind(
                f"at={at} is beyond the projections, which have folded {position} leaves",
                at=at,
                position=position,
            )
        return at

    def _reference_for_reads(self, cursor: Any) -> Reference:
        row = self._execute(
            cursor, "SELECT last_index, leaf_hash FROM proj_reference WHERE id = 1"
        ).fetchone()
        if row is None:
            return Reference()
        key = (int(row[0]), bytes(row[1]))
        cached = self._read_reference
        if cached is not None and cached[0] == key:
            return cached[1]
        reference = self._load_reference(cursor)
        self._read_reference = (key, reference)
        return reference

    def _subjects(
        self,
        cursor: Any,
        size: int,
        *,
        kind: str | None = None,
        payer: str | None = None,
        payee: str | None = None,
    ) -> list[SubjectState]:
        """The folds, as at tree size ``size``, of the subjects a query needs."""
        # One index: the party's when filtering by party (the kind index would read
        # every contract), else the kind's; the kind column is then checked here.
        where = "s.first_index < ?"
        params: list[Any] = [size]
        filters = [("payer", payer), ("payee", payee)]
        if payer is None and payee is None:
            filters.append(("kind", kind))
        for column, value in filters:
            if value is not None:
                where += f" AND s.{column} = ?"
                params.append(value)
        heads: dict[int, tuple[str, dict[str, Any]]] = {
            int(row[0]): (row[1], decode_state(bytes(row[3])))
            for row in self._execute(
                cursor,
                "SELECT s.first_index, s.subject, s.kind, s.head FROM proj_subjects s "
                f"WHERE {where}",
                params,
            ).fetchall()
            if kind is None or row[2] == kind
        }
        facts: dict[int, list[tuple[int, int, bytes | None]]] = {index: [] for index in heads}
        if len(heads) <= self.few_subjects:
            # By key: the planner cannot misjudge a join into a scan of every fact.
            rows: Iterable[Sequence[Any]] = self._select_in(
                cursor,
                "SELECT subject_index, leaf_index, ordinal, fact FROM proj_facts "
                f"WHERE leaf_index < {int(size)} AND subject_index {{match}}",
                sorted(heads),
            )
        else:
            rows = self._execute(
                cursor,
                "SELECT f.subject_index, f.leaf_index, f.ordinal, f.fact FROM proj_subjects s "
                "JOIN proj_facts f ON f.subject_index = s.first_index "
                f"WHERE {where} AND f.leaf_index < ?",
                [*params, size],
            ).fetchall()
        for row in rows:
            found = facts.get(int(row[0]))
            if found is not None:
                found.append((row[1], row[2], row[3]))
        return [join_state(head, facts[index]) for index, (_, head) in heads.items()]

    def _projector(self, position: int, reference: Reference,
                   states: list[SubjectState]) -> Projector:
        """A ``Projector`` over just the subjects a query needs (rows are per subject)."""
        projector = Projector()
        projector.reference = reference
        projector.subjects = {state["stream"]: state for state in states}
        projector.size = position
        return projector

    def _query(
        self,
        at: int | None,
        answer: Callable[[Projector, int], dict[str, Any]],
        **subjects: str | None,
    ) -> dict[str, Any]:
        with self._transaction(write=False) as cursor:
            position = self._position(cursor)[0]
            size = self._size(position, at)
            reference = self._reference_for_reads(cursor)
            states = self._subjects(cursor, size, **subjects)
        return answer(self._projector(position, reference, states), size)

    def arrears(
        self,
        as_of: date,
        at: int | None = None,
        payer: str | None = None,
        payee: str | None = None,
    ) -> dict[str, Any]:
        """``{as_of, log_size, rows, totals}``, as ``Projector.arrears``."""
        return self._query(
            at,
            lambda p, size: p.arrears(as_of, size, payer, payee),
            kind="contract",
            payer=payer,
            payee=payee,
        )

    def breaches(
        self,
        as_of: date,
        at: int | None = None,
        rule: str | None = None,
        party: str | None = None,
    ) -> dict[str, Any]:
        """``{as_of, log_size, rows}``, as ``Projector.breaches``.

        The party of every breach row is its subject's payer column (buyer, issuer, or
        the party complained against), so a party filter reads only those rows.
        """
        kind = None if rule is None else RULE_KINDS.get(rule, "")
        return self._query(
            at, lambda p, size: p.breaches(as_of, size, rule, party), kind=kind, payer=party
        )

    def compensation(self, as_of: date, at: int | None = None) -> dict[str, Any]:
        """``{as_of, log_size, rows}``, as ``Projector.compensation``."""
        return self._query(at, lambda p, size: p.compensation(as_of, size), kind="commitment")

    def accountability(self, as_of: date, at: int | None = None) -> dict[str, Any]:
        """``{as_of, log_size, rows}``, as ``Projector.accountability``."""
        return self._query(at, lambda p, size: p.accountability(as_of, size))

    def documents_named(self, sha256: str, at: int | None = None) -> dict[str, Any]:
        """``{sha256, log_size, rows}``: every event naming the document, in log order."""
        digest = sha256.lower()
        with self._transaction(write=False) as cursor:
            size = self._size(self._position(cursor)[0], at)
            rows = self._execute(
                cursor,
                "SELECT sha256, field, leaf_index, leaf_hash, stream, version, type "
                "FROM proj_documents WHERE sha256 = ? AND leaf_index < ? "
                "ORDER BY leaf_index, ordinal",
                (digest, size),
            ).fetchall()
        return {"sha256": digest, "log_size": size, "rows": [_document(row) for row in rows]}

    def document_index(self, at: int | None = None) -> dict[str, Any]:
        """``{log_size, documents}``: the whole index, as ``Projector.document_index``."""
        with self._transaction(write=False) as cursor:
            size = self._size(self._position(cursor)[0], at)
            rows = self._execute(
                cursor,
                "SELECT sha256, field, leaf_index, leaf_hash, stream, version, type "
                "FROM proj_documents WHERE leaf_index < ? ORDER BY leaf_index, ordinal",
                (size,),
            ).fetchall()
        documents: dict[str, list[DocumentReference]] = {}
        for row in rows:
            documents.setdefault(row[0], []).append(_document(row))
        return {"log_size": size, "documents": dict(sorted(documents.items()))}

    def compute_all(self, as_of: date, at: int | None = None) -> dict[str, dict[str, Any]]:
        """Every read model, as :func:`projections.engine.compute_all` (one snapshot each)."""
        return {
            "arrears": self.arrears(as_of, at),
            "breaches": self.breaches(as_of, at),
            "compensation": self.compensation(as_of, at),
            "accountability": self.accountability(as_of, at),
            "documents": self.document_index(at),
        }

    def subject_state(self, stream: str, at: int | None = None) -> SubjectView | None:
        """The fold of one contract, commitment or complaint as known at tree size ``at``.

        ``None`` when the stream is not a subject or was not opened below ``at``. The
        state carries the leaf index and hash of every fact (its evidence).
        """
        with self._transaction(write=False) as cursor:
            size = self._size(self._position(cursor)[0], at)
            row = self._execute(
                cursor,
                "SELECT first_index, head FROM proj_subjects WHERE subject = ? AND first_index < ?",
                (stream, size),
            ).fetchone()
            if row is None:
                return None
            facts = self._execute(
                cursor,
                "SELECT leaf_index, ordinal, fact FROM proj_facts "
                "WHERE subject_index = ? AND leaf_index < ?",
                (row[0], size),
            ).fetchall()
        state = join_state(decode_state(bytes(row[1])), facts)
        return {"stream": stream, "log_size": size, "state": state}


def _document(row: Sequence[Any]) -> DocumentReference:
    return {
        "sha256": row[0],
        "field": row[1],
        "leaf_index": int(row[2]),
        "leaf_hash": row[3],
        "stream": row[4],
        "version": int(row[5]),
        "type": row[6],
    }
