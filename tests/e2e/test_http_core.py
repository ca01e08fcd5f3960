"""The HTTP API over a real socket: recording, receipts, proofs, tiles, streams, errors."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import io
import sqlite3
import time
from typing import Any

import msgpack
import psycopg
import pytest
from eventsourcing import persistence

from ledger import merkle
from ledger.verify import verify_consistency_between, verify_inclusion_document
from server.app import SERVICES
from tests.e2e.conftest import Served
from tests.factories import SUPPLIER_ID, contract_body

STREAM = "contract/HM-2026-001"


def pay(pid: str, amount: int = 100) -> dict[str, Any]:
    return {"payment_id": pid, "milestone_id": "m1", "amount_fen": amount,
            "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": f"V-{pid}",
            "purpose": "principal"}


async def post(s: Served, sub: Any, *, as_msgpack: bool = False, query: str = "") -> Any:
    if as_msgpack:
        return await s.client.post("/v1/events" + query, data=msgpack.packb(
            sub.to_msgpack_map()), headers={"Content-Type": "application/msgpack"})
    return await s.client.post("/v1/events" + query, json=sub.to_json_map())


async def test_record_json_and_msgpack_and_idempotency(served: Served) -> None:
    w = served.world
    signed = w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body())
    r = await post(served, signed)
    assert r.status == 201, await r.text()
    receipt = await r.json()
    assert set(receipt) == {"leaf_index", "leaf_hash", "stream", "version", "recorded_at"}
    again = await post(served, signed, as_msgpack=True)
    assert again.status == 200
    assert await again.json() == receipt
    counter = w.sign(w.keys["supplier"], "contract.countersigned", STREAM,
                     {"party_id": SUPPLIER_ID})
    r2 = await post(served, counter, as_msgpack=True)
    assert r2.status == 201
    assert (await r2.json())["leaf_index"] == receipt["leaf_index"] + 1


async def test_wait_for_checkpoint_returns_a_verifiable_inclusion_proof(served: Served) -> None:
    w = served.world
    r = await post(served, w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body()),
                   query="?wait=checkpoint")
    assert r.status == 201
    body = await r.json()
    checkpoint = verify_inclusion_document(body["inclusion"], body["checkpoint"],
                                           served.log_key.verifier.vkey)
    assert checkpoint.size > body["leaf_index"]
    assert body["inclusion"]["leaf_hash"] == body["leaf_hash"]
    key = await (await served.client.get("/v1/log/key")).text()
    assert key.strip() == served.log_key.verifier.vkey


async def test_concurrent_waits_for_a_checkpoint_share_the_signing(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty clients asking for a checkpoint over their payment at once are served by a
    few signings, not twenty (each re-checks the grown tree on a worker thread, where it
    would hold up recording); every answer still proves its own leaf."""
    w = served.world
    svc = served.client.app[SERVICES]
    signings: list[int] = []
    real = svc.log.sign_checkpoint

    def counted() -> Any:
        signings.append(1)
        return real()

    monkeypatch.setattr(svc.log, "sign_checkpoint", counted)
    r = await post(served, w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body()))
    assert r.status == 201
    responses = await asyncio.gather(*(
        post(served, w.sign(w.keys["finance"], "payment.made", STREAM, pay(f"w{i}")),
             query="?wait=checkpoint") for i in range(20)))
    assert [r.status for r in responses] == [201] * 20
    for response in responses:
        body = await response.json()
        checkpoint = verify_inclusion_document(body["inclusion"], body["checkpoint"],
                                               served.log_key.verifier.vkey)
        assert checkpoint.size > body["leaf_index"]
    assert 1 <= len(signings) <= 5, len(signings)


