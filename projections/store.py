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
``proj_subjects(subject, kind, payer, payee, first_index, last_index, state)``
    One row per ``contract/``, ``commitment/`` or ``complaint/`` stream: its fold as
    msgpack, its (payer, payee) from :func:`~projections.subjects.subject_parties`
    (indexed, so a one-payer query reads only that payer's rows) and the leaf that
    opened it (``first_index``: a query at tree size N reads rows with
    ``first_index < N``).
``proj_reference(id, last_index, leaf_hash, state)``
    The reference fold (calendar, LPR, parties) as one msgpack row, with the index and
    hash of the last reference leaf in it (readers keep it parsed while those hold).
``proj_documents(sha256, leaf_index, ordinal, field, leaf_hash, stream, version, type)``
    The document index, one row per document hash named by an event.

Where they live: on PostgreSQL, in the ledger's own database beside ``leaves``. On
SQLite, in a file beside the ledger's (``ledger.sqlite3`` -> ``ledger.projections.sqlite3``,
see :func:`projection_path`), so that folding never takes the ledger file's write lock
away from ingest; the projections are derived data and can be rebuilt from the log at
any time. That file runs in WAL mode with ``synchronous=NORMAL``: a power loss may undo
the last commits, never half of one, and the runner folds them again.

Exactly once: :meth:`ProjectionStore.apply` writes the view rows and the new tracking
position in one transaction, after locking the tracking row (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL). Leaves below the stored position are
skipped, a gap is refused, and an interrupted transaction leaves nothing behind, so
a chunk can be offered any number of times, by any number of runners.

