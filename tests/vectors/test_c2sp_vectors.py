"""Signed notes, checkpoints and tile paths reproduced byte for byte from the vectors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from ledger import merkle, tiles, verify
from ledger.keys import SignerKey, VerifierKey
from ledger.note import (
    Checkpoint,
    NoteNotSigned,
    open_checkpoint,
    open_note,
    parse_note,
    sign_checkpoint,
    sign_note,
)

VECTORS = json.loads((Path(__file__).parent / "c2sp-note-and-tlog-vectors.json").read_text())
OURS = VECTORS["our_checkpoint"]
GO = VECTORS["go_note_vectors"]


def _log_key() -> SignerKey:
    return SignerKey.from_seed("example.gov/ledger", bytes.fromhex(OURS["log_seed_hex"]))


def test_our_checkpoint_is_reproduced_from_its_seed() -> None:
    key = _log_key()
    assert key.public.hex() == OURS["log_pub_hex"]
    assert key.verifier.vkey == OURS["log_vkey"]
    assert key.skey == OURS["go_skey"]
    root = bytes.fromhex(VECTORS["roots_by_size_hex"]["8"])
    signed = sign_checkpoint(Checkpoint("example.gov/ledger", 8, root), key)
    assert signed == OURS["signed_checkpoint"]
    assert signed.encode()[signed.encode().index(b"\n\n") + 2 :][:4] == b"\xe2\x80\x94\x20"
    checkpoint = open_checkpoint(signed, VerifierKey.parse(OURS["log_vkey"]))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == ("example.gov/ledger", 8, root)


def test_go_note_signature_line_is_reproduced() -> None:
    key = SignerKey.parse(GO["skey"])
    assert key.verifier.vkey == GO["vkey"]
    assert sign_note(GO["text"], key) == GO["text"] + "\n" + GO["sig_line"]


def test_go_note_with_two_signers_opens_per_known_keys() -> None:
    note = GO["text"] + "\n" + GO["sig_line"] + GO["enoch_sig_line"]
    peter, enoch = VerifierKey.parse(GO["vkey"]), VerifierKey.parse(GO["enoch_vkey"])
    both = open_note(note, [peter, enoch])
    assert [s.name for s in both.verified] == ["PeterNeumann", "EnochRoot"]
    only_peter = open_note(note, [peter])
    assert [s.name for s in only_peter.verified] == ["PeterNeumann"]
    assert [s.name for s in only_peter.unverified] == ["EnochRoot"]
    assert only_peter.text == GO["text"]
    with pytest.raises(NoteNotSigned):
        open_note(note, [VerifierKey.parse(OURS["log_vkey"])])


def test_c2sp_signed_note_example_verifies() -> None:
    example = VECTORS["c2sp_signed_note_example"]
    opened = open_note(example["note"], [VerifierKey.parse(example["vkey"])])
    assert opened.text == "This is an example message.\n"
    assert str(parse_note(example["note"])) == example["note"]


def test_sum_golang_org_checkpoint_verifies() -> None:
    published = VECTORS["sum_golang_org"]
    key = VerifierKey.parse(published["vkey"])
    opened = open_note(published["note"], [key])
    checkpoint = Checkpoint.parse(opened.text)
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == 6476701
    # The Go checksum database names its key differently from its origin line, so it
    # is not a checkpoint in this log's domain (key name = origin).
    with pytest.raises(verify.CheckpointMismatch):
        open_checkpoint(published["note"], key)


def test_rekor_v2_checkpoint_and_inclusion_proof_verify() -> None:
    rekor = VECTORS["rekor_v2_staging"]
    proof = [base64.b64decode(h) for h in rekor["proof_b64"]]
    checkpoint = verify.verify_inclusion_in_checkpoint(
        bytes.fromhex(rekor["leaf_hash_hex"]),
        rekor["index"],
        proof,
        rekor["checkpoint"],
        rekor["vkey"],
        tree_size=rekor["tree_size"],
    )
    assert checkpoint.origin == rekor["origin"]
    with pytest.raises(verify.VerificationError):
        verify.verify_inclusion_in_checkpoint(
            bytes.fromhex(rekor["leaf_hash_hex"]), rekor["index"] - 1, proof,
            rekor["checkpoint"], rekor["vkey"],
        )


def test_sigsum_checkpoint_from_issue_99_is_reproduced() -> None:
    sigsum = VECTORS["c2sp_issue99_sigsum"]
    vkey = VerifierKey.parse(sigsum["vkey"])
    key = SignerKey.from_seed(vkey.name, bytes.fromhex(sigsum["seed_hex"]))
    assert key.public.hex() == sigsum["pub_hex"]
    checkpoint = open_checkpoint(sigsum["checkpoint"], vkey)
    assert sign_checkpoint(checkpoint, key) == sigsum["checkpoint"]


def test_witness_cosignature_is_an_unknown_signature_to_the_log_key() -> None:
    proof_text = OURS["tlog_proof_for_index5"]
    header, signed = proof_text.split("\n\n", 1)
    opened = open_note(signed, [VerifierKey.parse(OURS["log_vkey"])])
    assert [s.name for s in opened.unverified] == ["witness.example/w1"]
    # The cosignature line itself: key id over type 0x04, then time and signature.
    seed = bytes.fromhex(OURS["witness_seed_hex"])
    witness = SignerKey.from_seed("witness.example/w1", seed)
    assert witness.public.hex() == OURS["witness_pub_hex"]
    key_id = hashlib.sha256(b"witness.example/w1\n\x04" + witness.public).digest()[:4]
    signature = witness.sign(OURS["cosigned_message"].encode())
    blob = key_id + OURS["cosignature_time"].to_bytes(8, "big") + signature
    line = "\u2014 witness.example/w1 " + base64.b64encode(blob).decode() + "\n"
    assert line == OURS["cosignature_line"]
    # The tlog-proof body: index, then the audit path, against the signed checkpoint.
    lines = header.split("\n")
    assert lines[:2] == ["c2sp.org/tlog-proof@v1", "index 5"]
    path = [base64.b64decode(h) for h in lines[2:]]
    leaf = merkle.leaf_hash(bytes.fromhex(VECTORS["rfc6962_leaves_hex"][5]))
    verify.verify_inclusion_in_checkpoint(leaf, 5, path, signed, OURS["log_vkey"])


def test_tile_paths() -> None:
    paths = VECTORS["tile_paths"]
    assert tiles.Tile(0, 1234).path == paths["1234 L0 full"]
    assert tiles.Tile(0, 1234067).path == paths["1234067 L0"]
    assert tiles.Tile(15, 123456789, 41).path == paths["L15 idx 123456789 partial 41"]
    assert tiles.EntryBundle(123456789).path == paths["entries 123456789"]
    for key in ("1234 L0 full", "1234067 L0", "L15 idx 123456789 partial 41", "entries 123456789"):
        assert tiles.parse_tile_path(paths[key]).path == paths[key]


def test_tiles_of_a_70000_leaf_tree() -> None:
    # "273 full L0 + tile/0/273.p/112 + tile/1/000 + tile/1/001.p/17 + tile/2/000.p/1"
    listed = [t.path for t in tiles.tiles_for_size(70000)]
    expected = [f"tile/0/{n:03d}" for n in range(273)] + [
        "tile/0/273.p/112",
        "tile/1/000",
        "tile/1/001.p/17",
        "tile/2/000.p/1",
    ]
    assert listed == expected
    described = VECTORS["tile_paths"]["size 70000 tiles"]
    assert described.startswith("273 full L0 + " + " + ".join(expected[273:]))
    assert "(277 tiles" in described and len(listed) == 277
