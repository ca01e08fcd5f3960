"""Offline verification for outsiders: no database, no network, no server trust.

Everything here takes what a client fetched (a signed checkpoint, a proof, entries)
plus the log's public key, and raises :class:`~ledger.errors.VerificationError` (or a
subclass) when the evidence does not hold, ``InvalidInput`` when it is malformed.

- :func:`verify_checkpoint` — a signed checkpoint against the log key (key name = origin).
- :func:`verify_inclusion_in_checkpoint` — a leaf hash at an index, against a signed
  checkpoint.
- :func:`verify_consistency_between` — that a newer signed checkpoint extends an older one.
- :func:`verify_leaf` — one leaf: canonical form, the envelope signature under the
  signer's key with domain separation, and the stream chain link to the previous leaf.
- :func:`verify_entries` — a full copy of the log (e.g. from entry bundles) against a
  signed checkpoint, naming the first entry that differs from known leaf hashes.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import merkle
from .encoding import decode
from .envelope import Envelope, Submission, signing_message
from .errors import InvalidInput, LedgerError, VerificationError
from .keys import VerifierKey
from .merkle import CompactRange
from .note import Checkpoint, CheckpointMismatch, open_checkpoint
from .timeutil import looks_like_instant


class EntryMismatch(VerificationError):
    """An entry of the log hashes to something other than expected."""

    code = "entry_mismatch"
    title = "Log entry does not match"

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message, index=index)
        self.index = index


def _log_key(log_key: VerifierKey | str) -> VerifierKey:
    return log_key if isinstance(log_key, VerifierKey) else VerifierKey.parse(log_key)


def verify_checkpoint(
    signed_checkpoint: str | bytes, log_key: VerifierKey | str, *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint, once its note verifies with ``log_key`` (whose name is the origin)."""
    return open_checkpoint(signed_checkpoint, _log_key(log_key), origin=origin)


def verify_inclusion_in_checkpoint(
    leaf_hash: bytes,
    index: int,
    proof: Sequence[bytes],
    signed_checkpoint: str | bytes,
    log_key: VerifierKey | str,
    *,
    tree_size: int | None = None,
) -> Checkpoint:
    """Raise unless ``proof`` puts ``leaf_hash`` at ``index`` in the signed tree.

    ``tree_size``, when the proof came with one, must be the checkpoint's size.
    """
    checkpoint = verify_checkpoint(signed_checkpoint, log_key)
    if tree_size is not None and tree_size != checkpoint.size:
        raise CheckpointMismatch(
            f"proof is for tree size {tree_size}, the checkpoint has size {checkpoint.size}"
        )
    merkle.verify_inclusion(leaf_hash, index, checkpoint.size, proof, checkpoint.root)
    return checkpoint


def verify_consistency_between(
    old_checkpoint: str | bytes,
    new_checkpoint: str | bytes,
    proof: Sequence[bytes],
    log_key: VerifierKey | str,
) -> tuple[Checkpoint, Checkpoint]:
    """Raise unless the newer signed checkpoint extends the older one.

    An old checkpoint of size 0 needs no proof (every tree extends the empty tree):
    the proof must then be empty and the old root the empty-tree root.
    """
    key = _log_key(log_key)
    old = verify_checkpoint(old_checkpoint, key)
    new = verify_checkpoint(new_checkpoint, key)
    if old.size > new.size:
        raise InvalidInput(
            f"old checkpoint size {old.size} is larger than new checkpoint size {new.size}"
        )
    if old.size == 0:
        if proof:
            raise VerificationError("a consistency proof from size 0 must be empty")
        for checkpoint in (old, new) if new.size == 0 else (old,):
            if not hmac.compare_digest(checkpoint.root, merkle.EMPTY_ROOT):
                raise VerificationError(
                    f"checkpoint of size 0 has root {checkpoint.root.hex()}, not the "
                    "empty-tree root"
                )
        return old, new
    merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
    return old, new


