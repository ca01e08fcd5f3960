"""Replaying a recorded submission, in any wire form, at any later time, alone or in a
batch: answered with the original receipt, nothing recorded twice."""

from __future__ import annotations

import msgpack

from tests.attacks.support import STREAM, Target, pay


async def test_replayed_submission(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay())
    status, receipt = await target.post(sub)
    assert status == 201
    size = await target.size()
    for as_msgpack in (False, True, False):
        assert await target.post(sub, as_msgpack=as_msgpack) == (200, receipt)
    # Days later, after signed_at left its window, the answer is the same.
    w.clock.advance(days=30)
    assert await target.post(sub) == (200, receipt)
    assert await target.size() == size


async def test_replayed_submission_inside_a_batch(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay())
    status, receipt = await target.post(sub)
    assert status == 201
    size = await target.size()
    fresh = w.sign(w.keys["finance"], "payment.made", STREAM, pay("p2"))
    batch = msgpack.packb([sub.to_msgpack_map(), fresh.to_msgpack_map(), sub.to_msgpack_map()])
    response = await target.client.post("/v1/events/batch", data=batch,
                                        headers={"Content-Type": "application/msgpack"})
    assert response.status == 201
    receipts = await response.json()
    assert receipts[0] == receipts[2] == receipt
    assert await target.size() == size + 1
    # The whole batch again: every item is a replay now.
    again = await target.client.post("/v1/events/batch", data=batch,
                                     headers={"Content-Type": "application/msgpack"})
    assert again.status == 200 and await again.json() == receipts
    assert await target.size() == size + 1


async def test_replayed_submission_with_its_signature_reencoded(target: Target) -> None:
    """The replay key is the envelope bytes; the same envelope travels as JSON base64 or
    msgpack bin and is one submission either way."""
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay())
    status, receipt = await target.post(sub, as_msgpack=True)
    assert status == 201
    response = await target.client.post("/v1/events", json={
        "signature": sub.to_json_map()["signature"], "envelope": sub.to_json_map()["envelope"]})
    assert response.status == 200 and await response.json() == receipt