async def test_proofs_entries_and_tiles_agree(served: Served) -> None:
    w = served.world
    first = await (await served.client.get("/v1/log/checkpoint")).text()
    await post(served, w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body()))
    for i in range(5):
        await post(served, w.sign(w.keys["finance"], "payment.made", STREAM, pay(f"p{i}")))
    r = await post(served, w.sign(w.keys["finance"], "payment.made", STREAM, pay("p9")),
                   query="?wait=checkpoint")
    second = (await r.json())["checkpoint"]
    size1 = int(first.split("\n")[1])
    size2 = int(second.split("\n")[1])
    proof = await (await served.client.get(
        f"/v1/log/proof/consistency?from={size1}&to={size2}")).json()
    verify_consistency_between(first, second, [bytes.fromhex(h) for h in proof["hashes"]],
                               served.log_key.verifier.vkey)
    # Every entry hashes to the leaf hash the inclusion proof names, and verifies.
    for index in range(size2):
        leaf = await (await served.client.get(f"/v1/log/entries/{index}")).read()
        leaf_hash = hashlib.sha256(b"\x00" + leaf).hexdigest()
        doc = await (await served.client.get(
            f"/v1/log/proof/inclusion?leaf_hash={leaf_hash}&tree_size={size2}")).json()
        assert doc["leaf_index"] == index
        verify_inclusion_document(doc, second, served.log_key.verifier.vkey)
    # The level-0 tile holds the leaf hashes; the entry bundle holds the leaves.
    tile = await (await served.client.get(f"/v1/log/tile/0/000.p/{size2}")).read()
    assert len(tile) == 32 * size2
    hashes = [tile[i:i + 32] for i in range(0, len(tile), 32)]
    assert merkle.root_from_leaf_hashes(hashes) == base64.b64decode(second.split("\n")[2])
    bundle = await (await served.client.get(f"/v1/log/tile/entries/000.p/{size2}")).read()
    pos, count = 0, 0
    while pos < len(bundle):
        n = int.from_bytes(bundle[pos:pos + 2], "big")
        assert hashlib.sha256(b"\x00" + bundle[pos + 2:pos + 2 + n]).digest() == hashes[count]
        pos, count = pos + 2 + n, count + 1
    assert count == size2


async def test_tiles_are_cacheable_and_the_checkpoint_is_not(served: Served) -> None:
    """C2SP tlog-tiles: the checkpoint is mutable (no caching beyond a few seconds);
    tiles and entry bundles are immutable (long-lived caching), and entry bundles are
    compressed at the HTTP layer."""
    w = served.world
    await post(served, w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body()),
               query="?wait=checkpoint")
    checkpoint = await served.client.get("/v1/log/checkpoint")
    assert checkpoint.headers["Cache-Control"] == "no-cache"
    size = int((await checkpoint.text()).split("\n")[1])
    for path in (f"/v1/log/tile/0/000.p/{size}", f"/v1/log/tile/entries/000.p/{size}"):
        r = await served.client.get(path, headers={"Accept-Encoding": "gzip"})
        assert r.status == 200
        assert "immutable" in r.headers["Cache-Control"]
        assert "max-age=31536000" in r.headers["Cache-Control"]
        expected = "gzip" if "entries" in path else None
        assert r.headers.get("Content-Encoding") == expected, path
        assert len(await r.read()) > 0


async def test_stream_as_known_at_a_tree_size(served: Served) -> None:
    w = served.world
    r1 = await (await post(served, w.sign(w.keys["buyer"], "contract.signed", STREAM,
                                          contract_body()))).json()
    await post(served, w.sign(w.keys["finance"], "payment.made", STREAM, pay("p1")))
    full = await (await served.client.get(f"/v1/streams/{STREAM}")).json()
    assert [e["type"] for e in full["events"]] == ["contract.signed", "payment.made"]
    assert full["events"][1]["prev"] == full["events"][0]["leaf_hash"]
    assert full["events"][0]["signer"] == w.keys["buyer"].name
    then = await (await served.client.get(
        f"/v1/streams/{STREAM}?at={r1['leaf_index'] + 1}")).json()
    assert [e["type"] for e in then["events"]] == ["contract.signed"]
    before = await served.client.get(f"/v1/streams/{STREAM}?at={r1['leaf_index']}")
    assert before.status == 404


async def test_error_statuses_are_problem_json(served: Served) -> None:
    c = served.client
    size = int((await (await c.get("/v1/log/checkpoint")).text()).split("\n")[1])
    cases = [
        ("/v1/log/proof/consistency?from=0", 400),
        (f"/v1/log/proof/consistency?from=2&to={size + 5}", 400),
        ("/v1/log/proof/consistency?from=5&to=3", 400),
        (f"/v1/log/proof/inclusion?index=0&tree_size={size + 1}", 400),
        ("/v1/log/proof/inclusion?leaf_hash=" + "00" * 32, 404),
        ("/v1/log/proof/inclusion?leaf_hash=xyz", 400),
        ("/v1/log/proof/inclusion", 400),
        (f"/v1/streams/{STREAM}?at={size + 1}", 400),
        ("/v1/streams/contract/nope", 404),
        ("/v1/streams/bogus/x", 400),
        ("/v1/log/entries/999999", 404),
        ("/v1/log/entries/-1", 400),
        ("/v1/log/tile/0/x", 400),
        ("/v1/nowhere", 404),
    ]
    for path, status in cases:
        r = await c.get(path)
        assert r.status == status, (path, r.status, await r.text())
        assert r.content_type == "application/problem+json", path
        body = await r.json()
        assert body["status"] == status and body["title"]


