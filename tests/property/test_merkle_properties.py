"""Merkle proofs for every tree size up to 300, every index and every pair of sizes.

Proofs are assembled from complete subtrees (as the tree store does) and compared with
an independent transcription of the RFC 6962 recursive definitions; every proof must
verify, and any flipped bit in the leaf, the proof or a root must make it fail.
"""

from __future__ import annotations

import hashlib
import itertools
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import VerificationError

MAX_SIZE = 300
LEAVES = [b"leaf-%d" % i for i in range(MAX_SIZE)]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]
NODES = {(level, idx): h for level, idx, h in merkle.CompactRange().extend(HASHES)}


# RFC 6962 section 2.1, transcribed literally (D[a:b] is leaves a..b-1). -----------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(a: int, b: int) -> bytes:
    n = b - a
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + LEAVES[a]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(a, a + k) + mth(a + k, b)).digest()


def path(m: int, a: int, b: int) -> list[bytes]:
    n = b - a
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, a, a + k), mth(a + k, b)]
    return [*path(m - k, a + k, b), mth(a, a + k)]


def subproof(m: int, a: int, b: int, whole: bool) -> list[bytes]:
    n = b - a
    if m == n:
        return [] if whole else [mth(a, b)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, a, a + k, whole), mth(a + k, b)]
    return [*subproof(m - k, a + k, b, False), mth(a, a + k)]


ROOTS = [mth(0, n) for n in range(MAX_SIZE + 1)]


# Exhaustive ----------------------------------------------------------------------------


def test_roots_from_complete_subtrees_match_the_recursive_definition() -> None:
    compact = merkle.CompactRange()
    assert compact.root() == ROOTS[0] == merkle.EMPTY_ROOT
    for n in range(1, MAX_SIZE + 1):
        compact.append(HASHES[n - 1])
        assert compact.root() == ROOTS[n]
        assert merkle.root_from_nodes(n, NODES) == ROOTS[n]


def test_every_inclusion_proof_up_to_300() -> None:
    verified = 0
    for size in range(1, MAX_SIZE + 1):
        root = ROOTS[size]
        for index in range(size):
            proof = merkle.inclusion_proof_from_nodes(index, size, NODES)
            assert proof == path(index, 0, size), (index, size)
            assert len(proof) == merkle.inclusion_proof_size(index, size)
            merkle.verify_inclusion(HASHES[index], index, size, proof, root)
            verified += 1
    assert verified == MAX_SIZE * (MAX_SIZE + 1) // 2


def test_every_consistency_proof_up_to_300() -> None:
    verified = 0
    for new in range(1, MAX_SIZE + 1):
        for old in range(1, new + 1):
            proof = merkle.consistency_proof_from_nodes(old, new, NODES)
            assert proof == subproof(old, 0, new, True), (old, new)
            merkle.verify_consistency(old, new, proof, ROOTS[old], ROOTS[new])
            verified += 1
    assert verified == MAX_SIZE * (MAX_SIZE + 1) // 2


def test_needed_nodes_are_complete_subtrees_inside_the_tree() -> None:
    for size in range(1, MAX_SIZE + 1):
        for index in range(0, size, 7):
            for level, idx in merkle.inclusion_proof_nodes(index, size):
                assert (idx + 1) << level <= size
        for old in range(1, size + 1, 5):
            for level, idx in merkle.consistency_proof_nodes(old, size):
                assert (idx + 1) << level <= size


# Bit flips -----------------------------------------------------------------------------


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def inclusion_case(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@settings(max_examples=300, deadline=None)
@given(case=inclusion_case(), target=st.integers(0, 10_000), bit=st.integers(0, 255))
def test_any_flipped_bit_breaks_an_inclusion_proof(
    case: tuple[int, int], target: int, bit: int
) -> None:
    index, size = case
    leaf, root = HASHES[index], ROOTS[size]
    proof = merkle.inclusion_proof_from_nodes(index, size, NODES)
    choice = target % (len(proof) + 2)
    if choice == 0:
        leaf = _flip(leaf, bit)
    elif choice == 1:
        root = _flip(root, bit)
    else:
        proof[choice - 2] = _flip(proof[choice - 2], bit)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(leaf, index, size, proof, root)


@st.composite
def consistency_case(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(1, new)), new


@settings(max_examples=300, deadline=None)
@given(case=consistency_case(), target=st.integers(0, 10_000), bit=st.integers(0, 255))
def test_any_flipped_bit_breaks_a_consistency_proof(
    case: tuple[int, int], target: int, bit: int
) -> None:
    old, new = case
    root1, root2 = ROOTS[old], ROOTS[new]
    proof = merkle.consistency_proof_from_nodes(old, new, NODES)
    choice = target % (len(proof) + 2)
    if choice == 0:
        root1 = _flip(root1, bit)
    elif choice == 1:
        root2 = _flip(root2, bit)
    else:
        proof[choice - 2] = _flip(proof[choice - 2], bit)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(old, new, proof, root1, root2)


@settings(max_examples=200, deadline=None)
@given(case=inclusion_case(), extra=st.binary(min_size=32, max_size=32), at=st.integers(0, 64))
def test_an_inserted_or_removed_hash_breaks_an_inclusion_proof(
    case: tuple[int, int], extra: bytes, at: int
) -> None:
    index, size = case
    proof = merkle.inclusion_proof_from_nodes(index, size, NODES)
    longer = [*proof]
    longer.insert(at % (len(proof) + 1), extra)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(HASHES[index], index, size, longer, ROOTS[size])
    if proof:
        shorter = [*proof]
        del shorter[at % len(proof)]
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(HASHES[index], index, size, shorter, ROOTS[size])


# The appender ----------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, MAX_SIZE), max_size=12))
def test_appending_in_any_batches_completes_the_same_nodes(cuts: list[int]) -> None:
    bounds = sorted({0, MAX_SIZE, *cuts})
    stored: dict[merkle.Node, bytes] = {}
    for start, end in itertools.pairwise(bounds):
        frontier = {node: stored[node] for node in merkle.root_nodes(start)}
        new = merkle.completed_nodes(start, frontier, HASHES[start:end])
        for level, idx, digest in new:
            assert (level, idx) not in stored
            assert (idx + 1) << level <= end
            stored[(level, idx)] = digest
        assert merkle.root_from_nodes(end, stored) == ROOTS[end]
    assert stored == NODES


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, MAX_SIZE))
def test_the_frontier_is_one_subtree_per_set_bit(size: int) -> None:
    nodes = merkle.root_nodes(size)
    assert len(nodes) == size.bit_count()
    assert sum(1 << level for level, _ in nodes) == size
    compact = merkle.CompactRange.from_nodes(size, NODES)
    assert compact.root() == ROOTS[size]
    assert compact.frontier() == {node: NODES[node] for node in nodes}
