"""The ledger application: the one place that writes.

Each stream (``contract/<id>``, ``party/<uscc>``, ...) is an eventsourcing aggregate whose
events are the leaves themselves: the stored state of an event is the exact leaf bytes
(DESIGN 3.4), under the stable topic ``ledger/leaf``, so no Python module path is ever
read back from data. Submissions pass the checks of DESIGN 6 in order; a batch is decided
item by item against the state including the items before it, then saved in one
transaction together with its leaves, nonces and tree nodes.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar

import msgpack
from eventsourcing.application import Application, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from .catalogue import check_stream_name, opens_stream, validate_event
from .domain import SignerInfo, State, check_authority, check_rules, evolve, key_party_id
from .envelope import MAX_ENVELOPE_BYTES, Envelope, Submission
from .errors import (
    BadSignature,
    BatchRejected,
    KeyRevoked,
    LedgerError,
    NonceReused,
    RuleViolation,
    ServiceUnavailable,
    TooLarge,
    UnknownKey,
    VersionConflict,
)
from .keys import VerifierKey
from .records import LoggedEvent, Receipt
from .sigpool import SignaturePool
from .store import DatabaseURL, LogMovedOn, PendingBatch, PendingLeaf, Reader, leaf_hash_of
from .timeutil import Clock, format_instant, parse_instant, utc_now

STREAM_NAMESPACE = uuid.UUID("6f0c5d3e-2b7a-5c1e-9a44-0d1e2c3b4a59")
LEAF_TOPIC = "ledger/leaf"
MAX_LEAF_BYTES = 65_535
MAX_BATCH = 1000


def stream_id(stream: str) -> uuid.UUID:
    return uuid.uuid5(STREAM_NAMESPACE, stream)


# ---------------------------------------------------------------------------
# Leaves
# ---------------------------------------------------------------------------
def encode_leaf(stream: str, version: int, type_: str, recorded_at: str,
                envelope: bytes, signature: bytes, prev: bytes | None) -> bytes:
    # Keys written in canonical (UTF-8 byte) order; every value is a scalar, so this is
    # exactly ``encoding.encode`` of the same map, without the generic walk.
    leaf: bytes = msgpack.packb({
        "envelope": envelope, "prev": prev, "recorded_at": recorded_at,
        "signature": signature, "stream": stream, "type": type_, "v": 1, "version": version,
    }, use_bin_type=True)
    return leaf


def decode_leaf_fast(leaf: bytes) -> dict[str, Any]:
    """Decode a leaf read from our own store (already canonical)."""
    value: dict[str, Any] = msgpack.unpackb(leaf, raw=False)
    return value


def logged_event(index: int, leaf: bytes) -> LoggedEvent:
    """Decode a stored leaf into the record projections consume."""
    item = decode_leaf_fast(leaf)
    raw_envelope = item["envelope"]
    envelope = msgpack.unpackb(raw_envelope, raw=False)
    return LoggedEvent(
        index=index, leaf_hash=leaf_hash_of(leaf), stream=item["stream"],
        version=item["version"], type=item["type"], recorded_at=item["recorded_at"],
        signer=envelope["signer"], body=envelope["body"], prev=item["prev"],
        may_name_documents=b"_sha256" in raw_envelope,
    )


# ---------------------------------------------------------------------------
# The aggregate: one per stream
# ---------------------------------------------------------------------------
class StreamAggregate(Aggregate):
    class Started(Aggregate.Created):
        leaf: bytes

        def apply(self, aggregate: Any) -> None:
            aggregate.apply_leaf(self.leaf)

    class Recorded(Aggregate.Event):
        leaf: bytes

        def apply(self, aggregate: Any) -> None:
            aggregate.apply_leaf(self.leaf)

    def __init__(self) -> None:
        self.stream = ""
        self.head: bytes | None = None
        self.state: State | None = None

    def record_decided(self, leaf: bytes, leaf_hash: bytes, envelope: Envelope,
                       recorded_at: str, version: int, timestamp: datetime) -> None:
        """Append an event the ledger has just decided, reusing the decoded envelope.

        Equivalent to ``trigger_event(Recorded, leaf=leaf)`` (which would decode the leaf
        it was just built from); replay still goes through :meth:`apply_leaf`.
        """
        event = StreamAggregate.Recorded(  # type: ignore[call-arg]  # dataclass field
            originator_id=self.id, originator_version=version, timestamp=timestamp, leaf=leaf)
        if version != self.version + 1:  # pragma: no cover - the ledger computed it
            raise ValueError(f"version {version} does not follow {self.version}")
        self.state = evolve(self.state, envelope.type, envelope.body, envelope.signer,
                            recorded_at, version)
        self.head = leaf_hash
        self.version = version
        self.modified_on = timestamp
        self.pending_events.append(event)

    def apply_leaf(self, leaf: bytes) -> None:
        item = decode_leaf_fast(leaf)
        envelope = msgpack.unpackb(item["envelope"], raw=False)
        self.stream = item["stream"]
        self.state = evolve(self.state, item["type"], envelope["body"], envelope["signer"],
                            item["recorded_at"], item["version"])
        self.head = leaf_hash_of(leaf)


class LeafMapper(Mapper[uuid.UUID]):
    """Stores stream events as their exact leaf bytes under a stable topic."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if isinstance(domain_event, (StreamAggregate.Started, StreamAggregate.Recorded)):
            return StoredEvent(originator_id=domain_event.originator_id,
                               originator_version=domain_event.originator_version,
                               topic=LEAF_TOPIC, state=domain_event.leaf)
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        if stored_event.topic != LEAF_TOPIC:
            return super().to_domain_event(stored_event)
        leaf = bytes(stored_event.state)
        timestamp = parse_instant(decode_leaf_fast(leaf)["recorded_at"])
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, uuid.UUID):
            originator_id = uuid.UUID(str(originator_id))
        if stored_event.originator_version == 1:
            return StreamAggregate.Started(  # type: ignore[call-arg]  # dataclass field
                originator_id=originator_id, originator_version=1, timestamp=timestamp,
                originator_topic=get_topic(StreamAggregate), leaf=leaf)
        return StreamAggregate.Recorded(  # type: ignore[call-arg]  # dataclass field
            originator_id=originator_id, originator_version=stored_event.originator_version,
            timestamp=timestamp, leaf=leaf)