async def test_bad_submissions(served: Served) -> None:
    c = served.client
    w = served.world
    r = await c.post("/v1/events", data=b"\xc1", headers={"Content-Type": "application/msgpack"})
    assert r.status == 400 and r.content_type == "application/problem+json"
    r = await c.post("/v1/events", data=io.BytesIO(b"x" * (2 << 20)),
                     headers={"Content-Type": "application/json"})
    assert r.status == 413
    r = await c.post("/v1/events", data=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status == 415
    forged = w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body())
    body = forged.to_json_map()
    body["signature"] = base64.b64encode(bytes(64)).decode()
    r = await c.post("/v1/events", json=body)
    assert r.status == 401
    assert (await r.json())["code"] == "bad_signature"


async def test_batch_receipts_and_itemised_errors(served: Served) -> None:
    w = served.world
    c = served.client
    signed = w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body())
    pays = [w.sign(w.keys["finance"], "payment.made", STREAM, pay(f"p{i}")) for i in range(3)]
    over = w.sign(w.keys["finance"], "payment.made", STREAM, pay("big", 10**11))
    r = await c.post("/v1/events/batch", json=[s.to_json_map() for s in [signed, *pays, over]])
    assert r.status == 422
    problem = await r.json()
    assert [e["index"] for e in problem["errors"]] == [4]
    assert problem["errors"][0]["rule"] == "OVERPAYMENT"
    r = await c.post("/v1/events/batch", data=msgpack.packb(
        [s.to_msgpack_map() for s in [signed, *pays]]),
        headers={"Content-Type": "application/msgpack"})
    assert r.status == 201
    receipts = await r.json()
    assert [x["version"] for x in receipts] == [1, 2, 3, 4]
    assert [x["leaf_index"] for x in receipts] == list(range(receipts[0]["leaf_index"],
                                                             receipts[0]["leaf_index"] + 4))


async def test_batch_errors_name_every_failing_item(served: Served) -> None:
    """DESIGN 6: the error names each failing item. A malformed item hid the refusals
    of the well-formed ones (only the malformed were listed); they are now decided as
    the batch would be without it, and nothing is recorded."""
    w = served.world
    c = served.client
    signed = w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body()).to_json_map()
    forged = w.sign(w.keys["finance"], "payment.made", STREAM, pay("f1")).to_json_map()
    forged["signature"] = base64.b64encode(bytes(64)).decode()
    size = (await (await c.get("/healthz")).json())["tree_size"]
    r = await c.post("/v1/events/batch", json=[
        {"envelope": "not base64!", "signature": forged["signature"]}, signed, forged])
    assert r.status == 400
    errors = (await r.json())["errors"]
    assert [(e["index"], e["code"]) for e in errors] == [(0, "wrong_type"),
                                                         (2, "bad_signature")]
    assert (await (await c.get("/healthz")).json())["tree_size"] == size
    # The well-formed items are not recorded by the check: the batch goes through later.
    r = await c.post("/v1/events/batch", json=[signed])
    assert r.status == 201


async def test_a_msgpack_map_mixing_text_and_binary_keys_is_400(served: Served) -> None:
    w = served.world
    sub = w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body())
    odd = {**sub.to_msgpack_map(), b"extra": b"x", "another": 1}
    for path, document in (("/v1/events", odd), ("/v1/events/batch", [odd])):
        r = await served.client.post(path, data=msgpack.packb(document),
                                     headers={"Content-Type": "application/msgpack"})
        assert r.status == 400, (path, await r.text())
        assert r.content_type == "application/problem+json"


async def test_concurrent_posts_share_transactions(served: Served) -> None:
    w = served.world
    await post(served, w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body()))
    subs = [w.sign(w.keys["finance"], "payment.made", STREAM, pay(f"c{i}")) for i in range(60)]
    responses = await asyncio.gather(*(post(served, s) for s in subs))
    receipts = [await r.json() for r in responses]
    assert all(r.status == 201 for r in responses)
    indices = sorted(x["leaf_index"] for x in receipts)
    assert indices == list(range(indices[0], indices[0] + 60))
    assert sorted(x["version"] for x in receipts) == list(range(2, 62))
    metrics = await (await served.client.get("/metrics")).text()
    assert "ledger_group_commit_submissions_count" in metrics
    groups = float(next(line.split()[-1] for line in metrics.splitlines()
                        if line.startswith("ledger_group_commit_submissions_count")))
    assert groups < 61  # fewer transactions than submissions
    for name in ("ledger_http_requests_total", "ledger_events_recorded_total",
                 "ledger_tree_size", "ledger_checkpoint_age_seconds"):
        assert name in metrics


