"""Crash safety: ``ledger serve`` killed with SIGKILL under sustained ingest, restarted,
and audited, round after round, on SQLite and on PostgreSQL.

Each round: clients post distinct signed payments as fast as the server takes them (single
posts as JSON and msgpack, all-or-nothing batches, and posts that wait for a checkpoint);
after a seeded random delay the server is killed mid-flight. With the server dead the
database is audited (``LogAudit``): every receipt a client received is in the log exactly
once at the index and hash it names, indices are dense, every leaf re-hashes and its
signature and stream chain verify, every stored checkpoint is the root of the leaves.
The server is restarted and what it serves is verified offline (``ServedLog``): its new
checkpoint has the audited root, every older checkpoint (stored, or shown to a client)
is consistent with it, entry bundles rebuild it. Requests whose answer was lost with the
crash are then sent again: recorded ones answer 200 with their original receipt, others
are recorded now (201), and a batch is either wholly present or wholly absent.

Default: 10 rounds per backend, about a second of load each. Longer soak runs:
``LEDGER_SOAK_ROUNDS=200 .venv/bin/python -m pytest tests/reliability/test_crash_safety.py``
(``LEDGER_SOAK_SEED`` picks another sequence of kill times).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest

from ledger import merkle
from ledger.application import Ledger
from ledger.envelope import Submission
from ledger.keys import SignerKey
from ledger.log import Log
from ledger.store import DatabaseURL
from ledger.verify import verify_inclusion_document
from tests.e2e.served_process import ServerProcess, start_server
from tests.reliability.harness import (
    Acknowledged,
    ConsistencyHistory,
    LogAudit,
    ServedLog,
    Site,
    env_int,
    payment_id_of,
    prepare_site,
    sample,
    wait_until_quiet,
)

ROUNDS = env_int("LEDGER_SOAK_ROUNDS", 10)
SEED = env_int("LEDGER_SOAK_SEED", 20261126)
SINGLE_CLIENTS = 6
BATCH_SIZE = 4
# Kill delays are drawn from this range (seconds after the clients start).
KILL_AFTER = (0.15, 1.2)

Pending = tuple[str, list[Submission]]  # ("single" | "batch" | "wait", submissions)


@dataclass
class Soak:
    site: Site
    rng: random.Random
    ack: Acknowledged = field(default_factory=Acknowledged)
    in_doubt: list[Pending] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    rounds: int = 0
    in_doubt_total: int = 0
    in_doubt_found: int = 0
    posted: int = 0
    load_seconds: float = 0.0

    def next_payment(self, client: str) -> Submission:
        return self.site.payment(f"{client}-{next(self.ids)}")


class ServerGone(Exception):
    """The connection failed: the answer (if any) died with the server."""


async def send(http: aiohttp.ClientSession, base_url: str, kind: str,
               subs: list[Submission], *, as_msgpack: bool) -> tuple[int, Any]:
    if kind == "batch":
        url = base_url + "/v1/events/batch"
        items: Any = [s.to_msgpack_map() if as_msgpack else s.to_json_map() for s in subs]
    else:
        url = base_url + "/v1/events" + ("?wait=checkpoint" if kind == "wait" else "")
        items = subs[0].to_msgpack_map() if as_msgpack else subs[0].to_json_map()
    try:
        if as_msgpack:
            response = await http.post(url, data=msgpack.packb(items, use_bin_type=True),
                                       headers={"Content-Type": "application/msgpack"})
        else:
            response = await http.post(url, json=items)
        async with response:
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
            TimeoutError) as exc:
        raise ServerGone(str(exc)) from exc


def accept(soak: Soak, kind: str, subs: list[Submission], status: int, body: Any, *,
           expected: set[int]) -> None:
    """Keep the receipts of an answer; anything but the expected statuses is a failure."""
    soak.ack.statuses[status] += 1
    if status not in expected:
        soak.ack.unexpected.append(f"{kind}: status {status}: {body}")
        return
    receipts = body if kind == "batch" else [body]
    for sub, receipt in zip(subs, receipts, strict=True):
        soak.ack.keep(payment_id_of(sub), receipt)
    if kind == "wait":
        soak.ack.checkpoints.append(body["checkpoint"])
        verify_inclusion_document(body["inclusion"], body["checkpoint"], soak.site.log_key)


async def client(soak: Soak, http: aiohttp.ClientSession, base_url: str, *, kind: str,
                 name: str, stop: asyncio.Event, as_msgpack: bool) -> None:
    while not stop.is_set():
        size = BATCH_SIZE if kind == "batch" else 1
        subs = [soak.next_payment(name) for _ in range(size)]
        soak.posted += size
        try:
            status, body = await send(http, base_url, kind, subs, as_msgpack=as_msgpack)
        except ServerGone:
            soak.in_doubt.append((kind, subs))
            return
        accept(soak, kind, subs, status, body, expected={201})


async def load_until_killed(soak: Soak, server: ServerProcess) -> float:
    """Clients post until the server is SIGKILLed at a random moment; returns the delay."""
    delay = soak.rng.uniform(*KILL_AFTER)
    stop = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        plan = [("single", f"s{i}", bool(i % 2)) for i in range(SINGLE_CLIENTS)]
        plan += [("batch", "b", True), ("wait", "w", False)]
        tasks = [asyncio.create_task(client(soak, http, server.base_url, kind=kind, name=name,
                                            stop=stop, as_msgpack=as_msgpack))
                 for kind, name, as_msgpack in plan]
        await asyncio.sleep(delay)
        server.process.kill()  # SIGKILL: no shutdown code runs
        stop.set()
        await asyncio.to_thread(server.process.wait)
        await asyncio.gather(*tasks)
    return delay


async def resend_in_doubt(soak: Soak, base_url: str, recorded: Callable[[str], bool]) -> None:
    """Send again what the crash left unanswered; batches are all there or none."""
    pending, soak.in_doubt = soak.in_doubt, []
    async with aiohttp.ClientSession() as http:
        for kind, subs in pending:
            present = [recorded(payment_id_of(s)) for s in subs]
            assert all(present) or not any(present), (
                f"a batch was partly recorded: {present}")
            soak.in_doubt_total += len(subs)
            soak.in_doubt_found += sum(present)
            status, body = await send(http, base_url, kind, subs, as_msgpack=False)
            accept(soak, kind, subs, status, body,
                   expected={200} if all(present) else {201})


async def soak_rounds(site: Site, rounds: int, seed: int) -> Soak:
    soak = Soak(site, random.Random(seed))
    audit = LogAudit(site.database_url, site.log_key, site.signer_keys())
    history = ConsistencyHistory()
    server = start_server(site.data_dir, database_url=site.database_url)
    try:
        for _ in range(rounds):
            soak.load_seconds += await load_until_killed(soak, server)
            soak.rounds += 1
            wait_until_quiet(site.database_url)
            result = audit.run(soak.ack)  # the server is dead: this is what survived
            server = start_server(site.data_dir, database_url=site.database_url)
            async with aiohttp.ClientSession() as http:
                served = ServedLog(http, server.base_url, site.log_key)
                await served.verify_against(result, soak.ack.checkpoints,
                                            sample(soak.rng, soak.ack.receipts, 10), history)
            await resend_in_doubt(soak, server.base_url,
                                  lambda p: p in audit.payment_index)
            audit.run(soak.ack)
        return soak
    finally:
        server.stop()


def report(backend: str, soak: Soak, audit_size: int, seconds: float) -> str:
    acknowledged = len(soak.ack.receipts)
    return (f"{backend}: {soak.rounds} SIGKILL rounds in {seconds:.1f}s "
            f"({soak.load_seconds:.1f}s under load, "
            f"{acknowledged / max(soak.load_seconds, 1e-9):.0f} payments/s); "
            f"{soak.posted} payments posted, {acknowledged} acknowledged and all present "
            f"exactly once; {soak.in_doubt_total} in doubt at a kill, "
            f"{soak.in_doubt_found} of them had been recorded; log size {audit_size}; "
            f"{len(soak.ack.checkpoints)} checkpoints shown to clients, all consistent; "
            f"statuses {dict(soak.ack.statuses)}")


async def run_soak(backend: str, data_dir: Path, database_url: str) -> None:
    started = time.monotonic()
    site = prepare_site(data_dir, database_url)
    soak = await soak_rounds(site, ROUNDS, SEED)
    final = LogAudit(database_url, site.log_key, site.signer_keys()).run(soak.ack)
    assert soak.rounds == ROUNDS
    assert not soak.ack.unexpected, soak.ack.unexpected[:5]
    assert len(soak.ack.receipts) > 0 and final.payments == len(soak.ack.receipts)
    print(report(backend, soak, final.size, time.monotonic() - started))


@pytest.mark.timeout(600)
async def test_sigkill_under_load_sqlite(tmp_path: Path) -> None:
    await run_soak("sqlite", tmp_path / "data",
                   f"sqlite:///{(tmp_path / 'data' / 'ledger.sqlite3').resolve()}")


@pytest.mark.postgres
@pytest.mark.timeout(600)
async def test_sigkill_under_load_postgres(tmp_path: Path, postgres_url: str) -> None:
    await run_soak("postgres", tmp_path / "data", postgres_url)


def test_the_audit_is_not_vacuous(tmp_path: Path) -> None:
    """The auditor itself fails on a lost receipt, a rewritten leaf and a missing leaf."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    site = prepare_site(tmp_path / "data", url)
    ledger = Ledger(url)
    log = Log(ledger, SignerKey.read(site.data_dir / "keys" / "log.key"))
    ack = Acknowledged()
    for i in range(5):
        outcome = ledger.record(site.payment(f"p{i}"))
        ack.keep(f"p{i}", outcome.receipt.to_json())
    log.sign_checkpoint()
    ledger.close()
    audit = LogAudit(url, site.log_key, site.signer_keys())
    audit.run(ack)

    lost = Acknowledged(receipts={**ack.receipts, "ghost": ack.receipts["p0"]})
    with pytest.raises(AssertionError, match="ghost was lost"):
        LogAudit(url, site.log_key, site.signer_keys()).run(lost)

    conn = DatabaseURL.parse(url).connect()
    last = int(conn.execute("SELECT MAX(idx) FROM leaves").fetchone()[0])
    (leaf,) = conn.execute("SELECT leaf FROM leaves WHERE idx = ?", (last,)).fetchone()
    forged = bytes(leaf).replace(b"V-p4", b"V-p5")
    conn.execute("UPDATE leaves SET leaf = ?, leaf_hash = ? WHERE idx = ?",
                 (forged, merkle.leaf_hash(forged), last))
    conn.commit()
    with pytest.raises(AssertionError, match="not append-only"):
        audit.run(ack)
    with pytest.raises(AssertionError, match="check_log found problems"):
        LogAudit(url, site.log_key, site.signer_keys()).run(ack)

    conn.execute("DELETE FROM leaves WHERE idx = ?", (last,))
    conn.commit()
    conn.close()
    with pytest.raises(AssertionError):
        LogAudit(url, site.log_key, site.signer_keys()).run(ack)
