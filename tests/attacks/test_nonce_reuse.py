"""Reusing a nonce: a signer's nonce names one envelope forever; another envelope under it
is a conflict (409 nonce_reused), alone or in a batch. Nonces are per signer."""

from __future__ import annotations

import msgpack

from tests.attacks.support import STREAM, Target, pay
from tests.factories import contract_body


async def test_nonce_reuse(target: Target) -> None:
    w = target.world
    nonce = b"\x42" * 16
    first = w.sign(w.keys["finance"], "payment.made", STREAM, pay("p1"), nonce=nonce)
    assert (await target.post(first))[0] == 201
    for body in (pay("p2"), pay("p1", amount_fen=999)):
        reused = w.sign(w.keys["finance"], "payment.made", STREAM, body, nonce=nonce)
        await target.refused(reused, 409, "nonce_reused")
    elsewhere = w.sign(w.keys["finance"], "payment.made", "contract/NEW", pay("p3"),
                       nonce=nonce)
    await target.refused(elsewhere, 409, "nonce_reused")
    # Later, with a fresh signed_at, still refused.
    w.clock.advance(days=6)
    await target.refused(w.sign(w.keys["finance"], "payment.made", STREAM, pay("p4"),
                                nonce=nonce), 409, "nonce_reused")


async def test_nonce_reuse_within_one_batch(target: Target) -> None:
    w = target.world
    nonce = b"\x43" * 16
    items = [w.sign(w.keys["finance"], "payment.made", STREAM, pay(p), nonce=nonce)
             for p in ("a", "b")]
    before = await target.size()
    response = await target.client.post(
        "/v1/events/batch", data=msgpack.packb([s.to_msgpack_map() for s in items]),
        headers={"Content-Type": "application/msgpack"})
    body = await response.json(content_type=None)
    assert response.status == 409, body
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "nonce_reused")]
    assert await target.size() == before


async def test_nonce_reuse_by_another_signer_is_not_reuse(target: Target) -> None:
    w = target.world
    nonce = b"\x44" * 16
    assert (await target.post(w.sign(w.keys["finance"], "payment.made", STREAM, pay(),
                                     nonce=nonce)))[0] == 201
    assert (await target.post(w.sign(w.keys["buyer"], "contract.signed", "contract/HM-N2",
                                     contract_body("HM-N2"), nonce=nonce)))[0] == 201
