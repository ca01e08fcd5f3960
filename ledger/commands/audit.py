"""``ledger audit``: the inspector's full replay of a log, trusting nothing it is given.

For every leaf, in log order (:class:`Replay`):

1. the leaf is canonical msgpack with exactly the leaf fields (DESIGN 3.4), at most
   65,535 bytes; its envelope is canonical and names the same type and stream;
2. the stream chain holds: version = previous version + 1, ``prev`` = the previous leaf
   hash of the stream, ``expect_version`` (when signed) = the version before;
3. the body matches the catalogue (``ledger.catalogue.validate_event``);
4. the signer is a key registered earlier in the log (the first two leaves register the
   operator's key with itself), not revoked effective at ``recorded_at``; ``signed_at``
   lies in the acceptance window around ``recorded_at``; the nonce is the signer's first;
5. the signer may record this event here and the domain rules allow it, decided with the
   same ``check_authority`` / ``check_rules`` the server uses, on states built by the same
   ``evolve``;
6. the envelope signature verifies under that key (domain-separated), on all cores
   (:mod:`ledger.commands.sigcheck`).

Then the Merkle root of all leaf hashes must be the root of a checkpoint signed by the
log key. From a server (``--server``): its latest checkpoint, the entries and level-0
hash tiles (a served entry that differs from the signed tree is named by index), and
consistency with the checkpoint remembered from earlier runs (:mod:`.state`); the read
models are recomputed with :mod:`projections` and compared with the server's. From a
database (``--database``): every stored checkpoint and tree node (``check_log``), and the
application's own copy of every event against its leaf.

Exit 0 when nothing is wrong; 1 naming the first bad leaf index otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .. import encoding, merkle
from ..application import parse_vkey
from ..catalogue import check_stream_name, opens_stream, validate_event
from ..domain import SignerInfo, State, check_authority, check_rules, evolve, key_party_id
from ..envelope import Envelope, Submission
from ..errors import LedgerError
from ..keys import VerifierKey
from ..timeutil import parse_instant
from ..verify import LeafInvalid, VerifiedLeaf, decode_leaf
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    add_json_option,
    add_log_key_option,
    add_progress_option,
    client_for,
    guarded,
    log_key_from,
    parse_business_date,
    print_json,
    progress_bar,
    wants_json,
)
from .sigcheck import SignatureChecker, SignatureJob
from .verify import logged

NAME = "audit"
MAX_LEAF_BYTES = 65_535
SHOWN_FINDINGS = 50


@dataclass(frozen=True, slots=True)
class Finding:
    index: int | None  # the leaf concerned, when one is
    check: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "check": self.check, "message": self.message}


@dataclass
class AuditReport:
    source: str
    tree_size: int = 0
    checkpoint: str | None = None
    leaves_checked: int = 0
    signatures_checked: int = 0
    processes: int = 1
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    projections: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_index(self) -> int | None:
        indices = [f.index for f in self.findings if f.index is not None]
        return min(indices) if indices else None

    @property
    def events_per_second(self) -> int:
        return int(self.leaves_checked / self.seconds) if self.seconds > 0 else 0

    def sorted_findings(self) -> list[Finding]:
        big = 1 << 62
        return sorted(self.findings, key=lambda f: (big if f.index is None else f.index))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "source": self.source, "tree_size": self.tree_size,
            "checkpoint": self.checkpoint, "leaves_checked": self.leaves_checked,
            "signatures_checked": self.signatures_checked, "processes": self.processes,
            "seconds": round(self.seconds, 3), "events_per_second": self.events_per_second,
            "first_bad_index": self.first_bad_index,
            "findings": [f.to_json() for f in self.sorted_findings()],
            "projections": self.projections, "notes": self.notes,
        }


# ---------------------------------------------------------------------------
# The replay
# ---------------------------------------------------------------------------
@dataclass(slots=True)
class _Head:
    version: int
    leaf_hash: bytes
    state: State | None


class Replay:
    """Checks leaves one by one in log order; collects findings and signature jobs."""

    def __init__(self, *, acceptance_window: timedelta = timedelta(days=7),
                 future_skew: timedelta = timedelta(minutes=5),
                 projector: Any | None = None) -> None:
        self.acceptance_window = acceptance_window
        # recorded_at is the server's clock cut to the second; allow that second.
        self.future_skew = future_skew + timedelta(seconds=1)
        self.heads: dict[str, _Head] = {}
        self.nonces: dict[tuple[str, bytes], int] = {}
        self.findings: list[Finding] = []
        self.projector = projector
        self.projector_note: str | None = None
        self._genesis: tuple[int, Envelope, Submission] | None = None
        self.genesis_key: VerifierKey | None = None
        self.count = 0
        self.placed: tuple[str, int] | None = None

    def close(self) -> None:
        """After the last leaf: a log whose leaf 0 never had its key registered by a
        valid leaf 1 has an opening whose signature was never checked."""
        if self._genesis is not None and self.genesis_key is None:
            self._find(0, "genesis", "leaf 0's signature was not checked: no valid leaf 1 "
                       "registers the operator key that should have signed it")

    def state(self, stream: str) -> State | None:
        head = self.heads.get(stream)
        return None if head is None else head.state

    def party(self, party_id: str) -> State | None:
        return self.state(f"party/{party_id}")

    def _find(self, index: int, check: str, message: str) -> None:
        self.findings.append(Finding(index, check, message))

    def _stop_projections(self, why: str) -> None:
        if self.projector is not None and self.projector_note is None:
            self.projector_note = why

    def check(self, index: int, leaf: bytes, leaf_hash: bytes) -> list[SignatureJob]:
        """Check leaf ``index``; returns the signature checks it needs (usually one).
        ``placed`` is then the stream and version the leaf says it holds (None if it
        cannot be read)."""
        self.count += 1
        self.placed = None
        if len(leaf) > MAX_LEAF_BYTES:
            self._find(index, "size", f"leaf is {len(leaf)} bytes; at most {MAX_LEAF_BYTES}")
        try:
            decoded = decode_leaf(leaf, leaf_hash=leaf_hash)
        except LeafInvalid as error:
            self._find(index, "leaf", error.message)
            self._skip(leaf, leaf_hash)
            self._stop_projections(f"leaf {index} is malformed")
            return []
        stream, version = decoded.stream, decoded.version
        self.placed = (stream, version)
        type_, recorded_at, envelope = decoded.type, decoded.recorded_at, decoded.envelope
        head = self.heads.get(stream)
        self._check_chain(index, stream, version, decoded.prev, head)
        if envelope.expect_version is not None and envelope.expect_version != version - 1:
            self._find(index, "chain", f"the envelope expected {stream} to hold "
                       f"{envelope.expect_version} events; it held {version - 1}")
        submission = Submission(decoded.envelope_bytes, decoded.signature)
        schema_ok = self._check_schema(index, envelope)
        jobs = self._check_signer(index, envelope, submission, recorded_at, head, schema_ok)
        state = head.state if head is not None else None
        if schema_ok:
            try:
                state = evolve(state, type_, envelope.body, envelope.signer, recorded_at,
                               version)
            except Exception as exc:  # fail closed: a state the rules cannot fold
                self._find(index, "rule", f"the event cannot be applied to {stream}: {exc!r}")
        self._advance(stream, version, leaf_hash, head, state)
        self._project(index, leaf_hash, decoded)
        return jobs

    # The parts ------------------------------------------------------------------
    def _check_chain(self, index: int, stream: str, version: int, prev: bytes | None,
                     head: _Head | None) -> None:
        expected_version = 1 if head is None else head.version + 1
        if version != expected_version:
            self._find(index, "chain", f"{stream} version {version}; the stream's next "
                       f"version is {expected_version}")
        expected_prev = None if head is None else head.leaf_hash
        if prev != expected_prev:
            shown = "nil" if prev is None else prev.hex()
            wanted = "nil (first event)" if expected_prev is None else expected_prev.hex()
            self._find(index, "chain", f"prev is {shown}; the previous leaf of {stream} "
                       f"hashes to {wanted}")

    def _skip(self, leaf: bytes, leaf_hash: bytes) -> None:
        """Keep the chain of a leaf that cannot be checked, so its successor is not blamed."""
        try:
            item = encoding.decode(leaf)
            stream, version = item["stream"], item["version"]
        except Exception:
            return
        if isinstance(stream, str) and isinstance(version, int):
            head = self.heads.get(stream)
            self._advance(stream, version, leaf_hash, head, None if head is None else head.state)

    def _advance(self, stream: str, version: int, leaf_hash: bytes, head: _Head | None,
                 state: State | None) -> None:
        if head is None:
            self.heads[stream] = _Head(version, leaf_hash, state)
        else:
            head.version, head.leaf_hash, head.state = version, leaf_hash, state

    def _check_schema(self, index: int, envelope: Envelope) -> bool:
        try:
            _spec, deferred = validate_event(envelope.type, envelope.stream, envelope.body)
        except LedgerError as error:
            self._find(index, "schema", error.message)
            return False
        for violation in deferred:
            self._find(index, "rule", violation.message)
        return True

    def _check_signer(self, index: int, envelope: Envelope, submission: Submission,
                      recorded_at: str, head: _Head | None,
                      schema_ok: bool) -> list[SignatureJob]:
        """Timing, nonce, key, then authority and rules; the signature checks to run."""
        recorded = self._check_timing(index, envelope, recorded_at)
        if recorded is None:
            return []
        self._check_nonce(index, envelope)
        party_id = key_party_id(envelope.signer)
        jobs: list[SignatureJob] = []
        if index < 2:
            # The log opens with the operator's party and key, both signed by that key.
            key = self._genesis_key(index, envelope, submission)
            signer = SignerInfo(envelope.signer, party_id, ("operator",),
                                {"party_id": party_id, "kind": "operator", "keys": {}})
            if index == 1 and key is not None and self._genesis is not None:
                jobs.append(_job(self._genesis[0], key, self._genesis[2]))
            # Leaf 0 is checked with the key leaf 1 registers.
            usable = self._genesis is not None and (index == 0 or key is not None)
        else:
            found = self._registered_key(index, envelope, recorded_at, recorded)
            if found is None:
                return jobs
            key, signer = found
            usable = True
        if key is not None and usable:
            jobs.append(_job(index, key, submission))
        if usable and schema_ok:
            self._check_decision(index, envelope, head, signer)
        return jobs

    def _check_timing(self, index: int, envelope: Envelope,
                      recorded_at: str) -> datetime | None:
        try:
            recorded = parse_instant(recorded_at)
            signed = parse_instant(envelope.signed_at)
        except ValueError as error:
            self._find(index, "leaf", f"recorded_at or signed_at is not an instant: {error}")
            return None
        if signed > recorded + self.future_skew:
            self._find(index, "signed_at", f"signed_at {envelope.signed_at} is ahead of "
                       f"recorded_at {recorded_at} by more than the allowed skew")
        if signed < recorded - self.acceptance_window:
            self._find(index, "signed_at", f"signed_at {envelope.signed_at} is older than "
                       f"the acceptance window ({self.acceptance_window.days} days) at "
                       f"recorded_at {recorded_at}")
        return recorded

    def _check_nonce(self, index: int, envelope: Envelope) -> None:
        nonce_key = (envelope.signer, envelope.nonce)
        first_use = self.nonces.get(nonce_key)
        if first_use is not None:
            self._find(index, "nonce", f"nonce {envelope.nonce.hex()} of {envelope.signer} "
                       f"was already used by leaf {first_use}")
        else:
            self.nonces[nonce_key] = index

    def _registered_key(self, index: int, envelope: Envelope, recorded_at: str,
                        recorded: datetime) -> tuple[VerifierKey, SignerInfo] | None:
        """The signer's key as registered before this leaf, and not revoked by then."""
        party_id = key_party_id(envelope.signer)
        party_state = self.party(party_id) or {}
        entry = party_state.get("keys", {}).get(envelope.signer)
        if entry is None:
            self._find(index, "key", f"signer {envelope.signer} is not a key registered "
                       "before this leaf")
            return None
        try:
            key = parse_vkey(entry["vkey"])
        except LedgerError as error:
            self._find(index, "key", f"the registered key {envelope.signer} is invalid: "
                       f"{error.message}")
            return None
        revoked_at = entry.get("revoked_at")
        if revoked_at is not None and parse_instant(revoked_at) <= recorded:
            self._find(index, "revoked", f"key {envelope.signer} was revoked effective "
                       f"{revoked_at}, before recorded_at {recorded_at}")
        return key, SignerInfo(envelope.signer, party_id, tuple(entry["roles"]), party_state)

    def _genesis_key(self, index: int, envelope: Envelope,
                     submission: Submission) -> VerifierKey | None:
        if index == 0:
            if envelope.type == "party.registered" and envelope.body.get("kind") == "operator":
                self._genesis = (index, envelope, submission)
                return None  # its key is registered (and its signature checked) by leaf 1
            self._find(0, "genesis", "the log does not open with the operator's "
                       "party.registered")
            return None
        opener = self._genesis
        vkey, roles = envelope.body.get("vkey"), envelope.body.get("roles")
        try:
            key = VerifierKey.parse(vkey) if isinstance(vkey, str) else None
        except LedgerError:
            key = None
        if (opener is None or envelope.type != "key.registered" or key is None
                or not isinstance(roles, list) or "operator" not in roles
                or not (opener[1].signer == envelope.signer == key.name)):
            self._find(1, "genesis", "leaf 1 is not the operator's key.registered, signed "
                       "by the key it registers and by which leaf 0 was signed")
            return None
        self.genesis_key = key
        return key

    def _check_decision(self, index: int, envelope: Envelope, head: _Head | None,
                        signer: SignerInfo) -> None:
        state = None if head is None else head.state
        if head is None and not opens_stream(envelope.type):
            self._find(index, "rule", f"{envelope.type} cannot open {envelope.stream}")
            return
        try:
            _kind, ident = check_stream_name(envelope.stream)
            check_authority(envelope.type, envelope.body, state, signer, ident)
        except LedgerError as error:
            self._find(index, "authority", error.message)
        except Exception as exc:  # fail closed
            self._find(index, "authority", f"authority could not be decided: {exc!r}")
        try:
            check_rules(envelope.type, envelope.body, state, envelope.stream,
                        (0 if head is None else head.version) + 1, self.state)
        except LedgerError as error:
            self._find(index, "rule", error.message)
        except Exception as exc:  # fail closed
            self._find(index, "rule", f"domain rules could not be decided: {exc!r}")

    def _project(self, index: int, leaf_hash: bytes, leaf: VerifiedLeaf) -> None:
        if self.projector is None or self.projector_note is not None:
            return
        try:
            self.projector.apply(logged(index, leaf_hash, leaf))
        except Exception as exc:
            self._stop_projections(f"leaf {index} could not be projected: {exc!r}")


