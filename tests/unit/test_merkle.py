"""Merkle argument checks: malformed requests differ from proofs that fail."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import merkle
from ledger.errors import InvalidInput, VerificationError

HASHES = [merkle.leaf_hash(b"%d" % i) for i in range(20)]
NODES = {(lv, ix): h for lv, ix, h in merkle.CompactRange().extend(HASHES)}
ROOT = merkle.root_from_leaf_hashes(HASHES)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert merkle.leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert merkle.node_hash(HASHES[0], HASHES[1]) != merkle.leaf_hash(HASHES[0] + HASHES[1])
    assert merkle.EMPTY_ROOT.hex().startswith("e3b0c442")


def test_subtree_nodes_cover_a_range_with_aligned_perfect_subtrees() -> None:
    assert merkle.subtree_nodes(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert merkle.subtree_nodes(5, 13) == [(0, 5), (1, 3), (2, 2), (0, 12)]
    assert merkle.subtree_nodes(4, 4) == []
    assert merkle.root_nodes(0) == []
    assert merkle.root_nodes(256) == [(8, 0)]


def test_node_level_idx_is_the_root_of_its_leaf_range() -> None:
    for (level, idx), digest in NODES.items():
        start, end = idx << level, (idx + 1) << level
        assert digest == merkle.root_from_leaf_hashes(HASHES[start:end])


@pytest.mark.parametrize(
    ("index", "size", "message"),
    [
        (5, 5, "not below tree size"),
        (0, 0, "not below tree size"),
        (-1, 5, "outside"),
        (True, 5, "must be an integer"),
        (1.0, 5, "must be an integer"),
        (0, 1 << 63, "outside"),
    ],
)
def test_index_out_of_bounds_is_malformed(index: Any, size: Any, message: str) -> None:
    with pytest.raises(merkle.MalformedProof, match=message):
        merkle.verify_inclusion(HASHES[0], index, size, [], ROOT)
    with pytest.raises(merkle.MalformedProof):
        merkle.inclusion_proof_nodes(index, size)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, None])
def test_hashes_must_be_32_bytes(bad: Any) -> None:
    proof = merkle.inclusion_proof_from_nodes(3, 20, NODES)
    with pytest.raises(merkle.MalformedProof):
        merkle.verify_inclusion(bad, 3, 20, proof, ROOT)
    with pytest.raises(merkle.MalformedProof):
        merkle.verify_inclusion(HASHES[3], 3, 20, proof, bad)
    with pytest.raises(merkle.MalformedProof):
        merkle.verify_inclusion(HASHES[3], 3, 20, [*proof[:-1], bad], ROOT)
    with pytest.raises(merkle.MalformedProof):
        merkle.verify_consistency(4, 20, merkle.consistency_proof(4, HASHES), bad, ROOT)


def test_proof_must_be_a_sequence_of_hashes() -> None:
    with pytest.raises(merkle.MalformedProof):
        merkle.verify_inclusion(HASHES[0], 0, 20, b"\x00" * 32, ROOT)  # type: ignore[arg-type]


def test_consistency_bounds() -> None:
    with pytest.raises(merkle.MalformedProof, match="larger than"):
        merkle.verify_consistency(5, 4, [], ROOT, ROOT)
    with pytest.raises(merkle.MalformedProof, match="size 0"):
        merkle.verify_consistency(0, 4, [], merkle.EMPTY_ROOT, ROOT)
    with pytest.raises(merkle.MalformedProof, match="size 0"):
        merkle.verify_consistency(0, 0, [], merkle.EMPTY_ROOT, merkle.EMPTY_ROOT)
    with pytest.raises(merkle.MalformedProof, match="size 0"):
        merkle.consistency_proof_nodes(0, 4)
    with pytest.raises(merkle.MalformedProof):
        merkle.consistency_proof_nodes(5, 4)


def test_malformed_is_invalid_input_and_failure_is_verification_error() -> None:
    assert issubclass(merkle.MalformedProof, InvalidInput)
    assert not issubclass(merkle.MalformedProof, VerificationError)
    proof = merkle.inclusion_proof_from_nodes(3, 20, NODES)
    with pytest.raises(VerificationError, match="needs 5"):
        merkle.verify_inclusion(HASHES[3], 3, 20, [*proof, HASHES[0]], ROOT)
    with pytest.raises(VerificationError, match="gives root"):
        merkle.verify_inclusion(HASHES[4], 3, 20, proof, ROOT)


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    merkle.verify_consistency(20, 20, [], ROOT, ROOT)
    with pytest.raises(VerificationError, match="not empty"):
        merkle.verify_consistency(20, 20, [ROOT], ROOT, ROOT)
    with pytest.raises(VerificationError, match="roots differ"):
        merkle.verify_consistency(20, 20, [], ROOT, HASHES[0])


def test_an_empty_proof_where_one_is_needed_fails() -> None:
    old = merkle.root_from_leaf_hashes(HASHES[:7])
    with pytest.raises(VerificationError):
        merkle.verify_consistency(7, 20, [], old, ROOT)


def test_unexpected_errors_inside_verification_fail_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proof = merkle.inclusion_proof_from_nodes(3, 20, NODES)
    old = merkle.root_from_leaf_hashes(HASHES[:7])
    cproof = merkle.consistency_proof(7, HASHES)

    def explode(left: bytes, right: bytes) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(merkle, "node_hash", explode)
    with pytest.raises(VerificationError, match="could not be evaluated"):
        merkle.verify_inclusion(HASHES[3], 3, 20, proof, ROOT)
    with pytest.raises(VerificationError, match="could not be evaluated"):
        merkle.verify_consistency(7, 20, cproof, old, ROOT)


def test_missing_nodes_are_named() -> None:
    partial = dict(NODES)
    del partial[(4, 0)]
    with pytest.raises(merkle.MissingNodeError, match=r"\(level 4, idx 0\)"):
        merkle.root_from_nodes(20, partial)
    with pytest.raises(merkle.MissingNodeError):
        merkle.CompactRange.from_nodes(20, partial)


def test_compact_range_rejects_a_wrong_frontier() -> None:
    with pytest.raises(InvalidInput, match="3 frontier hashes"):
        merkle.CompactRange(7, [HASHES[0]])
    with pytest.raises(merkle.MalformedProof):
        merkle.CompactRange().extend([b"short"])


def test_completed_nodes_from_a_sequence_frontier() -> None:
    frontier = [NODES[node] for node in merkle.root_nodes(13)]
    new = merkle.completed_nodes(13, frontier, HASHES[13:16])
    assert [(lv, ix) for lv, ix, _ in new] == [
        (0, 13), (1, 6), (0, 14), (0, 15), (1, 7), (2, 3), (3, 1), (4, 0)
    ]
    assert all(NODES[(lv, ix)] == h for lv, ix, h in new)