@pytest.mark.parametrize("failure", [
    sqlite3.OperationalError("database or disk is full"),
    psycopg.OperationalError("connection failed: the server is down"),
    persistence.OperationalError("could not connect"),
])
async def test_a_database_that_is_away_or_full_is_503_everywhere(
        served: Served, monkeypatch: pytest.MonkeyPatch, failure: Exception) -> None:
    """The batch route, stream and read-model queries at a tree size, and /healthz
    answered 500 when the database was unreachable or full (single submissions, through
    the group commit, already answered 503)."""
    w = served.world
    svc = served.client.app[SERVICES]

    def away(*_: Any, **__: Any) -> Any:
        raise failure

    monkeypatch.setattr(svc.ledger, "record_batch", away)
    monkeypatch.setattr(svc.ledger, "size", away)
    batch = [w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body()).to_json_map()]
    for method, path, body in (("POST", "/v1/events/batch", batch),
                               ("GET", f"/v1/streams/{STREAM}?at=1", None),
                               ("GET", "/v1/arrears?as_of=2026-11-30&at=1", None),
                               ("GET", "/healthz", None)):
        r = await served.client.request(method, path, json=body)
        assert r.status == 503, (path, await r.text())
        assert r.content_type == "application/problem+json"
        assert "database is unavailable" in (await r.json())["detail"]


async def test_a_tree_size_check_waiting_on_the_database_does_not_stall_the_server(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """?at=N looks up the log size off the event loop: waiting there for a connection
    (the database away) held every other request of the process for the pool's timeout."""
    svc = served.client.app[SERVICES]
    real_size = svc.ledger.size

    def slow_size() -> int:
        time.sleep(1.5)
        return real_size()

    monkeypatch.setattr(svc.ledger, "size", slow_size)
    started = time.monotonic()
    slow = asyncio.ensure_future(served.client.get(f"/v1/streams/{STREAM}?at=0"))
    await asyncio.sleep(0.2)  # (returns only once the loop is free again)
    r = await served.client.get("/v1/openapi.json")
    assert r.status == 200
    assert time.monotonic() - started < 1.2  # not behind the 1.5 s size lookup
    assert (await slow).status in (200, 404)


async def _raw_exchange(served: Served, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` as it is; the response head and body."""
    reader, writer = await asyncio.open_connection(served.client.host, served.client.port)
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return head, await asyncio.wait_for(reader.readexactly(length), 5)
    finally:
        writer.close()


async def test_a_body_that_stops_coming_is_answered_408_and_the_connection_closed(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that announced 100 bytes and sent one held its connection and handler
    for as long as it liked."""
    svc = served.client.app[SERVICES]
    monkeypatch.setattr(svc, "settings", dataclasses.replace(svc.settings, body_timeout=0.5))
    head, rest = await _raw_exchange(served, (
        b"POST /v1/events HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"))
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"408"
    assert b"connection: close" in head.lower()
    assert b"request_timeout" in rest


async def test_a_body_announced_over_the_limit_is_refused_before_it_is_sent(
        served: Served) -> None:
    started = time.monotonic()
    head, _ = await _raw_exchange(served, (
        b"POST /v1/events HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000000\r\nConnection: close\r\n\r\n"))
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"413"
    assert time.monotonic() - started < 2.0


async def test_a_recorded_event_is_never_answered_as_unrecorded_while_waiting(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """?wait=checkpoint commits first, then waits for a checkpoint: a failure in that
    wait (here the database locked by another process signing) was answered 503
    'nothing was recorded', for a submission that was."""
    w = served.world
    svc = served.client.app[SERVICES]

    def locked(*_: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(svc.log, "latest_checkpoint", locked)
    sub = w.sign(w.keys["buyer"], "contract.signed", STREAM, contract_body())
    r = await post(served, sub, query="?wait=checkpoint")
    assert r.status == 201, await r.text()
    body = await r.json()
    assert "checkpoint" not in body and "recorded" in body["checkpoint_unavailable"]
    assert w.ledger.stream_events(STREAM)[0].leaf_hash.hex() == body["leaf_hash"]
