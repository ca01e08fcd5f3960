"""C2SP signed notes and tlog checkpoints.

Signed note (c2sp.org/signed-note, Go ``golang.org/x/mod/sumdb/note``)::

    <text ending in "\\n">
    <blank line>
    — <key name> <base64(key_id[4] || ed25519 signature[64])>\\n   (one or more)

The dash and space are the bytes ``E2 80 94 20``. A note is valid UTF-8 without ASCII
control characters other than newline; the text is split from the signatures at the
last ``"\\n\\n"`` and the signature covers the text including its final newline.
:func:`open_note` follows Go's ``note.Open``: signatures by unknown keys (name and key
id not both matching a known key) are kept aside unverified; a known key's signature
that does not verify rejects the note; a note that no known key signed is rejected;
repeated identical signatures count once; more than 100 signature lines is malformed.

Checkpoint (c2sp.org/tlog-checkpoint): the note text ``<origin>\\n<size>\\n<base64
root>\\n`` plus optional non-empty extension lines; the size is decimal without
leading zeros and the root is the standard base64 of 32 bytes. The log signs with a
key whose name is the origin.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InvalidNote, VerificationError
from .keys import SignerKey, VerifierKey, check_key_name
from .merkle import HASH_SIZE, MAX_TREE_SIZE

MAX_SIGNATURES = 100
SIGNATURE_PREFIX = "\u2014 "  # em dash, space: E2 80 94 20
ED25519_SIGNATURE_SIZE = 64

_SIZE_RE = re.compile(r"0|[1-9][0-9]*")


class NoteSignatureInvalid(VerificationError):
    code = "note_signature_invalid"
    title = "A known key's note signature does not verify"


class NoteNotSigned(VerificationError):
    code = "note_not_signed"
    title = "No known key signed the note"


class CheckpointMismatch(VerificationError):
    code = "checkpoint_mismatch"
    title = "Checkpoint is not the one expected"


# Signed notes -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    @property
    def encoded(self) -> str:
        return base64.b64encode(self.key_id + self.signature).decode("ascii")

    @property
    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {self.encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed note: text and signatures, not yet verified."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(sig.line for sig in self.signatures)


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note with at least one verified signature by a known key."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]

    def signed_by(self, key: VerifierKey) -> bool:
        return any(s.name == key.name and s.key_id == key.key_id for s in self.verified)


def _check_characters(message: str, what: str) -> None:
    for position, char in enumerate(message):
        if char < " " and char != "\n":
            raise InvalidNote(f"{what}: control character {char!r} at offset {position}")
        if "\ud800" <= char <= "\udfff":
            raise InvalidNote(f"{what}: lone surrogate at offset {position} (not UTF-8)")


def _as_text(note: str | bytes, what: str = "note") -> str:
    if isinstance(note, bytes | bytearray | memoryview):
        try:
            return bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidNote(f"{what} is not valid UTF-8 (offset {exc.start})") from exc
    if not isinstance(note, str):
        raise InvalidNote(f"{what} must be text, got {type(note).__name__}")
    return note


def check_note_text(text: str) -> str:
    """The text that can be signed: non-empty, ending in newline, no control characters."""
    if not isinstance(text, str) or not text:
        raise InvalidNote("note text must be non-empty text")
    if not text.endswith("\n"):
        raise InvalidNote(f"note text must end with a newline: {text[-20:]!r}")
    _check_characters(text, "note text")
    return text


def sign_note(text: str, *keys: SignerKey) -> str:
    """The signed note: ``text``, a blank line and one signature line per key."""
    check_note_text(text)
    if not keys:
        raise InvalidNote("a signed note needs at least one key")
    message = text.encode("utf-8")
    signatures = tuple(
        NoteSignature(key.name, key.verifier.key_id, key.sign(message)) for key in keys
    )
    return str(Note(text, signatures))


def parse_note(note: str | bytes) -> Note:
    """Split a note into text and signature lines; raise ``InvalidNote`` if malformed."""
    message = _as_text(note)
    _check_characters(message, "note")
    split = message.rfind("\n\n")
    if split < 0:
        raise InvalidNote("note has no blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block or not block.endswith("\n"):
        raise InvalidNote("note signature block must be non-empty and end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidNote(f"note has {len(lines)} signatures; at most {MAX_SIGNATURES} allowed")
    signatures = tuple(_parse_signature_line(line, n) for n, line in enumerate(lines))
    return Note(text, signatures)


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise InvalidNote(f"signature line {number} does not start with an em dash and space")
    name, sep, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep or not encoded:
        raise InvalidNote(f"signature line {number}: expected '<name> <base64>'")
    try:
        check_key_name(name)
    except Exception as exc:
        raise InvalidNote(f"signature line {number}: bad key name {name!r}") from exc
    try:
        raw = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidNote(f"signature line {number}: signature is not standard base64") from exc
    if len(raw) < 5:
        raise InvalidNote(f"signature line {number}: signature is too short ({len(raw)} bytes)")
    return NoteSignature(name, raw[:4], raw[4:])


def open_note(note: str | bytes, known: Iterable[VerifierKey]) -> OpenedNote:
    """Parse and verify a note against ``known`` keys (Go ``note.Open`` semantics)."""
    parsed = parse_note(note)
    keys = {(key.name, key.key_id): key for key in known}
    message = parsed.text.encode("utf-8")
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in parsed.signatures:
        key = keys.get((sig.name, sig.key_id))
        if key is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not key.verify(sig.signature, message):
            raise NoteSignatureInvalid(
                f"signature by {key.name} (key id {key.key_id.hex()}) does not verify",
                key=key.vkey,
            )
        verified.append(sig)
    if not verified:
        names = ", ".join(sorted({s.name for s in parsed.signatures}))
        raise NoteNotSigned(f"note is not signed by any known key (signed by: {names})")
    return OpenedNote(parsed.text, tuple(verified), tuple(unverified))


# Checkpoints ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise InvalidNote(f"checkpoint origin must be non-empty text, got {self.origin!r}")
        if "\n" in self.origin:
            raise InvalidNote(f"checkpoint origin {self.origin!r} must be a single line")
        _check_characters(self.origin, "checkpoint origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise InvalidNote(f"checkpoint size must be an integer, got {self.size!r}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise InvalidNote(f"checkpoint size {self.size} is outside 0..{MAX_TREE_SIZE}")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise InvalidNote(f"checkpoint root must be {HASH_SIZE} bytes, got {self.root!r}")
        for line in self.extensions:
            if not isinstance(line, str) or not line or "\n" in line:
                raise InvalidNote(f"checkpoint extension line {line!r} must be one non-empty line")
            _check_characters(line, "checkpoint extension line")

    @property
    def root_base64(self) -> str:
        return base64.b64encode(self.root).decode("ascii")

    def body(self) -> str:
        """The note text: origin, size, base64 root and extension lines, each + newline."""
        lines = [self.origin, str(self.size), self.root_base64, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (the note text), rejecting any non-canonical form."""
        body = _as_text(text, "checkpoint")
        if not body.endswith("\n"):
            raise InvalidNote("checkpoint must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidNote(f"checkpoint needs origin, size and root lines; got {len(lines)}")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE_RE.fullmatch(size_text):
            raise InvalidNote(
                f"checkpoint size {size_text!r} must be decimal without leading zeros"
            )
        size = int(size_text)
        try:
            root = base64.b64decode(root_text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise InvalidNote(f"checkpoint root {root_text!r} is not standard base64") from exc
        if len(root) != HASH_SIZE:
            raise InvalidNote(f"checkpoint root must decode to {HASH_SIZE} bytes, got {len(root)}")
        if base64.b64encode(root).decode("ascii") != root_text:
            raise InvalidNote(f"checkpoint root {root_text!r} is not canonical base64")
        return cls(origin, size, root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, key: SignerKey) -> str:
    """The signed checkpoint note; the log key's name must be the origin."""
    if key.name != checkpoint.origin:
        raise InvalidNote(
            f"log key name {key.name!r} must equal the checkpoint origin {checkpoint.origin!r}"
        )
    return sign_note(checkpoint.body(), key)


def open_checkpoint(
    note: str | bytes, log_key: VerifierKey, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint with the log key and return the checkpoint.

    The log key must have signed it, and its name must be the checkpoint's origin
    (and ``origin``, when given). Other signatures (witnesses) are ignored.
    """
    opened = open_note(note, [log_key])
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != log_key.name:
        raise CheckpointMismatch(
            f"checkpoint origin {checkpoint.origin!r} is not the log key name {log_key.name!r}"
        )
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointMismatch(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}"
        )
    return checkpoint