class LedgerApplication(Application[uuid.UUID]):
    name = "ledger"
    # The ledger keeps its own cache of stream aggregates (see ``Ledger``).
    env: ClassVar[dict[str, str]] = {}

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return LeafMapper(transcoder=self.construct_transcoder())


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    receipt: Receipt
    created: bool  # False: an identical submission was already recorded


@dataclass
class _Item:
    position: int
    submission: Submission
    envelope: Envelope | None = None
    error: LedgerError | None = None
    key: VerifierKey | None = None
    signature_ok: bool | None = None


@dataclass
class _Workspace:
    """Aggregates and nonces touched by one batch, including its own earlier items."""

    ledger: Ledger
    aggregates: dict[str, StreamAggregate] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)
    nonces: dict[tuple[str, bytes], tuple[bytes, Receipt]] = field(default_factory=dict)
    recorded: dict[tuple[str, bytes], tuple[bytes, Receipt]] = field(default_factory=dict)
    # Every stream the decisions read, found or not: what another writer must not have
    # appended to before this batch is saved (``PendingBatch.read``).
    read: set[str] = field(default_factory=set)

    def stream(self, name: str) -> StreamAggregate | None:
        if name in self.aggregates:
            return self.aggregates[name]
        self.read.add(name)
        agg = self.ledger.cached_stream(name)
        if agg is not None:
            self.aggregates[name] = agg
        return agg

    def state(self, name: str) -> State | None:
        agg = self.stream(name)
        return None if agg is None else agg.state

    def party(self, party_id: str) -> State | None:
        return self.state(f"party/{party_id}")