Asking for ``at`` beyond the stored position raises :class:`ProjectionBehind` (an
``InvalidInput``, status 400, that is also a ``ValueError``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypedDict, TypeVar, cast

import msgpack  # type: ignore[import-untyped]
from psycopg import IsolationLevel

from ledger.errors import InvalidInput
from ledger.records import LoggedEvent
from ledger.store import DatabaseURL
from projections import rules
from projections.documents import DocumentReference, named_documents
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

_SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS proj_tracking ("
    " name TEXT PRIMARY KEY, position INTEGER NOT NULL, leaf_hash BLOB)",
    "CREATE TABLE IF NOT EXISTS proj_subjects ("
    " subject TEXT PRIMARY KEY, kind TEXT NOT NULL, payer TEXT NOT NULL, payee TEXT NOT NULL,"
    " first_index INTEGER NOT NULL, last_index INTEGER NOT NULL, state BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS proj_subjects_payer ON proj_subjects (payer, first_index)",
    "CREATE INDEX IF NOT EXISTS proj_subjects_payee ON proj_subjects (payee, first_index)",
    "CREATE INDEX IF NOT EXISTS proj_subjects_kind ON proj_subjects (kind, first_index)",
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
    statement.replace("BLOB", "BYTEA").replace("INTEGER NOT NULL", "BIGINT NOT NULL")
    for statement in _SQLITE_SCHEMA
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


def state_at(state: SubjectState, at: int | None) -> SubjectState:
    """A subject's fold as it was at tree size ``at``: facts from leaves below ``at``.

    Every event of a subject stream after its opening one adds one fact, so the last
    leaf folded is the last fact's (or the opening leaf when there is none).
    """
    if at is None:
        return state
    facts = [fact for fact in state["facts"] if fact["index"] < at]
    restricted = cast(SubjectState, {**state, "facts": facts})
    restricted["last_index"] = facts[-1]["index"] if facts else state["index"]
    return restricted


@dataclass(slots=True)
class _Chunk:
    """What one ``apply`` changes, written in its transaction."""

    subjects: dict[str, SubjectState]
    new: set[str]
    dirty: set[str]
    documents: list[tuple[Any, ...]]
    reference_leaf: LoggedEvent | None = None


Row = TypeVar("Row")


class ProjectionStore:
    """Tracked read models in SQL; one writer at a time, any number of readers.

    ``database_url`` is the ledger's (``sqlite:///ABS/PATH`` or ``postgresql://...``).
    ``sqlite_path`` overrides where the SQLite tables live (default
    :func:`projection_path` of the ledger file). ``cache_subjects`` bounds how many
    folded subject states the writer keeps in memory between chunks (0: none); the
    cache is trusted only while nobody else has advanced the tracking position.
    """

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
        self._states: OrderedDict[str, SubjectState] = OrderedDict()
        # Reader cache: the parsed reference data, keyed by its last folded leaf.
        self._read_reference: tuple[tuple[int, bytes], Reference] | None = None
        self._create_schema()

    # -- connections -------------------------------------------------------
    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.url.connect()
            if self.dialect == "sqlite":
                conn.isolation_level = None  # transactions are begun explicitly
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
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
        if self.cache_subjects <= 0:
            return
        for key, state in states.items():
            self._states.pop(key, None)
            self._states[key] = state
        while len(self._states) > self.cache_subjects:
            self._states.popitem(last=False)

    def _load_reference(self, cursor: Any) -> Reference:
        row = self._execute(cursor, "SELECT state FROM proj_reference WHERE id = 1").fetchone()
        return Reference() if row is None else Reference.from_dict(decode_state(bytes(row[0])))

    def _load_states(self, cursor: Any, keys: Iterable[str]) -> dict[str, SubjectState]:
        wanted = list(keys)
        found: dict[str, SubjectState] = {}
        if self.dialect == "postgres":
            if wanted:
                rows = self._execute(
                    cursor,
                    "SELECT subject, state FROM proj_subjects WHERE subject = ANY(?)",
                    (wanted,),
                ).fetchall()
                found.update((row[0], decode_state(bytes(row[1]))) for row in rows)
            return found
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ", ".join("?" * len(part))
            rows = cursor.execute(
                f"SELECT subject, state FROM proj_subjects WHERE subject IN ({marks})", part
            ).fetchall()
            found.update((row[0], decode_state(bytes(row[1]))) for row in rows)
        return found

    def _fold(self, cursor: Any, events: Sequence[LoggedEvent]) -> _Chunk:
        reference = self._reference
        assert reference is not None
        keys = {key for event in events if (key := subject_key(event.stream)) is not None}
        states: dict[str, SubjectState] = {}
        missing = []
        for key in keys:
            cached = self._states.get(key)
            if cached is None:
                missing.append(key)
            else:
                states[key] = cached
        states.update(self._load_states(cursor, missing))
        chunk = _Chunk(subjects=states, new=set(), dirty=set(), documents=[])
        for event in events:
            key = subject_key(event.stream)
            if key is not None:
                before = states.get(key)
                state = apply_event(before, event, reference)
                if state is not None:
                    if before is None:
                        chunk.new.add(key)
                    states[key] = state
                    chunk.dirty.add(key)
            if reference.apply(event):
                chunk.reference_leaf = event
            leaf_hash = event.leaf_hash.hex()
            for ordinal, (field, digest) in enumerate(named_documents(event.body)):
                chunk.documents.append(
                    (digest, event.index, ordinal, field, leaf_hash, event.stream,
                     event.version, event.type)
                )
        for key in [key for key in states if key not in chunk.dirty]:
            del states[key]  # opened by no event yet: nothing to store
        return chunk

    def _write(self, cursor: Any, chunk: _Chunk) -> None:
        rows = []
        for key in sorted(chunk.dirty):
            state = chunk.subjects[key]
            payer, payee = subject_parties(state)
            rows.append(
                (key, state["kind"], payer, payee, state["index"], state["last_index"],
                 encode_state(state))
            )
        if rows:
            cursor.executemany(
                self._sql(
                    "INSERT INTO proj_subjects "
                    "(subject, kind, payer, payee, first_index, last_index, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET "
                    "last_index = excluded.last_index, state = excluded.state"
                ),
                rows,
            )
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
        if chunk.documents:
            cursor.executemany(
                self._sql(
                    "INSERT INTO proj_documents "
                    "(sha256, leaf_index, ordinal, field, leaf_hash, stream, version, type) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                chunk.documents,
            )

    def rebuild(self) -> None:
        """Drop every view row and reset tracking to 0, in one transaction."""
        with self._write_lock:
            self._forget()
            with self._transaction(write=True) as cursor:
                self._position(cursor, lock=True)
                for table in ("proj_subjects", "proj_reference", "proj_documents"):
                    if self.dialect == "postgres":
                        cursor.execute(f"TRUNCATE {table}")
                    else:
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
        statement = "SELECT state FROM proj_subjects WHERE first_index < ?"
        params: list[Any] = [size]
        for column, value in (("payer", payer), ("payee", payee), ("kind", kind)):
            if value is not None:
                statement += f" AND {column} = ?"
                params.append(value)
        rows = self._execute(cursor, statement, params).fetchall()
        return [decode_state(bytes(row[0])) for row in rows]

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
                "SELECT state FROM proj_subjects WHERE subject = ? AND first_index < ?",
                (stream, size),
            ).fetchone()
        if row is None:
            return None
        state: SubjectState = decode_state(bytes(row[0]))
        return {"stream": stream, "log_size": size, "state": state_at(state, size)}


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