def verify_entries(
    entries: Iterable[bytes],
    signed_checkpoint: str | bytes,
    log_key: VerifierKey | str,
    *,
    known_leaf_hashes: Mapping[int, bytes] | None = None,
) -> Checkpoint:
    """Raise unless ``entries`` (leaf bytes in order) are exactly the signed tree.

    ``known_leaf_hashes`` (index -> leaf hash, e.g. from receipts or level-0 tiles)
    lets a mismatch name the first entry that differs. Memory is O(log n).
    """
    checkpoint = verify_checkpoint(signed_checkpoint, log_key)
    known = known_leaf_hashes or {}
    compact = CompactRange()
    for index, entry in enumerate(entries):
        if index >= checkpoint.size:
            raise EntryMismatch(
                f"more entries than the checkpoint's {checkpoint.size}", index=index
            )
        digest = leaf_hash_of(entry)
        expected = known.get(index)
        if expected is not None and not hmac.compare_digest(digest, expected):
            raise EntryMismatch(
                f"entry {index} hashes to {digest.hex()}, expected {expected.hex()}",
                index=index,
            )
        compact.append(digest)
    if compact.size != checkpoint.size:
        raise EntryMismatch(
            f"{compact.size} entries, the checkpoint has {checkpoint.size}", index=compact.size
        )
    if not hmac.compare_digest(compact.root(), checkpoint.root):
        raise VerificationError(
            f"the entries give root {compact.root().hex()}, the checkpoint signed "
            f"{checkpoint.root.hex()}"
        )
    return checkpoint


# Proof documents as served by the HTTP API -----------------------------------------


def _hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a hex string, got {type(value).__name__}")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidInput(f"{what} {value[:80]!r} is not hex") from exc
    if len(raw) != merkle.HASH_SIZE:
        raise InvalidInput(f"{what} must be {merkle.HASH_SIZE} bytes, got {len(raw)}")
    return raw


def hashes_from_json(values: Any, what: str = "hashes") -> list[bytes]:
    if not isinstance(values, list):
        raise InvalidInput(f"{what} must be a list of hex strings")
    return [_hex32(v, f"{what}[{i}]") for i, v in enumerate(values)]


def verify_inclusion_document(
    document: Mapping[str, Any], signed_checkpoint: str | bytes, log_key: VerifierKey | str
) -> Checkpoint:
    """Verify ``{leaf_index, tree_size, leaf_hash, hashes}`` against a signed checkpoint."""
    index = document.get("leaf_index")
    size = document.get("tree_size")
    if not isinstance(index, int) or not isinstance(size, int):
        raise InvalidInput("inclusion proof needs integer leaf_index and tree_size")
    return verify_inclusion_in_checkpoint(
        _hex32(document.get("leaf_hash"), "leaf_hash"),
        index,
        hashes_from_json(document.get("hashes")),
        signed_checkpoint,
        log_key,
        tree_size=size,
    )


# Leaf and envelope checks -----------------------------------------------------------
#
# An outsider holding the leaf bytes (GET /v1/log/entries/{index}) checks more than
# inclusion: the leaf's canonical encoding, the envelope signature by a registered key,
# and the stream chain (``prev``). Those checks depend on the leaf and envelope formats
# (ledger.encoding, ledger.envelope) and belong in this section, built on
# ``leaf_hash_of`` and ``verify_inclusion_in_checkpoint``.


def leaf_hash_of(leaf: bytes) -> bytes:
    """The RFC 6962 leaf hash of the exact leaf bytes."""
    if not isinstance(leaf, bytes | bytearray | memoryview):
        raise InvalidInput(f"leaf must be bytes, got {type(leaf).__name__}")
    return merkle.leaf_hash(bytes(leaf))


def verify_leaf_in_checkpoint(
    leaf: bytes,
    index: int,
    proof: Sequence[bytes],
    signed_checkpoint: str | bytes,
    log_key: VerifierKey | str,
) -> Checkpoint:
    """Inclusion of the exact leaf bytes (hashed here) at ``index`` in the signed tree."""
    return verify_inclusion_in_checkpoint(
        leaf_hash_of(leaf), index, proof, signed_checkpoint, log_key
    )


class LeafInvalid(VerificationError):
    """A leaf is malformed, its envelope does not verify, or its chain link is wrong."""

    code = "leaf_invalid"
    title = "Leaf does not verify"


_LEAF_FIELDS = {"v", "stream", "version", "type", "recorded_at", "envelope", "signature", "prev"}


@dataclass(frozen=True, slots=True)
class VerifiedLeaf:
    leaf_hash: bytes
    stream: str
    version: int
    type: str
    recorded_at: str
    envelope: Envelope
    signature: bytes
    prev: bytes | None
    envelope_bytes: bytes  # exactly as signed


