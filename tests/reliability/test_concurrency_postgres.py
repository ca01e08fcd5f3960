"""Several ``ledger serve`` processes on one PostgreSQL database, 16 concurrent clients
writing into the same streams with conflicting submissions.

Races: ``expect_version`` on one stream (each version is won by exactly one envelope, the
rest get 409 version_conflict and retry), the same payment_id signed by several clients
(one 201, the others 409 already_exists), the same nonce under different envelopes (one
201, the others 409 nonce_reused), and the identical submission sent to every server at
once (one 201, the others 200 with the same receipt). Afterwards the log is audited from
the database (every receipt once, dense indices, chains, signatures, roots) and each
server is checked to serve that same log, its checkpoints consistent with all others.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.envelope import Submission
from tests.e2e.served_process import ServerProcess, start_server
from tests.reliability.harness import (
    Acknowledged,
    LogAudit,
    ServedLog,
    Site,
    payment_body,
    payment_id_of,
    prepare_site,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

SERVERS = 2
CLIENTS = 16


@dataclass
class Cluster:
    site: Site
    servers: list[ServerProcess]
    http: aiohttp.ClientSession

    def url(self, n: int) -> str:
        return self.servers[n % len(self.servers)].base_url


@pytest.fixture
async def cluster(postgres_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    site = prepare_site(tmp_path / "data", postgres_url)
    servers: list[ServerProcess] = []
    try:
        for _ in range(SERVERS):
            servers.append(start_server(site.data_dir, database_url=postgres_url))
        connector = aiohttp.TCPConnector(limit=CLIENTS * 2)
        async with aiohttp.ClientSession(connector=connector) as http:
            yield Cluster(site, servers, http)
    finally:
        for server in servers:
            server.stop()


async def post(cluster: Cluster, n: int, sub: Submission) -> tuple[int, dict[str, Any]]:
    async with cluster.http.post(cluster.url(n) + "/v1/events", json=sub.to_json_map()) as r:
        return r.status, await r.json(content_type=None)


async def run_clients(work: list[Callable[[int], Awaitable[None]]]) -> None:
    """Run the jobs on ``CLIENTS`` concurrent clients; client ``n`` posts to server ``n``."""
    queue = list(reversed(work))

    async def client(n: int) -> None:
        while queue:
            await queue.pop()(n)

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))


async def check_one_log(cluster: Cluster, ack: Acknowledged) -> int:
    """Audit the database, then check that every server serves exactly that log."""
    site = cluster.site
    result = LogAudit(site.database_url, site.log_key, site.signer_keys()).run(ack)
    notes = []
    for server in cluster.servers:
        served = ServedLog(cluster.http, server.base_url, site.log_key)
        receipts = list(ack.receipts.values())[:20]
        notes.append(await served.verify_against(result, ack.checkpoints, receipts))
    # Checkpoints signed by different processes agree with each other too.
    first = ServedLog(cluster.http, cluster.servers[0].base_url, site.log_key)
    for a, b in itertools.pairwise(notes):
        await first.verify_consistency(a, b)
    return result.size


async def test_expect_version_races_on_one_stream(cluster: Cluster) -> None:
    """16 clients append to one stream, each signing the version it last read."""
    site, stream, per_client = cluster.site, "contract/R0", 6
    ack, statuses, versions = Acknowledged(), Counter[str](), Counter[int]()

    async def append(n: int, payment_id: str) -> None:
        while True:
            async with cluster.http.get(f"{cluster.url(n)}/v1/streams/{stream}") as r:
                seen = len((await r.json())["events"])
            sub = site.sign(site.finance, "payment.made", stream, payment_body(payment_id),
                            expect_version=seen)
            status, body = await post(cluster, n, sub)
            statuses[f"{status} {body.get('code', '')}".strip()] += 1
            if status == 201:
                assert body["version"] == seen + 1, (seen, body)
                versions[body["version"]] += 1
                ack.keep(payment_id, body)
                return
            assert (status, body.get("code")) == (409, "version_conflict"), body

    jobs: list[Callable[[int], Awaitable[None]]] = []
    for c in range(CLIENTS):
        for k in range(per_client):
            jobs.append(lambda n, p=f"ev-{c}-{k}": append(n, p))
    await run_clients(jobs)

    assert len(ack.receipts) == CLIENTS * per_client
    assert all(count == 1 for count in versions.values()), "a version was won twice"
    assert sorted(versions) == list(range(2, 2 + CLIENTS * per_client))
    assert statuses["409 version_conflict"] > 0, "the clients never raced"
    assert set(statuses) <= {"201", "409 version_conflict"}, statuses
    await check_one_log(cluster, ack)
    print(f"expect_version races: {dict(statuses)} over {len(cluster.servers)} servers")


async def test_conflicting_writes_from_16_clients(cluster: Cluster) -> None:
    """The same payment id, the same nonce, and plain payments, all at once."""
    site = cluster.site
    rng = random.Random(7)
    ack, outcomes = Acknowledged(), Counter[str]()
    contests: list[tuple[str, list[Submission]]] = []
    for i in range(24):  # one payment id, four different envelopes
        contract = site.contracts[i % len(site.contracts)]
        contests.append(("same_payment_id", [
            site.sign(site.finance, "payment.made", f"contract/{contract}",
                      {**payment_body(f"dup-{i}"), "voucher_ref": f"V-{i}-{v}"})
            for v in range(4)]))
    for i in range(24):  # one nonce, four different payments
        nonce = site.world.nonce()
        contract = site.contracts[i % len(site.contracts)]
        contests.append(("same_nonce", [
            site.sign(site.finance, "payment.made", f"contract/{contract}",
                      payment_body(f"nonce-{i}-{v}"), nonce=nonce) for v in range(4)]))
    plain = [site.payment(f"plain-{i}") for i in range(64)]

    rng.shuffle(contests)
    rng.shuffle(plain)
    results: dict[int, list[tuple[int, dict[str, Any], Submission]]] = {}

    async def contender(n: int, c: int, sub: Submission) -> None:
        status, body = await post(cluster, n, sub)
        results.setdefault(c, []).append((status, body, sub))

    async def single(n: int, sub: Submission) -> None:
        status, body = await post(cluster, n, sub)
        assert status == 201, body
        ack.keep(payment_id_of(sub), body)

    # Waves of 16 simultaneous posts: three contests (their four envelopes on alternate
    # servers) and four plain payments.
    for wave in range(len(contests) // 3):
        posts: list[tuple[int | None, Submission]] = [
            (c, sub) for c in range(3 * wave, 3 * wave + 3) for sub in contests[c][1]]
        posts += [(None, sub) for sub in plain[4 * wave:4 * wave + 4]]
        assert len(posts) == CLIENTS
        await asyncio.gather(*(single(n, sub) if c is None else contender(n, c, sub)
                               for n, (c, sub) in enumerate(posts)))

    for c, (kind, _) in enumerate(contests):
        answers = results[c]
        codes = sorted(f"{s} {b.get('code', '')}".strip() for s, b, _ in answers)
        outcomes.update(f"{kind} {code}" for code in codes)
        won = [(b, sub) for s, b, sub in answers if s == 201]
        assert len(won) == 1, f"{kind}: {codes}"
        body, sub = won[0]
        ack.keep(payment_id_of(sub), body)
        losers = [(s, b) for s, b, _ in answers if s != 201]
        code = "already_exists" if kind == "same_payment_id" else "nonce_reused"
        assert all((s, b.get("code")) == (409, code) for s, b in losers), losers
    size = await check_one_log(cluster, ack)
    audit = LogAudit(site.database_url, site.log_key, site.signer_keys())
    assert audit.run(ack).payments == len(ack.receipts) == 64 + 48
    print(f"conflicting writes: log size {size}; {dict(outcomes)}")


async def test_identical_submission_sent_to_every_server_at_once(cluster: Cluster) -> None:
    """Four copies of one submission, two per server, simultaneously: one 201 and three
    200 answers carrying that same receipt."""
    site, ack, contests = cluster.site, Acknowledged(), 96
    subs = [site.payment(f"same-{i}") for i in range(contests)]
    answers: dict[int, list[tuple[int, dict[str, Any]]]] = {i: [] for i in range(contests)}

    async def send(n: int, i: int) -> None:
        answers[i].append(await post(cluster, n, subs[i]))

    for wave in range(0, contests, 4):
        await asyncio.gather(*(send(n, wave + n // 4) for n in range(CLIENTS)))
    wrong = []
    for i, replies in answers.items():
        created = [body for status, body in replies if status == 201]
        assert len(created) == 1, replies
        ack.keep(f"same-{i}", created[0])
        if any(status != 200 or body != created[0]
               for status, body in replies if body is not created[0]):
            wrong.append(sorted(f"{s} {b.get('code', '')}".strip() for s, b in replies))
    await check_one_log(cluster, ack)  # nothing lost or duplicated, whatever the answers
    assert not wrong, f"{len(wrong)} of {contests} races answered wrongly: {wrong[:3]}"
    print(f"identical resends: {contests} races of 4 copies over {len(cluster.servers)} "
          f"servers, each one 201 and three 200 with the same receipt")
