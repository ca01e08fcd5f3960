"""A leaf presented as an interior node (the Merkle second-preimage attack).

Without domain separation the 64 bytes ``left || right`` of an interior node would hash,
as a leaf, to that node, so a tree of half the size would have the same root and
``left || right`` would "verify" at the parent's position. RFC 6962 hashes leaves as
SHA-256(0x00 || data) and nodes as SHA-256(0x01 || left || right), so it cannot."""

from __future__ import annotations

import hashlib

import pytest

from ledger import merkle
from ledger.errors import LedgerError
from ledger.note import Checkpoint, sign_checkpoint
from ledger.verify import verify_inclusion_in_checkpoint, verify_leaf_in_checkpoint
from tests.attacks.support import LOG_KEY, STREAM, Target, pay


def naive_root(items: list[bytes]) -> bytes:
    """The tree hash without prefixes: the construction this attack breaks."""
    level = [hashlib.sha256(x).digest() for x in items]
    while len(level) > 1:
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() if i + 1 < len(level)
                 else level[i] for i in range(0, len(level), 2)]
    return level[0]


DATA = [b"leaf-a", b"leaf-b", b"leaf-c", b"leaf-d"]
H = [merkle.leaf_hash(d) for d in DATA]
N01, N23 = merkle.node_hash(H[0], H[1]), merkle.node_hash(H[2], H[3])
ROOT = merkle.root_from_leaf_hashes(H)


def test_leaf_as_interior_node_would_work_without_domain_separation() -> None:
    """The attack is real for naive hashing: a 2-leaf tree of node bytes, same root."""
    h = [hashlib.sha256(d).digest() for d in DATA]
    assert naive_root([h[0] + h[1], h[2] + h[3]]) == naive_root(DATA)


def test_leaf_as_interior_node() -> None:
    forged = H[0] + H[1]  # 64 bytes: the children of N01
    assert len(forged) == 64
    assert merkle.leaf_hash(forged) != N01
    assert merkle.root_from_leaf_hashes([merkle.leaf_hash(forged),
                                         merkle.leaf_hash(H[2] + H[3])]) != ROOT
    # At the parent's position: index 0 of the 2-wide level, sibling N23.
    with pytest.raises(LedgerError):
        merkle.verify_inclusion(merkle.leaf_hash(forged), 0, 2, [N23], ROOT)
    # Nor at any position of the real tree, with any proof built from its nodes.
    checkpoint = sign_checkpoint(Checkpoint(LOG_KEY.name, 4, ROOT), LOG_KEY)
    for index in range(4):
        for proof in ([N23], [H[1], N23], [H[0], N23], [H[3], N01], [H[2], N01]):
            with pytest.raises(LedgerError):
                verify_leaf_in_checkpoint(forged, index, proof, checkpoint, LOG_KEY.verifier)
    # The honest leaf verifies with its honest proof.
    verify_leaf_in_checkpoint(DATA[0], 0, [H[1], N23], checkpoint, LOG_KEY.verifier)


def test_leaf_as_interior_node_hash_given_as_a_leaf_hash() -> None:
    """A node hash offered as a leaf hash is bound to the checkpoint's size: at size 4
    index 0 needs a path of two hashes, so the one-hash path from the parent fails."""
    checkpoint = sign_checkpoint(Checkpoint(LOG_KEY.name, 4, ROOT), LOG_KEY)
    for index in range(4):
        with pytest.raises(LedgerError):
            verify_inclusion_in_checkpoint(N01, index, [N23], checkpoint, LOG_KEY.verifier)


async def test_leaf_as_interior_node_against_the_served_log(target: Target) -> None:
    w = target.world
    for i in range(6):
        assert (await target.post(w.sign(w.keys["finance"], "payment.made", STREAM,
                                         pay(f"n{i}"))))[0] == 201
    newest = await target.checkpoint()
    size = await target.size()
    leaves = [w.ledger.leaf(i) or b"" for i in range(size)]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    parent = merkle.node_hash(hashes[0], hashes[1])
    forged = hashes[0] + hashes[1]
    for digest in (parent, merkle.leaf_hash(forged)):
        status, body = await target.get_json("/v1/log/proof/inclusion", leaf_hash=digest.hex())
        assert (status, body["code"]) == (404, "entry_not_found")
    status, proof = await target.get_json("/v1/log/proof/inclusion", index=0)
    assert status == 200
    honest = [bytes.fromhex(x) for x in proof["hashes"]]
    verify_leaf_in_checkpoint(leaves[0], 0, honest, newest, LOG_KEY.verifier)
    with pytest.raises(LedgerError):
        verify_leaf_in_checkpoint(forged, 0, honest[1:], newest, LOG_KEY.verifier)
    with pytest.raises(LedgerError):
        verify_leaf_in_checkpoint(forged, 0, honest, newest, LOG_KEY.verifier)