class Ledger:
    """Checks and records signed submissions; reads the log back."""

    def __init__(self, database_url: str, *, clock: Clock = utc_now,
                 acceptance_window: timedelta = timedelta(days=7),
                 future_skew: timedelta = timedelta(minutes=5),
                 verify_workers: int | None = None) -> None:
        self.url_text = database_url
        self.url = DatabaseURL.parse(database_url)
        self.app = LedgerApplication(env=self.url.eventsourcing_env())
        self.reader = Reader(self.app.recorder, self.url.dialect)
        self.clock = clock
        self.acceptance_window = acceptance_window
        self.future_skew = future_skew
        # Worker processes that check signatures while this thread decides the batch
        # (0: check them inline). By default one per core besides this one.
        workers = (verify_workers if verify_workers is not None
                   else max((os.cpu_count() or 1) - 1, 1))
        self._signatures = SignaturePool(workers)
        # Stream aggregates as last committed by this process. They are trusted only
        # while the log has not grown behind our back (another process writing the
        # same database); then the cache is dropped and streams reload from storage.
        self._streams: OrderedDict[str, StreamAggregate] = OrderedDict()
        self._streams_max = 50_000
        self._seen_size = -1
        self._write_lock = threading.Lock()

    def start_workers(self) -> None:
        """Start the signature workers (otherwise started by the first large batch)."""
        self._signatures.start()

    def close(self) -> None:
        self._signatures.close()
        self.app.close()

    # Loading ---------------------------------------------------------------
    def load_stream(self, name: str) -> StreamAggregate | None:
        from eventsourcing.application import AggregateNotFoundError

        try:
            agg: StreamAggregate = self.app.repository.get(stream_id(name))
        except AggregateNotFoundError:
            return None
        return agg

    def cached_stream(self, name: str) -> StreamAggregate | None:
        agg = self._streams.get(name)
        if agg is not None:
            self._streams.move_to_end(name)
            return agg
        agg = self.load_stream(name)
        if agg is not None:
            self._remember(name, agg)
        return agg

    def _remember(self, name: str, agg: StreamAggregate) -> None:
        self._streams[name] = agg
        if len(self._streams) > self._streams_max:
            self._streams.popitem(last=False)

    def preload_streams(self, names: Iterable[str]) -> None:
        """Bring the streams a batch will touch into the cache with one query.

        After a restart a batch of payments reaches hundreds of contracts the cache
        does not hold; loading each through the repository costs a query apiece. The
        leaves table holds every stream's leaves (written in the same transactions as
        the events), so the aggregates are rebuilt from it, through the same mapper
        and projector the repository uses. Streams it cannot find are left alone.
        """
        missing = sorted({n for n in names if n not in self._streams})
        if len(missing) < 2:
            return
        found: dict[str, list[tuple[int, bytes]]] = {}
        with self.reader.cursor() as c:
            for start in range(0, len(missing), 400):
                part = missing[start:start + 400]
                marks = ", ".join("?" * len(part))
                for stream, version, leaf in c.execute(
                        f"SELECT stream, version, leaf FROM leaves WHERE stream IN ({marks}) "
                        "ORDER BY stream, version", part).fetchall():
                    found.setdefault(stream, []).append((int(version), bytes(leaf)))
        mapper = self.app.mapper
        for name, rows in found.items():
            if [v for v, _ in rows] != list(range(1, len(rows) + 1)):
                continue  # not a whole stream: let the repository load it
            sid = stream_id(name)
            agg = project_aggregate(None, (mapper.to_domain_event(StoredEvent(
                originator_id=sid, originator_version=version, topic=LEAF_TOPIC, state=leaf))
                for version, leaf in rows))
            if isinstance(agg, StreamAggregate):
                self._remember(name, agg)

    # Recording -------------------------------------------------------------
    def record(self, submission: Submission) -> Outcome:
        """Record one submission; raises the specific error when refused."""
        try:
            return self.record_batch([submission])[0]
        except BatchRejected as rejected:
            raise rejected.failures[0][1] from None

    def record_each(self, submissions: Sequence[Submission]) -> list[Outcome | LedgerError]:
        """Independent submissions sharing one transaction (group commit).

        Each item is decided against the state including the accepted items before
        it; a refused item gets its error and does not affect the others.
        """
        results: list[Outcome | LedgerError] = []
        remaining = list(submissions)
        positions = list(range(len(submissions)))
        final: dict[int, Outcome | LedgerError] = {}
        while remaining:
            try:
                outcomes = self.record_batch(remaining)
            except BatchRejected as rejected:
                failed = {i for i, _ in rejected.failures}
                for i, error in rejected.failures:
                    final[positions[i]] = error
                remaining = [s for i, s in enumerate(remaining) if i not in failed]
                positions = [p for i, p in enumerate(positions) if i not in failed]
                continue
            except WriteConflicts as error:
                if len(remaining) == 1:
                    final[positions[0]] = error
                    break
                # Another process keeps writing a stream some item of the group reads:
                # record the items one by one, so that only those it conflicts with
                # fail (each is independent of the others).
                for p, submission in zip(positions, remaining, strict=True):
                    final[p] = self.record_each([submission])[0]
                break
            except LedgerError as error:
                for p in positions:
                    final[p] = error
                break
            for p, outcome in zip(positions, outcomes, strict=True):
                final[p] = outcome
            break
        results = [final[i] for i in range(len(submissions))]
        return results

    def check_batch(self, submissions: Sequence[Submission]) -> list[tuple[int, LedgerError]]:
        """The items of a batch that would be refused, each with its error, deciding
        exactly as :meth:`record_batch` does but recording nothing."""
        try:
            self.record_batch(submissions, check_only=True)
        except BatchRejected as rejected:
            return list(rejected.failures)
        except _WouldRecord:
            return []
        raise AssertionError("unreachable: a checked batch is never saved")

    def record_batch(self, submissions: Sequence[Submission],
                     *, genesis: bool = False, check_only: bool = False) -> list[Outcome]:
        """All-or-nothing: every item recorded in one transaction, or none."""
        if len(submissions) > MAX_BATCH:
            raise TooLarge(f"a batch holds at most {MAX_BATCH} submissions, "
                           f"got {len(submissions)}")
        last_error: Exception | None = None
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                # Writers racing for the same streams would otherwise collide again at
                # once, every time (the one that lost reloading while the other wrote).
                time.sleep(secrets.randbelow(1000) / 1000 * 0.004 * 2 ** attempt)
            with self._write_lock:
                try:
                    return self._record_once(submissions, genesis=genesis,
                                             check_only=check_only)
                except LogMovedOn as exc:
                    # Another writer appended to streams this batch read: reload them.
                    last_error = exc
                    self._forget(exc.streams)
                except IntegrityError as exc:
                    # Another writer got there first (same stream version or nonce);
                    # decide again against the state now committed.
                    last_error = exc
                    self._forget(None)
        raise WriteConflicts(f"could not record after repeated write conflicts: "
                             f"{last_error}")

    def _forget(self, streams: Iterable[str] | None) -> None:
        """Drop cached streams (all of them with None) so that they load afresh."""
        if streams is None:
            self._streams.clear()
            self._seen_size = -1
            return
        for name in streams:
            self._streams.pop(name, None)

    def _record_once(self, submissions: Sequence[Submission], *, genesis: bool,
                     check_only: bool = False) -> list[Outcome]:
        size = self.size()
        if size != self._seen_size:
            self._streams.clear()
            self._seen_size = size
        for speculative in (True, False):
            work = _Workspace(self)
            try:
                return self._decide_and_save(submissions, work, genesis=genesis,
                                             speculative=speculative, decided_at=size,
                                             check_only=check_only)
            except BaseException as exc:
                # Aggregates changed in memory by a batch that was not saved are dropped.
                for name, agg in work.aggregates.items():
                    if agg.pending_events:
                        self._streams.pop(name, None)
                if not isinstance(exc, _Redo):
                    raise
        raise AssertionError("unreachable: the second pass knows every signature")

    def _decide_and_save(self, submissions: Sequence[Submission], work: _Workspace, *,
                         genesis: bool, speculative: bool, decided_at: int,
                         check_only: bool = False) -> list[Outcome]:
        now = self.clock()
        recorded_at = format_instant(now.replace(microsecond=0))
        items = [_Item(i, s) for i, s in enumerate(submissions)]
        genesis_keys = self._genesis_keys(items) if genesis else {}
        join = self._start_verification(items, work, genesis_keys, speculative=speculative)
        work.recorded = self._recorded_nonces(
            [(i.envelope.signer, i.envelope.nonce) for i in items if i.envelope is not None])

        outcomes: list[Outcome | None] = [None] * len(items)
        failures: list[tuple[int, LedgerError]] = []
        pending: list[PendingLeaf] = []
        events: list[Any] = []
        for item in items:
            try:
                result = self._decide(item, work, genesis_keys, now, recorded_at, pending,
                                      events)
            except LedgerError as error:
                original = self._committed_meanwhile(item, error)
                if original is None:
                    failures.append((item.position, error))
                    continue
                result = original
            outcomes[item.position] = result
        if not join():
            # A signature that was still being checked while the batch was decided
            # failed: decide again with every signature known first, so each error
            # is reported against exactly the state the documented order gives.
            raise _Redo
        if failures:
            raise BatchRejected(failures)
        if check_only:
            # Raised, not returned, so that the caller drops what the decisions changed
            # in memory, as for any batch that is not saved.
            raise _WouldRecord
        index_of: dict[int, int] = {}
        if events:
            batch = PendingBatch(leaves=pending, decided_at=decided_at,
                                 read=frozenset(work.read | work.aggregates.keys()))
            batch.by_event = {(p.originator_id, p.version): p for p in pending}
            self.app.events.put(events, ledger_batch=batch)
            assert batch.first_index is not None
            index_of = {id(p): batch.first_index + i for i, p in enumerate(batch.leaves)}
            # What another writer appended meanwhile did not touch what this batch read;
            # the streams it did touch are reloaded when next needed.
            self._forget(batch.moved)
            self._seen_size = batch.first_index + len(events)
            for name, agg in work.aggregates.items():
                agg.collect_events()  # saved: no longer pending
                if name not in self._streams:
                    self._streams[name] = agg
        for pos, outcome in enumerate(outcomes):
            # Placeholders (negative) point into ``pending``: the leaf this item
            # recorded, or the one an identical earlier item of the batch recorded.
            if outcome is not None and outcome.receipt.leaf_index < 0:
                leaf = pending[-outcome.receipt.leaf_index - 1]
                outcomes[pos] = Outcome(Receipt(
                    leaf_index=index_of[id(leaf)], leaf_hash=leaf.leaf_hash,
                    stream=leaf.stream, version=leaf.version,
                    recorded_at=leaf.recorded_at), outcome.created)
        return [o for o in outcomes if o is not None]

    def initialise(self, operator: Any, operator_id: str, name: str) -> bool:
        """Open an empty log with the operator's registration; False when already open."""
        if self.size() != 0:
            return False
        signed_at = self.clock().replace(microsecond=0)
        self.record_batch(genesis_submissions(operator, operator_id, name, signed_at),
                          genesis=True)
        return True

    def _genesis_keys(self, items: list[_Item]) -> dict[str, tuple[VerifierKey, tuple[str, ...]]]:
        """The first two events of an empty log register the operator with its own key."""
        if self.size() != 0 or len(items) < 2:
            return {}
        try:
            first, second = items[0].submission.decode(), items[1].submission.decode()
        except LedgerError:
            return {}
        if (first.type, second.type) != ("party.registered", "key.registered"):
            return {}
        try:
            key = VerifierKey.parse(second.body["vkey"])
        except Exception:
            return {}
        if first.body.get("kind") != "operator" or "operator" not in second.body.get("roles", []):
            return {}
        if not (first.signer == second.signer == key.name):
            return {}
        return {key.name: (key, ("operator",))}

    def _start_verification(self, items: list[_Item], work: _Workspace,
                            genesis_keys: dict[str, tuple[VerifierKey, tuple[str, ...]]],
                            *, speculative: bool) -> Callable[[], bool]:
        """Decode each item and start checking signatures under keys known before the batch.

        Verification runs on worker processes (``sigpool``) while the batch is decided;
        the returned ``join`` helps with what they have not started, waits, and says
        whether every one held.
        Without ``speculative`` (or for small batches) it completes before returning.
        Items whose key is registered earlier in the same batch are checked in order.
        """
        # The signer is read from a plain decode first, so that the workers can start
        # before the full canonical decode and schema checks of every item; a check
        # is used only if the fully decoded signer's key is the very key it was run
        # under (``_decide``), so a disagreement can only cost an inline check.
        ready: list[_Item] = []
        signers = [_plain_signer(item.submission.envelope_bytes) for item in items]
        self.preload_streams(f"party/{key_party_id(s)}" for s in signers if s is not None)
        for item, signer in zip(items, signers, strict=True):
            if signer is None:
                continue
            key = genesis_keys.get(signer, (None,))[0] or self._known_key(signer, work)
            if key is not None:
                item.key = key
                ready.append(item)
        pending = self._signatures.submit(
            [(item.key.public, item.submission.envelope_bytes, item.submission.signature)
             for item in ready if item.key is not None])
        streams = []
        for item in items:
            try:
                item.envelope = item.submission.decode()
            except LedgerError as error:
                item.error = error
                continue
            streams.append(item.envelope.stream)
        # While the workers check signatures: the streams the batch will extend.
        self.preload_streams(streams)

        def join() -> bool:
            results = pending.result()
            for item, ok in zip(ready, results, strict=True):
                item.signature_ok = ok
            return all(results)

        if not speculative:
            join()
            return lambda: True
        return join

    def _known_key(self, key_name: str, work: _Workspace) -> VerifierKey | None:
        party_id = key_party_id(key_name)
        if "/" not in key_name:
            return None
        party = work.party(party_id) if _looks_like_party(party_id) else None
        entry = (party or {}).get("keys", {}).get(key_name)
        if entry is None:
            return None
        return parse_vkey(entry["vkey"])

    def _decide(self, item: _Item, work: _Workspace,
                genesis_keys: dict[str, tuple[VerifierKey, tuple[str, ...]]], now: datetime,
                recorded_at: str, pending: list[PendingLeaf], events: list[Any]) -> Outcome:
        if item.error is not None:
            raise item.error
        env = item.envelope
        assert env is not None
        sub = item.submission
        # 2. key known (possibly registered by an earlier item of this batch)
        roles: tuple[str, ...]
        if env.signer in genesis_keys:
            key, roles = genesis_keys[env.signer]
            revoked_at = None
        else:
            party = work.party(key_party_id(env.signer)) if _looks_like_party(
                key_party_id(env.signer)) else None
            entry = (party or {}).get("keys", {}).get(env.signer)
            if party is None or entry is None:
                raise UnknownKey(f"signer {env.signer!r} is not a registered key",
                                 signer=env.signer)
            key = parse_vkey(entry["vkey"])
            roles = tuple(entry["roles"])
            revoked_at = entry.get("revoked_at")
        # 3. signature (checked by the signature workers when the key was known in advance;
        # a failure there makes the whole batch be decided again)
        if item.key is not None and item.key == key:
            ok = item.signature_ok is not False
        else:
            ok = sub.verify_with(key)
        if not ok:
            raise BadSignature(f"signature does not verify under key {env.signer}",
                               signer=env.signer)
        # 4. identical submission already recorded
        nonce_key = (env.signer, env.nonce)
        envelope_sha = sub.envelope_sha256
        seen = work.nonces.get(nonce_key) or work.recorded.get(nonce_key)
        if seen is not None and seen[0] == envelope_sha:
            return Outcome(seen[1], False)
        # 5. revocation
        if revoked_at is not None and parse_instant(revoked_at) <= now:
            raise KeyRevoked(f"key {env.signer} was revoked effective {revoked_at}",
                             signer=env.signer)
        # 6. signed_at window
        signed_at = parse_instant(env.signed_at)
        if signed_at > now + self.future_skew:
            raise RuleViolation("SIGNED_AT_WINDOW", f"signed_at {env.signed_at} is more than "
                                f"{self.future_skew} ahead of the server clock")
        if signed_at < now - self.acceptance_window:
            raise RuleViolation("SIGNED_AT_WINDOW", f"signed_at {env.signed_at} is older than "
                                f"the acceptance window of {self.acceptance_window}")
        # 7. nonce
        if seen is not None:
            raise NonceReused(f"nonce {env.nonce.hex()} of {env.signer} was already used "
                              "for a different envelope", signer=env.signer)
        # 8. body schema and stream binding
        _spec, deferred = validate_event(env.type, env.stream, env.body)
        ident = env.stream.partition("/")[2]
        # 9. stream version
        agg = work.stream(env.stream)
        current = 0 if agg is None else agg.version
        if env.expect_version is not None and env.expect_version != current:
            raise VersionConflict(f"{env.stream} holds {current} events, the envelope expected "
                                  f"{env.expect_version}", stream=env.stream, version=current)
        # 10. authority (on a stream that exists, unless this event opens it)
        if agg is None and not opens_stream(env.type):
            raise RuleViolation("UNKNOWN_STREAM", f"{env.stream} does not exist",
                                stream=env.stream)
        signer_party = key_party_id(env.signer)
        party_state = work.party(signer_party) or {}
        if env.signer in genesis_keys:
            party_state = {"party_id": signer_party, "kind": "operator", "keys": {}}
        check_authority(env.type, env.body, None if agg is None else agg.state,
                        SignerInfo(env.signer, signer_party, roles, party_state), ident)
        # 11. domain rules
        if deferred:
            raise deferred[0]
        check_rules(env.type, env.body, None if agg is None else agg.state, env.stream,
                    current + 1, work.state)
        # Build the leaf and apply it to the workspace.
        version = current + 1
        leaf = encode_leaf(env.stream, version, env.type, recorded_at, sub.envelope_bytes,
                           sub.signature, None if agg is None else agg.head)
        if len(leaf) > MAX_LEAF_BYTES:
            raise TooLarge(f"the leaf would be {len(leaf)} bytes; at most {MAX_LEAF_BYTES}")
        leaf_hash = leaf_hash_of(leaf)
        if agg is None:
            agg = StreamAggregate._create(StreamAggregate.Started, id=stream_id(env.stream),
                                          leaf=leaf, timestamp=now)
            work.aggregates[env.stream] = agg
        else:
            agg.record_decided(leaf, leaf_hash, env, recorded_at, version, now)
        events.append(agg.pending_events[-1])
        pending.append(PendingLeaf(
            originator_id=agg.id, version=version, stream=env.stream, leaf=leaf,
            leaf_hash=leaf_hash, recorded_at=recorded_at, signer=env.signer, nonce=env.nonce,
            envelope_sha256=envelope_sha))
        placeholder = Receipt(-len(pending), leaf_hash, env.stream, version, recorded_at)
        work.nonces[nonce_key] = (envelope_sha, placeholder)
        return Outcome(placeholder, True)

    def _committed_meanwhile(self, item: _Item, error: LedgerError) -> Outcome | None:
        """The original receipt when another writer committed this very submission after
        the batch read the recorded nonces (so the streams it loaded already hold it).

        Only for items whose signature held: the identical-submission check comes right
        after the signature check in the documented order.
        """
        env = item.envelope
        if env is None or isinstance(error, (UnknownKey, BadSignature)):
            return None
        seen = self._recorded_nonces([(env.signer, env.nonce)]).get((env.signer, env.nonce))
        if seen is None or seen[0] != item.submission.envelope_sha256:
            return None
        # A signature still being checked by the workers is confirmed by ``join``
        # before any outcome of this batch is used.
        return Outcome(seen[1], False)

    def _recorded_nonces(self, pairs: list[tuple[str, bytes]]
                         ) -> dict[tuple[str, bytes], tuple[bytes, Receipt]]:
        """Envelope hashes and receipts already recorded under these (signer, nonce)."""
        found: dict[tuple[str, bytes], tuple[bytes, Receipt]] = {}
        if not pairs:
            return found
        with self.reader.cursor() as c:
            for start in range(0, len(pairs), 400):
                chunk = pairs[start:start + 400]
                params = [x for pair in chunk for x in pair]
                rows = c.execute(nonce_lookup_sql(len(chunk)), params).fetchall()
                for r in rows:
                    found[(r[0], bytes(r[1]))] = (bytes(r[2]), Receipt(
                        int(r[3]), bytes(r[4]), r[5], int(r[6]), r[7]))
        return found

    # Reading -------------------------------------------------------------
    def size(self) -> int:
        with self.reader.cursor() as c:
            row = c.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves").fetchone()
        return int(row[0])

    def leaf(self, index: int) -> bytes | None:
        with self.reader.cursor() as c:
            row = c.execute("SELECT leaf FROM leaves WHERE idx = ?", (index,)).fetchone()
        return None if row is None else bytes(row[0])

    def index_of(self, leaf_hash: bytes) -> int | None:
        with self.reader.cursor() as c:
            row = c.execute("SELECT idx FROM leaves WHERE leaf_hash = ?", (leaf_hash,)).fetchone()
        return None if row is None else int(row[0])

    def leaves(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        with self.reader.cursor() as c:
            rows = c.execute("SELECT idx, leaf FROM leaves WHERE idx >= ? AND idx < ? "
                             "ORDER BY idx", (start, stop)).fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def stream_events(self, stream: str, at: int | None = None) -> list[LoggedEvent]:
        sql = "SELECT idx, leaf FROM leaves WHERE stream = ?"
        params: list[Any] = [stream]
        if at is not None:
            sql += " AND idx < ?"
            params.append(at)
        with self.reader.cursor() as c:
            rows = c.execute(sql + " ORDER BY version", params).fetchall()
        return [logged_event(int(r[0]), bytes(r[1])) for r in rows]

    def events(self, start: int = 0, stop: int | None = None) -> list[LoggedEvent]:
        stop = self.size() if stop is None else stop
        return [logged_event(i, leaf) for i, leaf in self.leaves(start, stop)]


WRITE_ATTEMPTS = 6


class WriteConflicts(ServiceUnavailable):
    """Other writers kept committing to what a batch read, attempt after attempt."""


class _Redo(Exception):
    """Internal: decide the batch again with all signatures known first."""


class _WouldRecord(Exception):
    """Internal: a batch checked without recording passed every check."""


@lru_cache(maxsize=4096)
def parse_vkey(vkey: str) -> VerifierKey:
    return VerifierKey.parse(vkey)


def nonce_lookup_sql(pairs: int) -> str:
    """Recorded nonces and their leaves for ``pairs`` (signer, nonce) parameter pairs.

    The pairs are a table joined to the nonces' key: SQLite plans a row-value
    ``IN (VALUES ...)`` as a scan of every nonce ever recorded, which made each batch
    slower than the last as the log grew.
    """
    values = ", ".join(["(?, ?)"] * pairs)
    return (f"WITH wanted (signer, nonce) AS (VALUES {values}) "
            "SELECT n.signer, n.nonce, n.envelope_sha256, l.idx, l.leaf_hash, "
            "l.stream, l.version, l.recorded_at FROM wanted w "
            "JOIN nonces n ON n.signer = w.signer AND n.nonce = w.nonce "
            "JOIN leaves l ON l.idx = n.leaf_idx")


def _plain_signer(envelope_bytes: bytes) -> str | None:
    """The ``signer`` of an envelope by a plain decode (no canonical checks); None if
    there is none to read. Never raises: the full decode reports what is wrong."""
    if len(envelope_bytes) > MAX_ENVELOPE_BYTES:
        return None
    try:
        value = msgpack.unpackb(envelope_bytes, raw=False, strict_map_key=False)
    except Exception:
        return None
    signer = value.get("signer") if isinstance(value, dict) else None
    return signer if isinstance(signer, str) else None


@lru_cache(maxsize=4096)
def _looks_like_party(party_id: str) -> bool:
    try:
        check_stream_name(f"party/{party_id}")
    except LedgerError:
        return False
    return True


__all__ = ["Ledger", "Outcome", "StreamAggregate", "encode_leaf", "logged_event", "stream_id"]


def genesis_submissions(operator: Any, operator_id: str, name: str,
                        signed_at: datetime | None = None) -> list[Submission]:
    """The two self-certifying events that open a log: the operator party and its key."""
    from .envelope import sign_envelope

    stream = f"party/{operator_id}"
    return [
        sign_envelope(operator, "party.registered", stream,
                      {"party_id": operator_id, "name": name, "kind": "operator"},
                      signed_at=signed_at),
        sign_envelope(operator, "key.registered", stream,
                      {"party_id": operator_id, "vkey": operator.verifier.vkey,
                       "roles": ["operator"]}, signed_at=signed_at),
    ]
