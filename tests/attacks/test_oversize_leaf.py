"""Oversize leaves: an envelope beyond 60,000 bytes (so its leaf could pass the 65,535
bytes an entry bundle can carry) is refused with 413, as is a body beyond the request
limit; a large envelope within the limit is recorded and its leaf fits a bundle."""

from __future__ import annotations

import io
from typing import Any

import msgpack

from ledger.envelope import MAX_ENVELOPE_BYTES
from tests.attacks.support import Target
from tests.factories import contract_body


def big_contract(contract_id: str, milestones: int) -> dict[str, Any]:
    return contract_body(contract_id, value_fen=milestones, milestones=[
        {"milestone_id": f"m{i}", "description": "x" * 4000, "amount_fen": 1}
        for i in range(milestones)])


async def test_oversize_leaf(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["buyer"], "contract.signed", "contract/HM-BIG", big_contract("HM-BIG", 16))
    assert len(sub.envelope_bytes) > MAX_ENVELOPE_BYTES
    for as_msgpack in (False, True):
        await target.refused(sub, 413, "too_large", as_msgpack=as_msgpack)


async def test_oversize_leaf_just_within_the_limit_is_recorded(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["buyer"], "contract.signed", "contract/HM-BIG", big_contract("HM-BIG", 14))
    assert 55_000 < len(sub.envelope_bytes) <= MAX_ENVELOPE_BYTES
    status, receipt = await target.post(sub)
    assert status == 201
    response = await target.client.get(f"/v1/log/entries/{receipt['leaf_index']}")
    assert len(await response.read()) <= 0xFFFF


async def test_oversize_request_body(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["buyer"], "contract.signed", "contract/HM-BIG", big_contract("HM-BIG", 14))
    before = await target.size()
    batch = msgpack.packb([sub.to_msgpack_map()] * 20)  # about 1.1 MiB
    response = await target.client.post("/v1/events/batch", data=io.BytesIO(batch),
                                        headers={"Content-Type": "application/msgpack"})
    assert response.status == 413 and response.content_type == "application/problem+json"
    assert (await response.json())["code"] == "too_large"
    assert await target.size() == before
