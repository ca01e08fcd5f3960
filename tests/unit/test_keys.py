"""Key strings in the signed-note formats, checked against Go's sumdb/note vectors."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from ledger.errors import InvalidKey
from ledger.keys import SignerKey, VerifierKey, key_id

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" /
                      "c2sp-note-and-tlog-vectors.json").read_text())
GO = VECTORS["go_note_vectors"]


def test_go_signer_key_round_trips_byte_for_byte() -> None:
    key = SignerKey.parse(GO["skey"])
    assert key.skey == GO["skey"]
    assert key.verifier.vkey == GO["vkey"]
    assert key.name == "PeterNeumann"


def test_peter_neumann_signs_to_the_same_signature_line() -> None:
    key = SignerKey.parse(GO["skey"])
    signature = key.sign(GO["text"].encode())
    line = f"— {key.name} {base64.b64encode(key.verifier.key_id + signature).decode()}\n"
    assert line == GO["sig_line"]


def test_verifier_keys_parse_and_reformat() -> None:
    for vkey in (GO["vkey"], GO["enoch_vkey"], VECTORS["our_checkpoint"]["log_vkey"],
                 VECTORS["c2sp_signed_note_example"]["vkey"]):
        assert VerifierKey.parse(vkey).vkey == vkey


def test_our_log_key_from_its_seed() -> None:
    ours = VECTORS["our_checkpoint"]
    key = SignerKey.from_seed("example.gov/ledger", bytes.fromhex(ours["log_seed_hex"]))
    assert key.public.hex() == ours["log_pub_hex"]
    assert key.verifier.vkey == ours["log_vkey"]
    assert key.skey == ours["go_skey"]


def test_key_id_is_sha256_of_name_newline_alg_and_key() -> None:
    key = VerifierKey.parse(GO["vkey"])
    assert key_id(key.name, key.public).hex() == GO["vkey"].split("+")[1]


@pytest.mark.parametrize("bad", [
    "PeterNeumann+c74f20a3",  # no key
    "PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong hash
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
    "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
    "PeterNeumann+c74f20a3+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # algorithm 0x04
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
])
def test_malformed_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(InvalidKey):
        VerifierKey.parse(bad)


def test_signer_key_requires_prefix_and_matching_hash() -> None:
    with pytest.raises(InvalidKey):
        SignerKey.parse(GO["vkey"])
    with pytest.raises(InvalidKey):
        SignerKey.parse(GO["skey"].replace("c74f20a3", "c74f20a4"))


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    key = SignerKey.generate("91350100M000100Y43/finance")
    path = tmp_path / "k" / "finance.key"
    key.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SignerKey.read(path).skey == key.skey
    with pytest.raises(FileExistsError):
        key.write(path)
    os.chmod(path, 0o644)
    with pytest.raises(InvalidKey, match="chmod 600"):
        SignerKey.read(path)


def test_verify_rejects_wrong_length_and_wrong_message() -> None:
    key = SignerKey.generate("a/b")
    sig = key.sign(b"m")
    assert key.verifier.verify(sig, b"m")
    assert not key.verifier.verify(sig, b"n")
    assert not key.verifier.verify(sig[:63], b"m")
