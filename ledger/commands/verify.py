"""``ledger verify``: check, without trusting the server, that an event is in the log.

The server only supplies material; everything is verified here against the log key:

1. the latest signed checkpoint verifies with ``--log-key`` and is proven consistent with
   the checkpoint remembered from the previous run against this server (an inconsistent
   one is fork evidence: both signed checkpoints are printed and saved, exit 1);
2. each event's inclusion proof leads to the signed root, and the entry served hashes to
   the proven leaf hash; the leaf and its envelope are canonical;
3. the envelope signature verifies under the signer's key as registered in its party
   stream before the event — that registration is itself verified the same way, back to
   the operator's self-signed key at the start of the log — and no revocation effective
   before the event is listed.

``--document FILE`` finds the events naming the file's SHA-256 (``/v1/documents``),
verifies each, checks that its signed body really names the document, then verifies the
whole history of the contract or commitment (every event included, signed, and chained by
``prev``) and prints it. ``--leaf-hash HEX`` verifies one receipt's event.
``--receipts FILE`` checks every receipt of a ``ledger post`` run against the signed tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from ..client import LedgerClient, ServerRefused
from ..envelope import Submission
from ..errors import InvalidInput, VerificationError
from ..keys import VerifierKey
from ..merkle import CompactRange
from ..note import Checkpoint
from ..records import LoggedEvent
from ..tiles import Tile, tiles_for_size
from ..timeutil import parse_instant
from ..verify import (
    LeafInvalid,
    VerifiedLeaf,
    decode_leaf,
    leaf_hash_of,
    verify_inclusion_document,
)
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    add_json_option,
    add_log_key_option,
    add_progress_option,
    add_server_option,
    client_for,
    guarded,
    print_json,
    progress_bar,
    require_log_key,
    wants_json,
)
from .logsource import parse_hash_tile
from .state import CheckpointMemory, ForkEvidence

NAME = "verify"
TILE_STRATEGY_ABOVE = 64  # receipts; above this, hash tiles beat one proof per receipt


def event_json(event: LoggedEvent) -> dict[str, Any]:
    """A verified event as JSON (the field names of the streams API)."""
    return {"leaf_index": event.index, "leaf_hash": event.leaf_hash.hex(),
            "stream": event.stream, "version": event.version, "type": event.type,
            "recorded_at": event.recorded_at, "signer": event.signer, "body": event.body,
            "prev": None if event.prev is None else event.prev.hex()}


def logged(index: int, leaf_hash: bytes, leaf: VerifiedLeaf) -> LoggedEvent:
    return LoggedEvent(index, leaf_hash, leaf.stream, leaf.version, leaf.type,
                       leaf.recorded_at, leaf.envelope.signer, leaf.envelope.body, leaf.prev)


class EventVerifier:
    """Verifies events of one log against one signed checkpoint, fetching as needed."""

    def __init__(self, client: LedgerClient, log_key: VerifierKey, note: str,
                 checkpoint: Checkpoint) -> None:
        self.client = client
        self.log_key = log_key
        self.note = note
        self.checkpoint = checkpoint
        self._events: dict[int, LoggedEvent] = {}
        self._party_streams: dict[str, list[dict[str, Any]]] = {}

    def included(self, index: int, expected_hash: bytes | None = None,
                 proof: dict[str, Any] | None = None) -> tuple[bytes, bytes]:
        """The leaf bytes at ``index``, proven to be in the signed tree; (leaf, leaf hash).

        ``proof``: an inclusion proof the server already sent (used when it is for this
        checkpoint's tree size; verified all the same).
        """
        if not 0 <= index < self.checkpoint.size:
            raise VerificationError(f"leaf {index} is not below the checkpoint's tree size "
                                    f"{self.checkpoint.size}", index=index)
        if proof is None or proof.get("tree_size") != self.checkpoint.size:
            proof = self.client.inclusion(index=index, tree_size=self.checkpoint.size)
        if proof.get("leaf_index") != index:
            raise VerificationError(f"asked for the proof of leaf {index}, got one for "
                                    f"{proof.get('leaf_index')!r}", index=index)
        verify_inclusion_document(proof, self.note, self.log_key)
        proven = bytes.fromhex(proof["leaf_hash"])
        if expected_hash is not None and proven != expected_hash:
            raise VerificationError(f"leaf {index} has hash {proven.hex()} in the signed tree, "
                                    f"not {expected_hash.hex()}", index=index)
        leaf = self.client.entry(index)
        if leaf_hash_of(leaf) != proven:
            raise VerificationError(f"the entry served for leaf {index} is not the leaf the "
                                    "signed tree holds", index=index)
        return leaf, proven

    def event(self, index: int, expected_hash: bytes | None = None,
              proof: dict[str, Any] | None = None) -> LoggedEvent:
        """Leaf ``index``: included, canonical, and signed by a key registered before it."""
        known = self._events.get(index)
        if known is not None:
            if expected_hash is not None and known.leaf_hash != expected_hash:
                raise VerificationError(f"leaf {index} does not have hash "
                                        f"{expected_hash.hex()}", index=index)
            return known
        leaf, digest = self.included(index, expected_hash, proof)
        try:
            decoded = decode_leaf(leaf)
        except LeafInvalid as error:
            raise VerificationError(f"leaf {index}: {error.message}", index=index) from error
        submission = Submission(decoded.envelope_bytes, decoded.signature)
        event = logged(index, digest, decoded)
        key = self.signer_key(event)
        if not submission.verify_with(key):
            raise VerificationError(f"leaf {index}: the envelope signature does not verify "
                                    f"under {event.signer}'s registered key", index=index)
        self._events[index] = event
        return event

    def signer_key(self, event: LoggedEvent) -> VerifierKey:
        """The signer's key as registered (verified) before the event, and not revoked."""
        party_id = event.signer.split("/", 1)[0]
        listed = [e for e in self._party_stream(party_id)
                  if e.get("type") == "key.registered"
                  and str(e.get("body", {}).get("vkey", "")).split("+", 1)[0] == event.signer]
        if not listed:
            raise VerificationError(f"leaf {event.index}: no key {event.signer} is registered "
                                    f"in party/{party_id}", index=event.index)
        registration = self._registration(int(listed[0]["leaf_index"]), event)
        if (registration.type != "key.registered" or registration.stream != f"party/{party_id}"
                or str(registration.body.get("vkey", "")).split("+", 1)[0] != event.signer):
            raise VerificationError(f"leaf {registration.index} does not register "
                                    f"{event.signer}", index=event.index)
        key = VerifierKey.parse(registration.body["vkey"])
        for listed_event in self._party_stream(party_id):
            listed_index = int(listed_event.get("leaf_index", -1))
            if (listed_event.get("type") != "key.revoked"
                    or listed_event.get("body", {}).get("key_name") != event.signer
                    or not 0 <= listed_index < event.index):
                continue
            # The revocation as the signed tree holds it, not as the listing says: a
            # listing cannot invent one (one it leaves out only a full audit finds).
            revocation = self.event(listed_index)
            effective = revocation.body.get("effective_at")
            if (revocation.type == "key.revoked" and revocation.stream == f"party/{party_id}"
                    and revocation.body.get("key_name") == event.signer
                    and isinstance(effective, str)
                    and parse_instant(effective) <= parse_instant(event.recorded_at)):
                raise VerificationError(f"leaf {event.index} was signed by {event.signer}, "
                                        f"revoked effective {effective} (leaf "
                                        f"{listed_index})", index=event.index)
        return key

    def _registration(self, index: int, event: LoggedEvent) -> LoggedEvent:
        """The (verified) event registering the key that signed ``event``."""
        if index < event.index:
            return self.event(index)
        # The log opens with the operator's key registered at leaf 1, signed by itself;
        # the same key signed leaf 0.
        if index == 1 and event.index == 1:
            return event
        if index == 1 and event.index == 0:
            return self.event(1)  # verified in full: signed by the very key it registers
        raise VerificationError(f"leaf {event.index} was signed by {event.signer}, which is "
                                f"registered only later (leaf {index})", index=event.index)

    def _party_stream(self, party_id: str) -> list[dict[str, Any]]:
        events = self._party_streams.get(party_id)
        if events is None:
            document = self.client.stream(f"party/{party_id}", at=self.checkpoint.size)
            events = [e for e in document.get("events", []) if isinstance(e, dict)]
            self._party_streams[party_id] = events
        return events

    def history(self, stream: str) -> list[LoggedEvent]:
        """Every event of ``stream`` at the checkpoint: verified, in order, chained."""
        document = self.client.stream(stream, at=self.checkpoint.size)
        listed = [e for e in document.get("events", []) if isinstance(e, dict)]
        events: list[LoggedEvent] = []
        for position, entry in enumerate(listed, start=1):
            event = self.event(int(entry["leaf_index"]))
            if event.stream != stream or event.version != position:
                raise VerificationError(f"{stream}: leaf {event.index} is {event.stream} "
                                        f"version {event.version}, listed as version "
                                        f"{position}", index=event.index)
            previous = events[-1].leaf_hash if events else None
            if event.prev != previous:
                raise VerificationError(f"{stream}: version {position} (leaf {event.index}) "
                                        "does not chain to the version before it",
                                        index=event.index)
            events.append(event)
        return events


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME, help="verify events against a signed checkpoint, offline",
        description="Fetch events and proofs, verify them against a checkpoint signed by the "
                    "log key, and prove that checkpoint consistent with the one remembered "
                    "from the last run (state in $LEDGER_STATE_DIR or "
                    "~/.local/state/commitment-ledger).")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--document", metavar="FILE",
                      help="a document you hold: find and verify every event naming its "
                           "SHA-256, and the history of its contract or commitment")
    what.add_argument("--leaf-hash", metavar="HEX", help="the leaf hash from a receipt")
    what.add_argument("--receipts", metavar="FILE",
                      help="a receipts file written by `ledger post` (JSON lines)")
    add_log_key_option(p, required_text="; required")
    add_server_option(p)
    add_progress_option(p)
    add_json_option(p)