def _job(index: int, key: VerifierKey, submission: Submission) -> SignatureJob:
    return (index, key.name, key.public, submission.envelope_bytes, submission.signature)


# ---------------------------------------------------------------------------
# Running an audit
# ---------------------------------------------------------------------------
@dataclass
class AuditOptions:
    processes: int = os.cpu_count() or 1
    acceptance_window_days: int = 7
    as_of: date | None = None
    progress: Any = None  # a rich Progress, or None


class _Walk:
    """Feeds leaves to the replay and the signature checker, hashing as it goes."""

    def __init__(self, report: AuditReport, options: AuditOptions, size: int,
                 projector: Any | None, *, root: bool = True) -> None:
        self.report = report
        self.replay = Replay(acceptance_window=timedelta(days=options.acceptance_window_days),
                             projector=projector)
        self.signatures = SignatureChecker(options.processes, size)
        # The tree of the leaves as read (not needed where a TreeCheck builds it).
        self.compact = merkle.CompactRange() if root else None
        self.progress = options.progress
        self.task = None
        if self.progress is not None:
            self.task = self.progress.add_task("auditing", total=size)

    def leaf(self, index: int, leaf: bytes) -> bytes:
        digest = merkle.leaf_hash(leaf)
        if self.compact is not None:
            self.compact.append(digest)
        for job in self.replay.check(index, leaf, digest):
            self.signatures.add(job)
        return digest

    def advance(self, count: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, count)

    def finish(self) -> None:
        self.replay.close()
        try:
            bad = self.signatures.finish()
        finally:
            self.signatures.close()
        self.report.processes = self.signatures.processes
        self.report.signatures_checked = self.signatures.checked
        self.report.leaves_checked = self.replay.count
        self.report.findings += self.replay.findings
        self.report.findings += [Finding(i, "signature", "the envelope signature does not "
                                         "verify under the key registered for its signer")
                                 for i in bad]
        if self.replay.projector_note is not None:
            self.report.projections["all"] = f"not compared: {self.replay.projector_note}"


