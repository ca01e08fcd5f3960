"""Inputs built to exhaust or crash a parser: huge integer literals, deep nesting, bodies
and batches beyond their limits. Each is a 4xx problem and records nothing."""

from __future__ import annotations

import io
from typing import Any

import msgpack
import pytest

from tests.attacks.support import PROBLEM, Target

JSON = "application/json"
MSGPACK = "application/msgpack"


async def send(target: Target, path: str, data: bytes, content_type: str
               ) -> tuple[int, dict[str, Any]]:
    before = await target.size()
    response = await target.client.post(path, data=io.BytesIO(data),
                                        headers={"Content-Type": content_type})
    assert response.content_type == PROBLEM
    body = await response.json(content_type=None)
    assert await target.size() == before
    return response.status, body


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch"])
@pytest.mark.parametrize("document", [
    b"1" * 5000,                                      # beyond Python's int digit limit
    b'{"envelope": ' + b"9" * 100_000 + b', "signature": "AA=="}',
    b"[" + b"-" + b"7" * 4301 + b"]",
    b'{"envelope": 1e999999, "signature": -1e999999}',
])
async def test_huge_integer_literals_in_json(target: Target, path: str, document: bytes) -> None:
    status, body = await send(target, path, document, JSON)
    assert status == 400, body


@pytest.mark.parametrize(("document", "content_type"), [
    (b"[" * 200_000 + b"]" * 200_000, JSON),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, JSON),
    (b"\x91" * 200_000 + b"\xc0", MSGPACK),
    (b"\x81\xa1a" * 100_000 + b"\xc0", MSGPACK),
])
async def test_deep_nesting(target: Target, document: bytes, content_type: str) -> None:
    for path in ("/v1/events", "/v1/events/batch"):
        status, body = await send(target, path, document, content_type)
        assert status == 400, body


@pytest.mark.parametrize("content_type", [JSON, MSGPACK])
async def test_body_beyond_the_request_limit(target: Target, content_type: str) -> None:
    status, body = await send(target, "/v1/events", b" " * (2 << 20), content_type)
    assert (status, body["code"]) == (413, "too_large")


async def test_batch_beyond_its_item_limit(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", "contract/HM-ATTACK", {
        "payment_id": "b", "milestone_id": "m1", "amount_fen": 1, "paid_on": "2026-08-01",
        "method": "transfer", "voucher_ref": "V", "purpose": "principal"})
    batch = msgpack.packb([sub.to_msgpack_map()] * 1001)
    status, body = await send(target, "/v1/events/batch", batch, MSGPACK)
    assert (status, body["code"]) == (413, "too_large")


@pytest.mark.parametrize("header", [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff",
                                    b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"])
async def test_msgpack_lengths_claiming_four_gigabytes(target: Target, header: bytes) -> None:
    status, body = await send(target, "/v1/events", header + b"\x00" * 16, MSGPACK)
    assert status == 400, body
