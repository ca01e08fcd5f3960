"""Signed-note parsing and Go note.Open semantics; checkpoint bodies."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidNote
from ledger.keys import SignerKey
from ledger.note import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointMismatch,
    NoteNotSigned,
    NoteSignatureInvalid,
    open_checkpoint,
    open_note,
    parse_note,
    sign_checkpoint,
    sign_note,
)

ALICE = SignerKey.from_seed("example.org/alice", bytes(range(32)))
BOB = SignerKey.from_seed("example.org/bob", bytes(range(1, 33)))
LOG = SignerKey.from_seed("example.gov/ledger", bytes(range(32)))
ROOT = bytes(range(32))
TEXT = "hello\nworld\n"


def test_sign_and_open_round_trip() -> None:
    note = sign_note(TEXT, ALICE, BOB)
    opened = open_note(note, [ALICE.verifier, BOB.verifier])
    assert opened.text == TEXT
    assert [s.name for s in opened.verified] == ["example.org/alice", "example.org/bob"]
    assert opened.signed_by(ALICE.verifier)


def test_text_may_contain_blank_lines_split_is_at_the_last() -> None:
    text = "a\n\nb\n"
    assert open_note(sign_note(text, ALICE), [ALICE.verifier]).text == text


def test_unknown_signers_are_ignored_but_someone_known_must_sign() -> None:
    note = sign_note(TEXT, ALICE, BOB)
    opened = open_note(note, [BOB.verifier])
    assert [s.name for s in opened.unverified] == ["example.org/alice"]
    with pytest.raises(NoteNotSigned):
        open_note(note, [LOG.verifier])
    with pytest.raises(NoteNotSigned):
        open_note(note, [])


def test_same_name_other_key_id_is_unknown_not_bad() -> None:
    impostor = SignerKey.from_seed("example.org/alice", bytes(32))
    note = sign_note(TEXT, impostor, BOB)
    opened = open_note(note, [ALICE.verifier, BOB.verifier])
    assert [s.name for s in opened.verified] == ["example.org/bob"]
    assert len(opened.unverified) == 1


def test_a_bad_signature_by_a_known_key_rejects_the_note() -> None:
    note = sign_note(TEXT, ALICE, BOB)
    forged = note.replace(TEXT, "hello\nWorld\n", 1)
    with pytest.raises(NoteSignatureInvalid):
        open_note(forged, [ALICE.verifier])
    # ... even when another known key's signature is fine
    bob_only = sign_note("hello\nWorld\n", BOB)
    mixed = bob_only + note.split("\n\n", 1)[1].splitlines(keepends=True)[0]
    with pytest.raises(NoteSignatureInvalid):
        open_note(mixed, [ALICE.verifier, BOB.verifier])


def test_repeated_signatures_count_once() -> None:
    note = sign_note(TEXT, ALICE)
    line = note.split("\n\n", 1)[1]
    opened = open_note(note + line, [ALICE.verifier])
    assert len(opened.verified) == 1


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("hello\n", "no blank line"),
        ("hello\n\n", "non-empty"),
        ("hello\n\n\u2014 a AAAAAAA=", "end with a newline"),
        ("hello\n\n- a AAAAAAAA\n", "em dash"),
        ("hello\n\n\u2014 a\n", "expected"),
        ("hello\n\n\u2014 a+b AAAAAAAA\n", "bad key name"),
        ("hello\n\n\u2014 a AAAA!AAA\n", "base64"),
        ("hello\n\n\u2014 a AAAA\n", "too short"),
        ("hello\n\n\u2014 a AAAAAAAA \n", "base64"),
        ("hel\rlo\n\n\u2014 a AAAAAAAA\n", "control character"),
        ("hello\t\n\n\u2014 a AAAAAAAA\n", "control character"),
    ],
)
def test_malformed_notes(note: str, message: str) -> None:
    with pytest.raises(InvalidNote, match=message):
        parse_note(note)


def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(InvalidNote, match="UTF-8"):
        parse_note(b"hello \xff\n\n\xe2\x80\x94 a AAAAAAAA\n")


def test_at_most_100_signatures() -> None:
    line = sign_note(TEXT, ALICE).split("\n\n", 1)[1]
    assert len(open_note(TEXT + "\n" + line * MAX_SIGNATURES, [ALICE.verifier]).verified) == 1
    with pytest.raises(InvalidNote, match="at most 100"):
        parse_note(TEXT + "\n" + line * (MAX_SIGNATURES + 1))


@pytest.mark.parametrize("text", ["", "no newline", "bell\x07\n"])
def test_unsignable_text(text: str) -> None:
    with pytest.raises(InvalidNote):
        sign_note(text, ALICE)


# Checkpoints ---------------------------------------------------------------------


def test_checkpoint_body_and_domain() -> None:
    checkpoint = Checkpoint("example.gov/ledger", 42, ROOT)
    body = checkpoint.body()
    assert body == "example.gov/ledger\n42\n" + base64.b64encode(ROOT).decode() + "\n"
    assert Checkpoint.parse(body) == checkpoint
    signed = sign_checkpoint(checkpoint, LOG)
    assert open_checkpoint(signed, LOG.verifier, origin="example.gov/ledger") == checkpoint
    with pytest.raises(InvalidNote, match="must equal the checkpoint origin"):
        sign_checkpoint(checkpoint, ALICE)
    with pytest.raises(CheckpointMismatch):
        open_checkpoint(signed, LOG.verifier, origin="example.gov/other")
    other_origin = sign_note(Checkpoint("example.gov/other", 42, ROOT).body(), LOG)
    with pytest.raises(CheckpointMismatch, match="not the log key name"):
        open_checkpoint(other_origin, LOG.verifier)


def test_checkpoint_extension_lines() -> None:
    checkpoint = Checkpoint("o", 0, ROOT, ("ext one", "ext two"))
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"o\n08\n{B64}\n",
        f"o\n+8\n{B64}\n",
        f"o\n 8\n{B64}\n",
        f"o\n8 \n{B64}\n",
        f"o\n\u0668\n{B64}\n",  # an Arabic-Indic digit: int() would accept it
        f"o\n1_000\n{B64}\n",
        f"o\n-1\n{B64}\n",
        f"o\n\n{B64}\n",
        f"o\n{1 << 63}\n{B64}\n",
        f"o\n8\n{B64}",
        f"o\n8\n{B64[:-1]}\n",
        f"o\n8\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"o\n8\n{base64.urlsafe_b64encode(bytes([251] * 32)).decode()}\n",
        f"o\n8\n{B64}\n\n",
        f"\n8\n{B64}\n",
        "o\n8\n",
    ],
)
def test_malformed_checkpoint_bodies(body: str) -> None:
    with pytest.raises(InvalidNote):
        Checkpoint.parse(body)


def test_non_canonical_base64_root_is_rejected() -> None:
    assert B64.endswith("8=")
    same_bytes = B64[:-2] + "9="  # the two unused low bits set
    assert base64.b64decode(same_bytes) == ROOT
    with pytest.raises(InvalidNote, match="canonical"):
        Checkpoint.parse(f"o\n8\n{same_bytes}\n")


def test_checkpoint_constructor_validates() -> None:
    with pytest.raises(InvalidNote):
        Checkpoint("", 1, ROOT)
    with pytest.raises(InvalidNote):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(InvalidNote):
        Checkpoint("o", 1, ROOT[:31])
    with pytest.raises(InvalidNote):
        Checkpoint("o\nx", 1, ROOT)


@given(
    origin=st.text(
        st.characters(min_codepoint=0x21, exclude_categories=("Cs",)), min_size=1, max_size=40
    ),
    size=st.integers(0, (1 << 63) - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_checkpoint_body_round_trips(origin: str, size: int, root: bytes) -> None:
    checkpoint = Checkpoint(origin, size, root)
    assert Checkpoint.parse(checkpoint.body()) == checkpoint