def audit_server(base_url: str, log_key: VerifierKey | None, options: AuditOptions,
                 *, remember: bool = True) -> AuditReport:
    from projections.engine import Projector

    from ..client import LedgerClient, unavailable
    from ..verify import verify_checkpoint
    from .logsource import ServerLog
    from .state import CheckpointMemory, ForkEvidence

    started = time.perf_counter()
    report = AuditReport(source=base_url)
    with LedgerClient(base_url) as client:
        note = client.checkpoint()
        report.checkpoint = note
        if log_key is None:
            log_key = VerifierKey.parse(client.log_key())
            report.notes.append(f"the log key {log_key.vkey} was taken from the server "
                                "itself; give --log-key to check against a key you trust")
        checkpoint = verify_checkpoint(note, log_key)
        report.tree_size = checkpoint.size
        walk = _Walk(report, options, checkpoint.size, Projector())
        claimed = merkle.CompactRange()
        mismatches: list[int] = []
        unreadable: LedgerError | None = None
        try:
            for batch in ServerLog(base_url).batches(checkpoint.size):
                assert batch.claimed_hashes is not None
                for offset, leaf in enumerate(batch.leaves):
                    index = batch.start + offset
                    digest = walk.leaf(index, leaf)
                    claimed.append(batch.claimed_hashes[offset])
                    if digest != batch.claimed_hashes[offset]:
                        mismatches.append(index)
                walk.advance(len(batch.leaves))
        except LedgerError as error:  # a bundle or tile refused or malformed
            if unavailable(error):  # says nothing about the log
                raise
            # What was found before it stays in the report; the log is not read past it.
            unreadable = error
            first = error.detail.get("index")
            report.findings.append(Finding(
                first if isinstance(first, int) else walk.replay.count, "entries",
                f"the log could not be read past leaf {walk.replay.count}: {error.message}"))
        finally:
            walk.finish()
        assert walk.compact is not None
        if unreadable is None:
            _check_server_root(report, checkpoint.root, walk.compact.root(), claimed.root(),
                               mismatches)
        if remember:
            try:
                reconciled = CheckpointMemory(base_url, log_key).reconcile(client, note)
            except ForkEvidence as fork:
                report.findings.append(Finding(None, "fork", fork.explain()))
            else:
                if reconciled.previous_size is None:
                    report.notes.append("no checkpoint remembered from this server yet; "
                                        "this one is remembered for the next run")
                else:
                    report.notes.append(f"consistent with the checkpoint of size "
                                        f"{reconciled.previous_size} remembered from an "
                                        "earlier run")
        if unreadable is not None:
            report.projections["all"] = "not compared: the log could not be read whole"
        if "all" not in report.projections:
            projector = walk.replay.projector
            _compare_projections(client, projector, checkpoint.size,
                                 options.as_of or parse_business_date(None), report)
    report.seconds = time.perf_counter() - started
    return report


