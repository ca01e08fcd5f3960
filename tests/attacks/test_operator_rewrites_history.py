"""The server operator as adversary: rewriting a recorded payment in the database.

The checkpointer refuses to sign over a rewritten past (it checks the stored tree against
the last signed checkpoint first). An operator who also deletes the stored checkpoints can
sign a new one with the log key, but a client holding an older checkpoint then gets no
consistency proof that verifies, and the rewritten leaf's envelope signature fails."""

from __future__ import annotations

import asyncio

import pytest

from ledger import merkle
from ledger.checkpointer import LogIntegrityError, check_log
from ledger.errors import LedgerError
from ledger.store import DatabaseURL
from ledger.treestore import TreeStore
from ledger.verify import LeafInvalid, verify_checkpoint, verify_consistency_between, verify_leaf
from server.app import SERVICES
from tests.attacks.support import LOG_KEY, STREAM, Target, pay


def rewrite_leaf(url: str, index: int, old: bytes, new: bytes) -> None:
    """Change leaf ``index`` and rebuild every tree node, as a thorough adversary would."""
    conn = DatabaseURL.parse(url).connect()
    try:
        (leaf,) = conn.execute("SELECT leaf FROM leaves WHERE idx = ?", (index,)).fetchone()
        forged = bytes(leaf).replace(old, new)
        assert forged != bytes(leaf)
        conn.execute("UPDATE leaves SET leaf = ?, leaf_hash = ? WHERE idx = ?",
                     (forged, merkle.leaf_hash(forged), index))
        hashes = [bytes(h) for (h,) in conn.execute("SELECT leaf_hash FROM leaves ORDER BY idx")]
        conn.execute("DELETE FROM tree_nodes")
        TreeStore("sqlite").append(conn.cursor(), 0, hashes)
        conn.commit()
    finally:
        conn.close()


async def test_operator_rewrites_a_recorded_payment(target: Target) -> None:
    w = target.world
    receipts = []
    for i in range(8):
        status, receipt = await target.post(w.sign(w.keys["finance"], "payment.made", STREAM,
                                                   pay(f"h{i}", amount_fen=100)))
        assert status == 201
        receipts.append(receipt)
    held = await target.checkpoint()  # what a client kept
    for i in range(8, 11):
        assert (await target.post(w.sign(w.keys["finance"], "payment.made", STREAM,
                                         pay(f"h{i}"))))[0] == 201
    victim = receipts[2]["leaf_index"]
    rewrite_leaf(w.ledger.url_text, victim, b"V-h2", b"V-hX")
    log = target.client.app[SERVICES].log

    # 1. The log will not sign a tree that rewrites what it signed before.
    with pytest.raises(LogIntegrityError):
        await asyncio.to_thread(log.sign_checkpoint)

    # 2. With the stored checkpoints deleted too, a new one gets signed...
    conn = DatabaseURL.parse(w.ledger.url_text).connect()
    conn.execute("DELETE FROM checkpoints")
    conn.commit()
    conn.close()
    forged = await target.checkpoint()
    new = verify_checkpoint(forged, LOG_KEY.verifier)
    assert new.size == await target.size()
    # ... but the client holding the older one gets no proof that verifies,
    status, body = await target.get_json("/v1/log/proof/consistency",
                                         **{"from": verify_checkpoint(held, LOG_KEY.verifier).size})
    assert status == 200
    with pytest.raises(LedgerError):
        verify_consistency_between(held, forged, [bytes.fromhex(h) for h in body["hashes"]],
                                   LOG_KEY.verifier)
    # ... the receipt's leaf hash is gone from the log,
    status, body = await target.get_json("/v1/log/proof/inclusion",
                                         leaf_hash=receipts[2]["leaf_hash"])
    assert status == 404
    # ... and the rewritten envelope no longer verifies under the payer's key.
    leaf = w.ledger.leaf(victim)
    assert leaf is not None
    with pytest.raises(LeafInvalid, match="signature"):
        verify_leaf(leaf, w.keys["finance"].verifier, previous=bytes.fromhex(
            receipts[1]["leaf_hash"]))
    # The database's own audit sees nothing wrong: only outside evidence catches this.
    conn = DatabaseURL.parse(w.ledger.url_text).connect()
    try:
        assert check_log(conn.cursor(), "sqlite", LOG_KEY.verifier).ok
    finally:
        conn.close()