class NotYetCovered(VerificationError):
    """What is to be verified was recorded after the checkpoint in hand."""


# How long to wait for a checkpoint covering what was recorded after the latest one (a
# server signs one a second by default): verifying right after recording just works, and
# a receipt no checkpoint ever covers (one the server never gave) fails after the wait.
COVER_WAIT = 15.0
COVER_POLL = 0.5


@guarded
def run(args: argparse.Namespace) -> int:
    log_key = require_log_key(args.log_key)
    with client_for(args) as client:
        memory = CheckpointMemory(client.base_url, log_key)
        deadline = time.monotonic() + COVER_WAIT
        while True:
            note = client.checkpoint()
            try:
                reconciled = memory.reconcile(client, note)
            except ForkEvidence as fork:
                if wants_json(args):
                    print_json({"ok": False, "fork": True, "message": fork.message,
                                "remembered_checkpoint": fork.remembered,
                                "presented_checkpoint": fork.presented,
                                "evidence_file": str(fork.evidence_file)})
                else:
                    print(f"FORK EVIDENCE: {fork.explain()}")
                return EXIT_FAILED
            try:
                result = _verify(args, EventVerifier(client, log_key, note,
                                                     reconciled.checkpoint))
            except NotYetCovered as pending:
                if time.monotonic() >= deadline:
                    raise VerificationError(
                        f"{pending.message}, and no checkpoint covering it was signed "
                        f"within {COVER_WAIT:g} s: it is not verified") from pending
                time.sleep(COVER_POLL)
                continue
            result["consistent_with_size"] = reconciled.previous_size
            break
    if wants_json(args):
        print_json(result)
    else:
        print_result(result)
    return EXIT_OK