def _check_server_root(report: AuditReport, signed_root: bytes, entries_root: bytes,
                       tiles_root: bytes, mismatches: list[int]) -> None:
    if entries_root == signed_root:
        if tiles_root != signed_root:
            report.findings.append(Finding(None, "tiles", "the server's level-0 hash tiles "
                                           "do not give the signed root, though its entries "
                                           "do"))
        return
    if tiles_root == signed_root and mismatches:
        # The hash tiles are authenticated by the signed root: each differing entry is
        # one the server serves in place of the leaf it signed.
        for index in mismatches:
            report.findings.append(Finding(index, "leaf_hash", "the entry served differs "
                                           "from the leaf the signed tree holds at this "
                                           "index"))
        return
    # Neither the entries nor the tiles give the signed root: which leaf is wrong cannot be
    # told from what this server serves (the tiles are not authenticated either).
    where = (f"; its entries and tiles differ at leaves {', '.join(map(str, mismatches[:10]))}"
             if mismatches else "")
    report.findings.append(Finding(
        None, "root",
        f"the {report.tree_size} entries give root {entries_root.hex()}; the checkpoint "
        f"signed {signed_root.hex()}{where}"))


def audit_database(url: str, log_key: VerifierKey | None, options: AuditOptions) -> AuditReport:
    from ..application import stream_id
    from ..checkpointer import TreeCheck
    from .logsource import DatabaseLog

    started = time.perf_counter()
    report = AuditReport(source=_redact(url))
    with DatabaseLog(url) as db:
        size = db.size()
        report.tree_size = size
        checkpoints = db.checkpoints()
        # The stored tree and checkpoints are checked as the leaves go by, so that each
        # leaf is read and hashed once (``check_log`` would read and hash them again).
        # Without any checkpoint the stored tree is still checked (only the signed root is
        # missing); without the tables nothing can be, which is a finding (below).
        missing = [t for t in ("tree_nodes", "checkpoints") if not db.has_table(t)]
        check = None if missing else TreeCheck(db.cursor, db.dialect, log_key)
        walk = _Walk(report, options, size, None, root=False)
        try:
            for batch in db.batches(size, on_missing=lambda i: report.findings.append(
                    Finding(i, "missing", f"leaf {i} is missing from the leaves table"))):
                assert batch.placements is not None
                digests = []
                for offset, leaf in enumerate(batch.leaves):
                    digests.append(walk.leaf(batch.start + offset, leaf))
                    _check_placement(batch.start + offset, walk.replay.placed,
                                     batch.placements[offset], report)
                if check is not None:
                    assert batch.column_hashes is not None
                    check.feed(batch.start, batch.leaves, batch.column_hashes, digests)
                walk.advance(len(batch.leaves))
        finally:
            walk.finish()
        if check is not None:
            tree = check.finish()
            for problem in tree.problems:
                report.findings.append(Finding(problem.index, "tree", problem.message))
        if checkpoints:
            last_size, _root, last_note = checkpoints[-1]
            report.checkpoint = last_note
            checked = tree.checkpoints_checked if check is not None else 0
            report.notes.append(f"{checked} stored checkpoint(s) checked against the "
                                f"leaves; the latest covers {last_size} of {size} leaves")
            if log_key is None:
                report.notes.append("checkpoint signatures not checked: give --log-key")
        else:
            report.notes.append("the database holds no signed checkpoint: the root could "
                                "not be checked against a signature")
        if missing:
            # Every ledger database has both tables from its first start: one missing
            # means the signed checkpoints and the proofs served from the tree cannot be
            # held against the leaves, which would let a rewritten log pass.
            report.findings.append(Finding(
                None, "tree", f"the database has no {' or '.join(missing)} table: the "
                "stored tree and the signed checkpoints cannot be checked against the leaves"))
        _check_stored_events(db, walk.replay, stream_id, report)
    report.seconds = time.perf_counter() - started
    return report


