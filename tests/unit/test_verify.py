"""Offline verification against signed checkpoints."""

from __future__ import annotations

import pytest

from ledger import merkle, verify
from ledger.errors import InvalidInput, VerificationError
from ledger.keys import SignerKey
from ledger.note import Checkpoint, NoteNotSigned, sign_checkpoint

LOG = SignerKey.from_seed("example.gov/ledger", bytes(range(32)))
OTHER = SignerKey.from_seed("example.gov/ledger", bytes(32))
LEAVES = [b"entry %d" % i for i in range(21)]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def _signed(size: int, key: SignerKey = LOG) -> str:
    root = merkle.root_from_leaf_hashes(HASHES[:size])
    return sign_checkpoint(Checkpoint("example.gov/ledger", size, root), key)


def test_checkpoint_needs_the_log_key() -> None:
    note = _signed(21)
    assert verify.verify_checkpoint(note, LOG.verifier.vkey).size == 21
    with pytest.raises(NoteNotSigned):
        verify.verify_checkpoint(note, OTHER.verifier)
    with pytest.raises(InvalidInput):
        verify.verify_checkpoint(note, "not a vkey")


def test_inclusion_of_every_leaf() -> None:
    note = _signed(21)
    for index in range(21):
        proof = merkle.inclusion_proof(index, HASHES)
        verify.verify_inclusion_in_checkpoint(HASHES[index], index, proof, note, LOG.verifier)
        verify.verify_leaf_in_checkpoint(LEAVES[index], index, proof, note, LOG.verifier)
    proof = merkle.inclusion_proof(3, HASHES)
    with pytest.raises(VerificationError):
        verify.verify_inclusion_in_checkpoint(HASHES[4], 3, proof, note, LOG.verifier)
    with pytest.raises(VerificationError, match="tree size 20"):
        verify.verify_inclusion_in_checkpoint(
            HASHES[3], 3, proof, note, LOG.verifier, tree_size=20
        )
    with pytest.raises(merkle.MalformedProof):
        verify.verify_inclusion_in_checkpoint(HASHES[3], 21, proof, note, LOG.verifier)


def test_inclusion_document_as_served() -> None:
    note = _signed(21)
    document = {
        "leaf_index": 5,
        "tree_size": 21,
        "leaf_hash": HASHES[5].hex(),
        "hashes": [h.hex() for h in merkle.inclusion_proof(5, HASHES)],
    }
    assert verify.verify_inclusion_document(document, note, LOG.verifier).size == 21
    with pytest.raises(InvalidInput, match="not hex"):
        verify.verify_inclusion_document({**document, "leaf_hash": "zz"}, note, LOG.verifier)
    with pytest.raises(InvalidInput):
        verify.verify_inclusion_document({**document, "hashes": "00"}, note, LOG.verifier)
    with pytest.raises(InvalidInput):
        verify.verify_inclusion_document({**document, "tree_size": "21"}, note, LOG.verifier)


def test_consistency_between_signed_checkpoints() -> None:
    for old in range(0, 22):
        proof = merkle.consistency_proof(old, HASHES) if old else []
        verify.verify_consistency_between(_signed(old), _signed(21), proof, LOG.verifier)
    with pytest.raises(InvalidInput, match="larger"):
        verify.verify_consistency_between(_signed(21), _signed(5), [], LOG.verifier)
    with pytest.raises(VerificationError, match="must be empty"):
        verify.verify_consistency_between(_signed(0), _signed(5), [HASHES[0]], LOG.verifier)
    forked = sign_checkpoint(Checkpoint("example.gov/ledger", 5, HASHES[0]), LOG)
    with pytest.raises(VerificationError):
        verify.verify_consistency_between(
            forked, _signed(21), merkle.consistency_proof(5, HASHES), LOG.verifier
        )
    empty_forged = sign_checkpoint(Checkpoint("example.gov/ledger", 0, HASHES[0]), LOG)
    with pytest.raises(VerificationError, match="empty-tree root"):
        verify.verify_consistency_between(empty_forged, _signed(21), [], LOG.verifier)
    # from empty to empty: the newer one's root is checked too
    verify.verify_consistency_between(_signed(0), _signed(0), [], LOG.verifier)
    with pytest.raises(VerificationError, match="empty-tree root"):
        verify.verify_consistency_between(_signed(0), empty_forged, [], LOG.verifier)


def test_entries_against_a_checkpoint() -> None:
    note = _signed(21)
    assert verify.verify_entries(LEAVES, note, LOG.verifier).size == 21
    with pytest.raises(verify.EntryMismatch) as caught:
        verify.verify_entries(LEAVES[:20], note, LOG.verifier)
    assert caught.value.index == 20
    with pytest.raises(verify.EntryMismatch):
        verify.verify_entries([*LEAVES, b"extra"], note, LOG.verifier)
    altered = [*LEAVES]
    altered[9] = b"other"
    with pytest.raises(verify.EntryMismatch) as caught:
        verify.verify_entries(altered, note, LOG.verifier, known_leaf_hashes={9: HASHES[9]})
    assert caught.value.index == 9