def _verify(args: argparse.Namespace, verifier: EventVerifier) -> dict[str, Any]:
    checkpoint = verifier.checkpoint
    result: dict[str, Any] = {
        "ok": True,
        "checkpoint": {"origin": checkpoint.origin, "size": checkpoint.size,
                       "root": checkpoint.root.hex(), "note": verifier.note},
    }
    try:
        if args.document:
            result.update(verify_document(verifier, Path(args.document)))
        elif args.leaf_hash:
            result.update(verify_leaf_hash(verifier, args.leaf_hash))
        else:
            with progress_bar(args, "receipts") as progress:
                result.update(verify_receipts(verifier, Path(args.receipts), progress))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        # JSON of another shape than the API's (a missing field, a list for a map):
        # whatever it was meant to show is not shown.
        raise VerificationError(f"the server's answer could not be read "
                                f"({type(error).__name__}: {error}); nothing it "
                                "said is verified") from error
    return result


def verify_leaf_hash(verifier: EventVerifier, text: str) -> dict[str, Any]:
    digest = _hex32(text, "--leaf-hash")
    try:
        proof = verifier.client.inclusion(leaf_hash=digest, tree_size=verifier.checkpoint.size)
    except ServerRefused as refused:
        if refused.http_status == 404:
            raise VerificationError(f"leaf hash {digest.hex()} is not in the log at tree size "
                                    f"{verifier.checkpoint.size}") from refused
        if refused.http_status == 400 and refused.problem.get("field") == "index":
            # The server knows the leaf, at an index the checkpoint does not reach yet.
            raise NotYetCovered(f"leaf hash {digest.hex()} was recorded after the "
                                f"checkpoint of size {verifier.checkpoint.size}") from refused
        raise
    event = verifier.event(int(proof["leaf_index"]), expected_hash=digest)
    return {"event": event_json(event)}


