"""Consistency-proof splicing: a proof made for another pair of trees, parts of two proofs
joined, or a proof from a forked tree must not convince ``merkle.verify_consistency`` or
``verify.verify_consistency_between``. A proof is accepted exactly when it is the honest
proof for the pair of trees in question."""

from __future__ import annotations

import itertools

import pytest

from ledger import merkle
from ledger.errors import LedgerError
from ledger.keys import SignerKey
from ledger.note import Checkpoint, sign_checkpoint
from ledger.verify import verify_consistency_between
from tests.attacks.support import LOG_KEY, STREAM, Target, pay

LOG = SignerKey.from_seed("hami.example/splice-log", bytes(range(1, 33)))
SIZES = range(1, 15)


def leaves(tag: bytes, count: int) -> list[bytes]:
    return [merkle.leaf_hash(tag + i.to_bytes(4, "big")) for i in range(count)]


def accepts(old: int, new: int, proof: list[bytes], hashes: list[bytes]) -> bool:
    try:
        merkle.verify_consistency(old, new, proof, merkle.root_from_leaf_hashes(hashes[:old]),
                                  merkle.root_from_leaf_hashes(hashes[:new]))
    except LedgerError:
        return False
    return True


HASHES = leaves(b"honest", max(SIZES))
PAIRS = [(m, n) for m, n in itertools.combinations(SIZES, 2)]
HONEST = {(m, n): merkle.consistency_proof(m, HASHES[:n]) for m, n in PAIRS}


def test_consistency_proof_splice_honest_proofs_verify() -> None:
    assert all(accepts(m, n, proof, HASHES) for (m, n), proof in HONEST.items())


def test_consistency_proof_splice_proof_from_a_different_pair_of_trees() -> None:
    for (m, n), (m2, n2) in itertools.permutations(PAIRS, 2):
        borrowed = HONEST[(m2, n2)]
        assert accepts(m, n, borrowed, HASHES) == (borrowed == HONEST[(m, n)]), (m, n, m2, n2)


def test_consistency_proof_splice_parts_of_two_proofs() -> None:
    tried = 0
    for (m, n), (m2, n2) in itertools.permutations(PAIRS, 2):
        a, b = HONEST[(m, n)], HONEST[(m2, n2)]
        for cut in range(1, max(len(a), len(b))):
            spliced = a[:cut] + b[cut:]
            if spliced != a:
                tried += 1
                assert not accepts(m, n, spliced, HASHES), (m, n, m2, n2, cut)
    assert tried > 5_000


def test_consistency_proof_splice_one_hash_from_a_forked_tree() -> None:
    """Proofs of a tree that differs from leaf ``fork`` on, hash by hash into honest ones."""
    for fork in (0, 3, 8, 13):
        forked = HASHES[:fork] + leaves(b"forked", max(SIZES) - fork)
        for m, n in PAIRS:
            theirs = merkle.consistency_proof(m, forked[:n])
            ours = HONEST[(m, n)]
            if len(theirs) != len(ours):
                continue
            for i in range(len(ours)):
                mixed = [*ours[:i], theirs[i], *ours[i + 1:]]
                assert accepts(m, n, mixed, HASHES) == (mixed == ours)
                assert accepts(m, n, mixed, forked) == (mixed == theirs)


def note(size: int, hashes: list[bytes]) -> str:
    return sign_checkpoint(Checkpoint(LOG.name, size, merkle.root_from_leaf_hashes(hashes[:size])),
                           LOG)


@pytest.mark.parametrize(("old", "new"), [(4, 9), (8, 14), (7, 13), (1, 2)])
def test_consistency_proof_splice_across_equivocating_checkpoints(old: int, new: int) -> None:
    """The log key signed a tree and a fork of it that rewrote leaf 0: no honest, borrowed
    or spliced proof shows the fork extends what a client already holds."""
    forked = leaves(b"forked", 1) + HASHES[1:]
    held, shown = note(old, HASHES), note(new, forked)
    candidates = [merkle.consistency_proof(old, HASHES[:new]),
                  merkle.consistency_proof(old, forked[:new])]
    candidates += [a[:cut] + b[cut:] for a, b in itertools.permutations(candidates[:2], 2)
                   for cut in range(1, len(a))]
    for proof in candidates:
        with pytest.raises(LedgerError):
            verify_consistency_between(held, shown, proof, LOG.verifier)
    verify_consistency_between(held, note(new, HASHES), candidates[0], LOG.verifier)


async def test_consistency_proof_splice_of_served_proofs(target: Target) -> None:
    """Proofs the server gave for other old sizes, or halves of two of them, do not link
    a checkpoint a client holds to the newest one."""
    w = target.world
    for i in range(12):
        assert (await target.post(w.sign(w.keys["finance"], "payment.made", STREAM,
                                         pay(f"s{i}"))))[0] == 201
    newest = await target.checkpoint()
    hashes = [merkle.leaf_hash(w.ledger.leaf(i) or b"") for i in range(await target.size())]
    proofs = {}
    for old in (3, 5, 9):
        status, body = await target.get_json("/v1/log/proof/consistency", **{"from": old})
        assert status == 200
        proofs[old] = [bytes.fromhex(h) for h in body["hashes"]]
    for old, proof in proofs.items():
        held = sign_checkpoint(Checkpoint(LOG_KEY.name, old,
                                          merkle.root_from_leaf_hashes(hashes[:old])), LOG_KEY)
        verify_consistency_between(held, newest, proof, LOG_KEY.verifier)
        for borrowed in proofs.values():
            spliced = proof[:len(proof) // 2] + borrowed[len(borrowed) // 2:]
            for attempt in (borrowed, spliced):
                if attempt != proof:
                    with pytest.raises(LedgerError):
                        verify_consistency_between(held, newest, attempt, LOG_KEY.verifier)