def _check_placement(index: int, placed: tuple[str, int] | None, column: tuple[str, int],
                     report: AuditReport) -> None:
    """The leaves table's stream and version columns (by which the server loads streams
    and the event store's copies are found) must say what the leaf says."""
    if placed is not None and column != placed:
        report.findings.append(Finding(index, "placement", f"the leaves table files leaf "
                                       f"{index} as {column[0]} version {column[1]}; the "
                                       f"leaf is {placed[0]} version {placed[1]}"))


def _check_stored_events(db: Any, replay: Replay, stream_id: Any, report: AuditReport) -> None:
    """The application's copy of each event (what the server decides on) = its leaf."""
    if not db.has_table(db.events_table):
        report.findings.append(Finding(None, "store", f"the database has no "
                                       f"{db.events_table} table: the application's copy of "
                                       "the events is missing"))
        return
    stored_total = 0
    for stream in sorted(replay.heads):
        leaves = {version: (index, leaf) for version, index, leaf in db.stream_leaves(stream)}
        stored = db.stored_events(stream_id(stream))
        stored_total += len(stored)
        seen = set()
        for version, state in stored:
            seen.add(version)
            found = leaves.get(version)
            if found is None:
                report.findings.append(Finding(None, "store", f"the event store holds "
                                               f"{stream} version {version}, which no leaf "
                                               "records"))
            elif state != found[1]:
                report.findings.append(Finding(found[0], "store", f"the event store's copy "
                                               f"of {stream} version {version} differs from "
                                               "the leaf"))
        for version in sorted(set(leaves) - seen):
            report.findings.append(Finding(leaves[version][0], "store", f"{stream} version "
                                           f"{version} is missing from the event store"))
    total = db.stored_event_count()
    if total != stored_total:
        report.findings.append(Finding(None, "store", f"the event store holds {total} events; "
                                       f"only {stored_total} belong to streams of the log"))