def verify_document(verifier: EventVerifier, path: Path) -> dict[str, Any]:
    from projections.documents import named_documents

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        found = verifier.client.documents(digest)
    except ServerRefused as refused:
        if refused.http_status == 404 and refused.problem.get("code"):
            raise VerificationError(f"no event in the log names document {digest} "
                                    f"({path.name})") from refused
        if refused.http_status == 404:
            raise InvalidInput(f"{verifier.client.base_url} does not offer "
                               "/v1/documents/{sha256}") from refused
        raise
    rows = found.get("rows", found.get("events", []))
    if not isinstance(rows, list) or not rows:
        raise VerificationError(f"no event in the log names document {digest} ({path.name})")
    naming: list[dict[str, Any]] = []
    subjects: list[str] = []
    later = [int(row["leaf_index"]) for row in rows
             if int(row["leaf_index"]) >= verifier.checkpoint.size]
    if later:
        raise NotYetCovered(f"document {digest} is named by leaf {later[0]}, recorded after "
                            f"the checkpoint of size {verifier.checkpoint.size}")
    for row in rows:
        index = int(row["leaf_index"])
        inclusion = row.get("inclusion") if isinstance(row.get("inclusion"), dict) else None
        event = verifier.event(index, proof=inclusion)
        fields = [name for name, value in named_documents(event.body) if value == digest]
        if not fields:
            raise VerificationError(f"the server lists leaf {index} for document {digest}, "
                                    "but its signed body does not name it", index=index)
        naming.append({**event_json(event), "fields": fields})
        if event.stream.split("/", 1)[0] in ("contract", "commitment", "complaint") \
                and event.stream not in subjects:
            subjects.append(event.stream)
    histories = {stream: [event_json(e) for e in verifier.history(stream)]
                 for stream in subjects}
    return {"document": {"file": str(path), "sha256": digest}, "events": naming,
            "histories": histories}


def verify_receipts(verifier: EventVerifier, path: Path, progress: Any) -> dict[str, Any]:
    receipts = _read_receipts(path)
    size = verifier.checkpoint.size
    pending = [index for index, _ in receipts if index >= size]
    if pending:
        # Every receipt is verified, or the run fails: one the signed tree does not hold
        # yet is not verified (and one the server never gave never will be).
        raise NotYetCovered(f"{len(pending)} receipt(s) name leaves after the checkpoint "
                            f"of size {size} (the first: leaf {min(pending)})")
    wanted: dict[int, bytes] = {}
    for index, digest in receipts:
        if index < size and wanted.setdefault(index, digest) != digest:
            # Two receipts for one leaf: at most one of them can be in the log.
            raise VerificationError(f"two receipts name leaf {index}, with hashes "
                                    f"{wanted[index].hex()} and {digest.hex()}", index=index)
    task = progress.add_task("verifying", total=len(wanted))
    if len(wanted) <= TILE_STRATEGY_ABOVE:
        for index, digest in wanted.items():
            verifier.included(index, digest)
            progress.advance(task)
    else:
        _check_against_tiles(verifier, wanted, lambda n: progress.advance(task, n))
    return {"receipts": {"file": str(path), "verified": len(wanted)}}


