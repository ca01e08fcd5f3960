"""Helpers for attack tests: post over HTTP, and check a refusal changed nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import msgpack

from ledger.encoding import encode
from ledger.envelope import Submission, signing_message
from ledger.keys import SignerKey
from server.app import SERVICES
from tests.factories import World

LOG_KEY = SignerKey.from_seed("hami.example/attack-log", bytes(range(32)))
STREAM = "contract/HM-ATTACK"
PROBLEM = "application/problem+json"


@dataclass
class Target:
    world: World
    client: Any  # aiohttp TestClient

    async def post(self, sub: Submission, *, as_msgpack: bool = False,
                   path: str = "/v1/events") -> tuple[int, dict[str, Any]]:
        if as_msgpack:
            response = await self.client.post(path, data=msgpack.packb(sub.to_msgpack_map()),
                                              headers={"Content-Type": "application/msgpack"})
        else:
            response = await self.client.post(path, json=sub.to_json_map())
        body = await response.json(content_type=None)
        if response.status >= 400:
            assert response.content_type == PROBLEM, response.content_type
        return response.status, body

    async def checkpoint(self) -> str:
        """A checkpoint of the current tree, signed now."""
        log = self.client.app[SERVICES].log
        await asyncio.to_thread(log.sign_checkpoint)
        response = await self.client.get("/v1/log/checkpoint")
        assert response.status == 200
        return str(await response.text())

    async def get_json(self, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
        response = await self.client.get(path, params={k: str(v) for k, v in params.items()})
        return response.status, await response.json(content_type=None)

    async def size(self) -> int:
        response = await self.client.get("/healthz")
        return int((await response.json())["tree_size"])

    async def refused(self, sub: Submission, status: int, code: str, *,
                      as_msgpack: bool = False) -> dict[str, Any]:
        """Post ``sub``; it must be refused with ``status``/``code`` and record nothing."""
        before = await self.size()
        got, body = await self.post(sub, as_msgpack=as_msgpack)
        assert (got, body.get("code")) == (status, code), body
        assert await self.size() == before, "a refused submission changed the log"
        return body


def pay(payment_id: str = "p1", **over: Any) -> dict[str, Any]:
    body = {"payment_id": payment_id, "milestone_id": "m1", "amount_fen": 100,
            "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": f"V-{payment_id}",
            "purpose": "principal"}
    body.update(over)
    return body


def envelope_map(world: World, key: SignerKey, **over: Any) -> dict[str, Any]:
    """A valid payment envelope as a map, for tests that need to bend its encoding."""
    env: dict[str, Any] = {
        "v": 1, "type": "payment.made", "stream": STREAM, "body": pay(), "signer": key.name,
        "signed_at": world.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"), "nonce": world.nonce()}
    env.update(over)
    return env


def signed_bytes(key: SignerKey, envelope: bytes) -> Submission:
    """``envelope`` exactly as given, with a valid signature by ``key``."""
    return Submission(envelope, key.sign(signing_message(envelope)))


def signed_map(key: SignerKey, envelope: dict[str, Any]) -> Submission:
    return signed_bytes(key, encode(envelope))