def _compare_projections(client: Any, projector: Any, size: int, as_of: date,
                         report: AuditReport) -> None:
    from ..client import unavailable

    views = {
        "arrears": projector.arrears(as_of, size),
        "breaches": projector.breaches(as_of, size),
        "compensation": projector.compensation(as_of, size),
    }
    for name, local in views.items():
        try:
            remote = client.projection(name, as_of=as_of.isoformat(), at=size)
        except LedgerError as refused:  # refused, or answered with what cannot be read
            if unavailable(refused):  # says nothing about the log
                raise
            # A server that does not show its read models cannot have them confirmed.
            report.projections[name] = f"not compared: the server answered {refused.message}"
            report.findings.append(Finding(None, "projection", f"{name} at log size {size}: "
                                           f"the server refused: {refused.message}"))
            continue
        expected = json.loads(json.dumps(local))
        if not isinstance(remote, dict) or remote.get("log_size") != size:
            got = remote.get("log_size") if isinstance(remote, dict) else None
            report.projections[name] = f"not compared: server answered at log size {got}"
            report.findings.append(Finding(None, "projection", f"{name}: asked at log size "
                                           f"{size}, the server answered at {got}"))
            continue
        difference = first_difference(expected, remote)
        if difference is None:
            report.projections[name] = f"match ({len(expected.get('rows', []))} rows)"
        else:
            report.projections[name] = "DIFFERS"
            report.findings.append(Finding(None, "projection", f"{name} as of "
                                           f"{as_of.isoformat()} at log size {size}: "
                                           f"{difference}"))