def decode_leaf(leaf: bytes, *, leaf_hash: bytes | None = None) -> VerifiedLeaf:
    """Check a leaf's canonical form and shape, and its envelope's (not yet the signature).

    ``leaf_hash``, when the caller has already hashed these exact bytes, is not computed
    again."""
    try:
        value = decode(bytes(leaf))
    except LedgerError as exc:
        raise LeafInvalid(f"leaf is not canonical msgpack: {exc.message}") from exc
    # ``type(...) is int``: True == 1 in Python, and a leaf saying v=true or version=true
    # would be another leaf (another hash) around the same signed envelope.
    if (not isinstance(value, dict) or set(value) != _LEAF_FIELDS
            or type(value["v"]) is not int or value["v"] != 1):
        raise LeafInvalid("leaf must be a map of exactly v=1, stream, version, type, "
                          "recorded_at, envelope, signature, prev")
    prev = value["prev"]
    if not (prev is None or (isinstance(prev, bytes) and len(prev) == 32)):
        raise LeafInvalid("leaf prev must be nil or 32 bytes")
    if type(value["version"]) is not int or value["version"] < 1:
        raise LeafInvalid("leaf version must be a positive integer")
    recorded_at = value["recorded_at"]
    if not isinstance(recorded_at, str) or not looks_like_instant(recorded_at):
        raise LeafInvalid("leaf recorded_at must be an RFC 3339 UTC instant")
    if not isinstance(value["envelope"], bytes) or not isinstance(value["signature"], bytes):
        raise LeafInvalid("leaf envelope and signature must be bytes")
    try:
        envelope = Submission(value["envelope"], value["signature"]).decode()
    except LedgerError as exc:
        raise LeafInvalid(f"envelope: {exc.message}") from exc
    if envelope.type != value["type"] or envelope.stream != value["stream"]:
        raise LeafInvalid(f"leaf says {value['type']} in {value['stream']}, its envelope says "
                          f"{envelope.type} in {envelope.stream}")
    if (prev is None) != (value["version"] == 1):
        raise LeafInvalid("prev must be nil exactly for the first event of a stream")
    return VerifiedLeaf(leaf_hash if leaf_hash is not None else leaf_hash_of(leaf),
                        value["stream"], value["version"], value["type"],
                        value["recorded_at"], envelope, value["signature"], prev,
                        value["envelope"])


def verify_leaf(leaf: bytes, signer_key: VerifierKey | str, *,
                previous: VerifiedLeaf | bytes | None = None) -> VerifiedLeaf:
    """Verify one leaf as an outsider can: canonical form, the envelope's signature by
    ``signer_key`` over the domain-separated envelope bytes, and the stream chain link.

    ``previous`` is the stream's previous leaf (decoded, or its leaf hash); omit it for
    the first event of a stream. Raises :class:`LeafInvalid`.
    """
    decoded = decode_leaf(leaf)
    key = _log_key(signer_key)
    if key.name != decoded.envelope.signer:
        raise LeafInvalid(f"the envelope names signer {decoded.envelope.signer}, "
                          f"not {key.name}")
    if not key.verify(decoded.signature, signing_message(decoded.envelope_bytes)):
        raise LeafInvalid(f"envelope signature does not verify under {key.name} "
                          "(with the envelope domain separation)")
    if previous is None:
        if decoded.prev is not None:
            raise LeafInvalid(f"leaf links to {decoded.prev.hex()} but no previous event "
                              "was given")
    else:
        prev_hash = previous if isinstance(previous, bytes) else previous.leaf_hash
        if decoded.prev is None or not hmac.compare_digest(decoded.prev, prev_hash):
            raise LeafInvalid(f"stream chain broken: prev is "
                              f"{decoded.prev.hex() if decoded.prev else 'nil'}, "
                              f"the previous leaf hash is {prev_hash.hex()}")
        if isinstance(previous, VerifiedLeaf) and (
                previous.stream != decoded.stream or previous.version + 1 != decoded.version):
            raise LeafInvalid(f"{decoded.stream} v{decoded.version} does not follow "
                              f"{previous.stream} v{previous.version}")
    expect = decoded.envelope.expect_version
    if expect is not None and expect != decoded.version - 1:
        raise LeafInvalid(f"recorded as version {decoded.version} although the envelope "
                          f"expected the stream to hold {expect} events")
    return decoded

