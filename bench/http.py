"""HTTP benchmark: single-POST throughput at 1, 8 and 32 concurrent clients, batch
throughput, and p50/p99 latency, beside in-process batch ingest from the same run.

The server is a real ``ledger serve`` process on SQLite in a temporary directory; the
load comes from a separate client process on the same cores (kept-alive HTTP/1.1
connections, requests encoded before timing, a minimal response parser), and the CPU each
side spends per event is printed beside the figures. Each figure is the median of
--rounds rounds.

    .venv/bin/python bench/http.py [--events 3000] [--rounds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``http`` package: run from the
# project root instead of this directory so ``import http`` finds the real one.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from typing import Any

from ledger.cli import initialise
from ledger.config import Settings
from tests.e2e.served_process import start_server
from tests.factories import contract_body, make_world

BATCH = 500


def pay_body(n: int) -> dict[str, Any]:
    return {"payment_id": f"P{n}", "milestone_id": "m1", "amount_fen": 1000,
            "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": f"V{n}",
            "purpose": "principal"}


def prepare(data: Path, events: int, contracts: int) -> tuple[list[dict[str, str]], Any]:
    world = make_world(f"sqlite:///{(data / 'ledger.sqlite3').resolve()}")
    setup = [world.sign(world.keys["buyer"], "contract.signed", f"contract/H{i}",
                        contract_body(f"H{i}")) for i in range(contracts)]
    for i in range(0, len(setup), BATCH):
        world.ledger.record_batch(setup[i:i + BATCH])
    subs = [world.sign(world.keys["finance"], "payment.made", f"contract/H{n % contracts}",
                       pay_body(n)) for n in range(events)]
    world.ledger.close()
    settings = Settings(data_dir=data)
    world.write_operator_key(settings)
    initialise(settings, out=lambda _: None)
    return [s.to_json_map() for s in subs], world


def _request(host: str, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> tuple[int, bytes]:
    """One request on a kept-alive connection: the status and the body of the response."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def client_run(base_url: str, bodies: list[dict[str, str]], concurrency: int,
               batch: bool, out: Any) -> None:
    """The load: ``concurrency`` kept-alive HTTP/1.1 connections, one request in flight on
    each. Requests are encoded before timing starts and responses are read with a minimal
    parser (status line and Content-Length), so the client's CPU per request stays small
    beside the server's on these shared cores, as a dedicated load generator's would."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    if batch:
        requests = [_request(host, "/v1/events/batch",
                             json.dumps(bodies[i:i + BATCH]).encode())
                    for i in range(0, len(bodies), BATCH)]
    else:
        requests = [_request(host, "/v1/events", json.dumps(b).encode()) for b in bodies]

    async def main() -> tuple[float, list[float]]:
        latencies: list[float] = []
        queue = list(reversed(requests))
        connections = [await asyncio.open_connection(host, int(port))
                       for _ in range(concurrency)]

        async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while queue:
                request = queue.pop()
                t = time.perf_counter()
                status, response = await _exchange(reader, writer, request)
                assert status in (200, 201), response
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(worker(r, w) for r, w in connections))
        elapsed = time.perf_counter() - start
        for _, writer in connections:
            writer.close()
        return elapsed, latencies

    cpu_start = time.process_time()
    elapsed, latencies = asyncio.run(main())
    out.send((elapsed, latencies, time.process_time() - cpu_start))


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children still running (Linux)."""
    def own(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    total = own(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid:
                    total += own(int(entry.name))
            except (OSError, ValueError):
                continue
    return total


def measure(base_url: str, bodies: list[dict[str, str]], concurrency: int,
            batch: bool = False, server_pid: int | None = None) -> tuple[float, ...]:
    """events/s, p50 ms, p99 ms, server CPU us/event, client CPU us/event."""
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=client_run,
                                   args=(base_url, bodies, concurrency, batch, child))
    server_before = process_cpu(server_pid) if server_pid else 0.0
    proc.start()
    elapsed, latencies, client_cpu = parent.recv()
    server_cpu = process_cpu(server_pid) - server_before if server_pid else 0.0
    proc.join()
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    n = len(bodies)
    return n / elapsed, p50 * 1000, p99 * 1000, 1e6 * server_cpu / n, 1e6 * client_cpu / n


def in_process_batch(events: int) -> float:
    from ledger.application import Ledger
    from ledger.envelope import Submission

    with tempfile.TemporaryDirectory() as tmp:
        bodies, _world = prepare(Path(tmp), events, max(events // 10, 1))
        ledger = Ledger(f"sqlite:///{(Path(tmp) / 'ledger.sqlite3').resolve()}")
        subs = [Submission.from_wire(b) for b in bodies]
        ledger.start_workers()  # as `ledger serve` does when it starts
        start = time.perf_counter()
        for i in range(0, len(subs), BATCH):
            ledger.record_batch(subs[i:i + BATCH])
        elapsed = time.perf_counter() - start
        ledger.close()
    return events / elapsed


def one_round(events: int) -> dict[str, tuple[float, ...]]:
    results: dict[str, tuple[float, ...]] = {}
    for label, concurrency, batch in (("1 client", 1, False), ("8 clients", 8, False),
                                      ("32 clients", 32, False), ("batch of 500", 1, True)):
        with tempfile.TemporaryDirectory() as tmp:
            n = events if concurrency > 1 or batch else max(events // 3, 200)
            bodies, _ = prepare(Path(tmp), n, max(n // 10, 1))
            server = start_server(Path(tmp), extra_env={"LEDGER_CHECKPOINT_INTERVAL": "1"})
            try:
                results[label] = measure(server.base_url, bodies, concurrency, batch,
                                         server.process.pid)
            finally:
                server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    baseline = []
    for r in range(args.rounds):
        baseline.append(in_process_batch(args.events))
        rounds.append(one_round(args.events))
        print(f"round {r + 1}: in-process {baseline[-1]:,.0f}/s; " + "; ".join(
            f"{k} {v[0]:,.0f}/s" for k, v in rounds[-1].items()), flush=True)
    base = statistics.median(baseline)
    print()
    print(f"{'figure':<34}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'x in-process':>14}"
          f"{'server CPU us/ev':>18}{'client CPU us/ev':>18}")
    summary: dict[str, Any] = {"in_process_batch_per_s": base}
    for label in rounds[0]:
        rate = statistics.median(r[label][0] for r in rounds)
        p50 = statistics.median(r[label][1] for r in rounds)
        p99 = statistics.median(r[label][2] for r in rounds)
        server_us = statistics.median(r[label][3] for r in rounds)
        client_us = statistics.median(r[label][4] for r in rounds)
        summary[label] = {"per_s": rate, "p50_ms": p50, "p99_ms": p99,
                          "server_cpu_us_per_event": server_us,
                          "client_cpu_us_per_event": client_us}
        print(f"{'POST ' + label:<34}{rate:>10,.0f}{p50:>9.1f}{p99:>9.1f}{rate / base:>14.2f}"
              f"{server_us:>18,.0f}{client_us:>18,.0f}")
    print(f"{'baseline: in-process batch ingest':<34}{base:>10,.0f}")
    print(f"target: 32 clients >= 0.5 x in-process batch ingest -> "
          f"{summary['32 clients']['per_s'] / base:.2f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