def first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    """Where two JSON values first differ, in words (None when equal)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                return f"{path}{key} missing from the server's answer"
            if key not in expected:
                return f"{path}{key} present in the server's answer only"
            found = first_difference(expected[key], actual[key], f"{path}{key}.")
            if found is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(a, b, f"{path}{i}.")
            if found is not None:
                return found
        if len(expected) != len(actual):
            return (f"{path.rstrip('.')}: the server lists {len(actual)} items, the replay "
                    f"gives {len(expected)}")
        return None
    if expected != actual or type(expected) is not type(actual):
        return (f"{path.rstrip('.')}: the server says {json.dumps(actual, ensure_ascii=False)}, "
                f"the replay gives {json.dumps(expected, ensure_ascii=False)}")
    return None


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME, help="replay and re-verify the whole log (inspector)",
        description="Re-verify every leaf (canonical form, signature, key validity, "
                    "authority, domain rules, stream chains), the Merkle root against a "
                    "signed checkpoint, and the server's read models. Exit 1 names the "
                    "first bad leaf index.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--server", default=None,
                        help="audit a server (LEDGER_SERVER, default http://127.0.0.1:8080)")
    source.add_argument("--database", default=None, metavar="URL",
                        help="audit a database instead: sqlite:////abs/path or "
                             "postgresql://...")
    add_log_key_option(p)
    p.add_argument("--as-of", default=None, metavar="DATE",
                   help="business date for the read models compared (default today, CST)")
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="processes for signature checks (default: all cores)")
    p.add_argument("--acceptance-window-days", type=int, default=7,
                   help="the server's signed_at acceptance window (default 7)")
    add_progress_option(p)
    add_json_option(p)


@guarded
def run(args: argparse.Namespace) -> int:
    log_key = log_key_from(args.log_key)
    options = AuditOptions(processes=max(1, args.processes),
                           acceptance_window_days=args.acceptance_window_days,
                           as_of=parse_business_date(args.as_of))
    with progress_bar(args, "leaves") as progress:
        options.progress = progress
        if args.database:
            report = audit_database(args.database, log_key, options)
        else:
            report = audit_server(client_for(args).base_url, log_key, options)
    if wants_json(args):
        print_json(report.to_json())
    else:
        print_report(report)
    return EXIT_OK if report.ok else EXIT_FAILED


def print_report(report: AuditReport) -> None:
    print(f"audit of {report.source} at tree size {report.tree_size}")
    print(f"  leaves checked   {report.leaves_checked} (canonical form, envelopes, schema, "
          "stream chains, keys, authority, domain rules)")
    print(f"  signatures       {report.signatures_checked} checked on {report.processes} "
          f"process(es)")
    for name, status in report.projections.items():
        print(f"  {name:<16} {status}")
    for line in report.notes:
        print(f"  note: {line}")
    print(f"  time             {report.seconds:.2f} s ({report.events_per_second} events/s)")
    if report.ok:
        print("OK: every check passed")
        return
    first = report.first_bad_index
    where = f"; first bad leaf index: {first}" if first is not None else ""
    print(f"FAILED: {len(report.findings)} problem(s){where}")
    for finding in report.sorted_findings()[:SHOWN_FINDINGS]:
        at = f"leaf {finding.index}" if finding.index is not None else "log"
        print(f"  {at:<12} {finding.check:<10} {finding.message}")
    if len(report.findings) > SHOWN_FINDINGS:
        print(f"  ... {len(report.findings) - SHOWN_FINDINGS} more (use --json for all)")
