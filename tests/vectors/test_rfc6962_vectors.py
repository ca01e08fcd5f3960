"""Every transparency-dev RFC 6962 inclusion and consistency vector, negatives included.

Each JSON file holds a proof and ``wantErr``. A vector passes when our verifier raises
a ``LedgerError`` exactly when ``wantErr`` is true. ``STRICTER`` lists the vectors
where we deliberately refuse what the reference accepts, with the reason.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.errors import LedgerError

HERE = Path(__file__).parent
RFC6962 = HERE / "rfc6962"
C2SP = json.loads((HERE / "c2sp-note-and-tlog-vectors.json").read_text())

STRICTER = {
    # The reference compares the two roots when sizes are equal without checking their
    # length; the roots here are 12 bytes. We reject any hash that is not 32 bytes
    # before comparing (malformed input, not a proof).
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": (
        "roots are not 32 bytes"
    ),
}

INCLUSION = sorted(RFC6962.glob("inclusion/**/*.json"))
CONSISTENCY = sorted(RFC6962.glob("consistency/**/*.json"))


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_b64(item) for item in vector["proof"] or []]


def _name(path: Path) -> str:
    return path.relative_to(RFC6962).as_posix()


def _expect_error(path: Path, vector: dict[str, Any]) -> bool:
    return bool(vector["wantErr"]) or _name(path) in STRICTER


def test_all_vector_files_are_present() -> None:
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98
    assert all(
        (RFC6962 / name).exists() for name in STRICTER
    ), "a documented deviation names a vector that is not there"


@pytest.mark.parametrize("path", INCLUSION, ids=_name)
def test_inclusion_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    args = (
        _b64(vector["leafHash"]),
        vector["leafIdx"],
        vector["treeSize"],
        _proof(vector),
        _b64(vector["root"]),
    )
    if _expect_error(path, vector):
        with pytest.raises(LedgerError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
def test_consistency_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    args = (
        vector["size1"],
        vector["size2"],
        _proof(vector),
        _b64(vector["root1"]),
        _b64(vector["root2"]),
    )
    if _expect_error(path, vector):
        with pytest.raises(LedgerError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_stricter_vector_is_rejected_as_malformed_not_as_failed() -> None:
    vector = json.loads((RFC6962 / next(iter(STRICTER))).read_text())
    with pytest.raises(merkle.MalformedProof, match="32 bytes"):
        merkle.verify_consistency(
            vector["size1"], vector["size2"], [], _b64(vector["root1"]), _b64(vector["root2"])
        )


# The RFC 6962 reference leaves: our generation reproduces the published proofs. ------

LEAVES = [bytes.fromhex(x) for x in C2SP["rfc6962_leaves_hex"]]
LEAF_HASHES = [merkle.leaf_hash(x) for x in LEAVES]


def test_leaf_hashes_and_roots_of_the_reference_leaves() -> None:
    assert [h.hex() for h in LEAF_HASHES] == C2SP["leaf_hashes_hex"]
    for size, root in C2SP["roots_by_size_hex"].items():
        assert merkle.root_from_leaf_hashes(LEAF_HASHES[: int(size)]).hex() == root


@pytest.mark.parametrize("case", C2SP["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_generated_inclusion_proofs_match(case: dict[str, Any]) -> None:
    hashes = LEAF_HASHES[: case["size"]]
    proof = merkle.inclusion_proof(case["index"], hashes)
    assert [h.hex() for h in proof] == case["path_hex"]
    root = merkle.root_from_leaf_hashes(hashes)
    merkle.verify_inclusion(hashes[case["index"]], case["index"], case["size"], proof, root)


@pytest.mark.parametrize(
    "case", C2SP["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}"
)
def test_generated_consistency_proofs_match(case: dict[str, Any]) -> None:
    hashes = LEAF_HASHES[: case["size2"]]
    proof = merkle.consistency_proof(case["size1"], hashes)
    assert [h.hex() for h in proof] == case["proof_hex"]


def _over_reference_leaves(path: Path) -> bool:
    vector = json.loads(path.read_text())
    if vector["wantErr"]:
        return False
    if "leafIdx" in vector:
        index, size = vector["leafIdx"], vector["treeSize"]
        return size <= len(LEAF_HASHES) and _b64(vector["leafHash"]) == LEAF_HASHES[index]
    size2 = vector["size2"]
    return size2 <= len(LEAF_HASHES) and _b64(vector["root2"]) == merkle.root_from_leaf_hashes(
        LEAF_HASHES[:size2]
    )


HAPPY_INCLUSION = [p for p in INCLUSION if _over_reference_leaves(p)]
HAPPY_CONSISTENCY = [p for p in CONSISTENCY if _over_reference_leaves(p)]


def test_some_happy_vectors_are_over_the_reference_leaves() -> None:
    assert len(HAPPY_INCLUSION) >= 5
    assert len(HAPPY_CONSISTENCY) >= 5


@pytest.mark.parametrize("path", HAPPY_INCLUSION, ids=_name)
def test_happy_inclusion_vectors_are_what_we_generate(path: Path) -> None:
    vector = json.loads(path.read_text())
    index, size = vector["leafIdx"], vector["treeSize"]
    assert merkle.inclusion_proof(index, LEAF_HASHES[:size]) == _proof(vector)


@pytest.mark.parametrize("path", HAPPY_CONSISTENCY, ids=_name)
def test_happy_consistency_vectors_are_what_we_generate(path: Path) -> None:
    vector = json.loads(path.read_text())
    size1, size2 = vector["size1"], vector["size2"]
    assert merkle.consistency_proof(size1, LEAF_HASHES[:size2]) == _proof(vector)