def _check_against_tiles(verifier: EventVerifier, wanted: dict[int, bytes],
                         advance: Any) -> None:
    """Every leaf hash of the signed tree from level-0 tiles; their root must be signed."""
    compact = CompactRange()
    size = verifier.checkpoint.size
    checked = 0
    for tile in tiles_for_size(size):
        if tile.level != 0:
            continue
        start = tile.index * 256
        hashes = parse_hash_tile(verifier.client.tile(Tile(0, tile.index, tile.width).path),
                                 start, tile.width)
        compact.extend(hashes)
        hits = 0
        for offset, digest in enumerate(hashes):
            expected = wanted.get(start + offset)
            if expected is not None:
                hits += 1
                if expected != digest:
                    raise VerificationError(f"receipt for leaf {start + offset} names hash "
                                            f"{expected.hex()}; the log holds {digest.hex()}",
                                            index=start + offset)
        advance(hits)
        checked += hits
    if compact.root() != verifier.checkpoint.root:
        raise VerificationError("the server's hash tiles do not give the signed root")
    if checked != len(wanted):  # cannot happen for indices 0 .. size - 1; never assume it
        raise VerificationError(f"{len(wanted) - checked} receipt(s) name leaves the tiles "
                                "of the signed tree do not hold")


def _read_receipts(path: Path) -> list[tuple[int, bytes]]:
    receipts: list[tuple[int, bytes]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:  # (a ValueError: not to be taken for the server's)
        raise InvalidInput(f"{path} is not a receipts file: not UTF-8 text "
                           f"({error.reason} at byte {error.start})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            index = record["leaf_index"]
            if type(index) is not int or index < 0:
                raise ValueError(f"leaf_index {index!r} is not a whole number >= 0")
            receipts.append((index, _hex32(record["leaf_hash"], "")))
        except (ValueError, KeyError, TypeError, InvalidInput) as exc:
            raise InvalidInput(f"{path}:{number}: not a receipt line ({exc})") from exc
    if not receipts:
        raise InvalidInput(f"{path} holds no receipts")
    return receipts


def _hex32(text: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(f"{what} {text!r} must be 64 hex digits".strip())
    return raw


def print_result(result: dict[str, Any]) -> None:
    checkpoint = result["checkpoint"]
    print(f"checkpoint  {checkpoint['origin']} size {checkpoint['size']}, signature verified")
    previous = result["consistent_with_size"]
    if previous is None:
        print("consistency first run against this server: checkpoint remembered")
    else:
        print(f"consistency proven with the checkpoint of size {previous} seen before")
    if "event" in result:
        _print_event(result["event"])
    if "document" in result:
        document = result["document"]
        print(f"document    {document['file']}  sha256 {document['sha256']}")
        for event in result["events"]:
            print(f"  named by  {event['stream']} v{event['version']} {event['type']} "
                  f"(leaf {event['leaf_index']}, field {', '.join(event['fields'])})")
        for stream, events in result["histories"].items():
            print(f"history     {stream}: {len(events)} event(s), each included, signed and "
                  "chained")
            for event in events:
                print(f"  v{event['version']:<3} {event['recorded_at']}  {event['type']:<32} "
                      f"{event['signer']}  (leaf {event['leaf_index']})")
    if "receipts" in result:
        receipts = result["receipts"]
        print(f"receipts    {receipts['verified']} in the signed tree ({receipts['file']})")
    print("VERIFIED")


def _print_event(event: dict[str, Any]) -> None:
    print(f"event       leaf {event['leaf_index']}: {event['stream']} v{event['version']} "
          f"{event['type']}")
    print(f"            recorded {event['recorded_at']}, signed by {event['signer']}")
    print(f"            body {json.dumps(event['body'], ensure_ascii=False, sort_keys=True)}")
