"""Two ``ledger serve`` processes on one PostgreSQL database form one consistent log."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger import merkle
from ledger.cli import initialise
from ledger.config import Settings
from ledger.keys import SignerKey
from ledger.store import DatabaseURL
from ledger.verify import verify_checkpoint, verify_consistency_between
from tests.e2e.served_process import ServerProcess, start_server
from tests.factories import World, contract_body, make_world


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[World, list[ServerProcess]]]:
    world = make_world(postgres_url)
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    world.write_operator_key(settings)
    initialise(settings, out=lambda _: None)
    servers: list[ServerProcess] = []
    try:
        servers.append(start_server(tmp_path, database_url=postgres_url))
        servers.append(start_server(tmp_path, database_url=postgres_url))
        yield world, servers
    finally:
        for s in servers:
            s.stop()
        world.ledger.close()


def pay(pid: str) -> dict[str, Any]:
    return {"payment_id": pid, "amount_fen": 100, "paid_on": "2026-08-01",
            "method": "transfer", "voucher_ref": f"V-{pid}", "purpose": "principal",
            "milestone_id": "m1"}


async def test_writes_through_both_servers_form_one_log(
        two_servers: tuple[World, list[ServerProcess]], tmp_path: Path) -> None:
    world, servers = two_servers
    urls = [s.base_url for s in servers]
    subs = []
    for c in range(4):
        subs.append(world.sign(world.keys["buyer"], "contract.signed", f"contract/T{c}",
                               contract_body(f"T{c}")))
    for i in range(80):
        subs.append(world.sign(world.keys["finance"], "payment.made", f"contract/T{i % 4}",
                               pay(f"p{i}")))
    async with aiohttp.ClientSession() as http:
        async def post(i: int, sub: Any) -> dict[str, Any]:
            async with http.post(urls[i % 2] + "/v1/events", json=sub.to_json_map()) as r:
                assert r.status == 201, await r.text()
                return dict(await r.json())

        receipts = [await post(i, s) for i, s in enumerate(subs[:4])]
        receipts += await asyncio.gather(*(post(i, s) for i, s in enumerate(subs[4:])))
        # One log: dense indices, every receipt exactly once.
        indices = sorted(r["leaf_index"] for r in receipts)
        start = indices[0]
        assert indices == list(range(start, start + len(subs)))
        for c in range(4):
            versions = sorted(r["version"] for r in receipts if r["stream"] == f"contract/T{c}")
            assert versions == list(range(1, len(versions) + 1))
        # Each server answers for the whole log and can prove any receipt.
        size = start + len(subs)
        for url in urls:
            async with http.get(f"{url}/healthz") as r:
                assert (await r.json())["tree_size"] == size
        log_key = SignerKey.read(tmp_path / "keys" / "log.key").verifier
        await asyncio.sleep(0.5)  # both checkpointers have run
        notes = []
        for url in urls:
            async with http.get(f"{url}/v1/log/checkpoint") as r:
                notes.append(await r.text())
        checkpoints = [verify_checkpoint(n, log_key) for n in notes]
        assert all(c.size == size for c in checkpoints)
        assert checkpoints[0].root == checkpoints[1].root
        # The root recomputed from every entry matches the signed one.
        hashes = []
        for index in range(size):
            async with http.get(f"{urls[index % 2]}/v1/log/entries/{index}") as r:
                hashes.append(hashlib.sha256(b"\x00" + await r.read()).digest())
        assert merkle.root_from_leaf_hashes(hashes) == checkpoints[0].root
        # Every checkpoint either process signed is consistent with the newest.
        conn = DatabaseURL.parse(world.ledger.url_text).connect()
        try:
            stored = [row[0] for row in conn.execute("SELECT note FROM checkpoints ORDER BY size")]
        finally:
            conn.close()
        assert len(stored) >= 2
        for note in stored[:-1]:
            old = verify_checkpoint(note, log_key)
            if old.size == 0:
                continue
            async with http.get(f"{urls[1]}/v1/log/proof/consistency?from={old.size}"
                                f"&to={size}") as r:
                proof = [bytes.fromhex(h) for h in (await r.json())["hashes"]]
            verify_consistency_between(note, notes[0], proof, log_key)
