"""Ingest benchmark: signed events recorded per second, beside its baselines.

Prints, from one run on one machine:
  - recorded: signed payment events/s through Ledger.record_batch on a SQLite file
    (batches of 500, WAL with synchronous=FULL, i.e. each commit is fsynced);
  - verify: Ed25519 verifications/s on one core (the floor of any signed ingest);
  - raw eventsourcing: single-event saves/s of a plain eventsourcing application on
    the same SQLite setup;
and the ratios. Each figure is the median of --rounds rounds.

    .venv/bin/python bench/ingest.py [--events 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.envelope import signing_message
from ledger.keys import SignerKey
from tests.factories import FixedClock, contract_body, make_world

BATCH = 500


def bench_verify(n: int) -> float:
    key = SignerKey.from_seed("bench/verify", bytes(32))
    message = signing_message(b"\x88" + b"x" * 400)
    signature = key.sign(message)
    verifier = key.verifier
    start = time.perf_counter()
    for _ in range(n):
        if not verifier.verify(signature, message):
            raise SystemExit("verification failed")
    return n / (time.perf_counter() - start)


def prepare(directory: Path, events: int) -> tuple[Any, list[list[Any]]]:
    world = make_world(f"sqlite:///{directory / 'ledger.sqlite3'}", clock=FixedClock(),
                       verify_workers=0)
    contracts = max(events // 10, 1)
    setup = [world.sign(world.keys["buyer"], "contract.signed", f"contract/B{i}",
                        contract_body(f"B{i}")) for i in range(contracts)]
    for i in range(0, len(setup), BATCH):
        world.ledger.record_batch(setup[i:i + BATCH])
    payments = []
    for n in range(events):
        c = n % contracts
        payments.append(world.sign(world.keys["finance"], "payment.made", f"contract/B{c}", {
            "payment_id": f"P{n}", "milestone_id": "m1", "amount_fen": 1000,
            "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": f"V{n}",
            "purpose": "principal"}))
    world.ledger.close()
    return world, [payments[i:i + BATCH] for i in range(0, len(payments), BATCH)]


def bench_recorded(events: int) -> tuple[float, str]:
    from ledger.application import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        world, batches = prepare(Path(tmp), events)
        ledger = Ledger(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}", clock=world.clock)
        try:
            ledger.start_workers()  # as `ledger serve` does when it starts
            with ledger.reader.cursor() as c:
                sync = c.execute("PRAGMA synchronous").fetchone()[0]
                mode = c.execute("PRAGMA journal_mode").fetchone()[0]
            start = time.perf_counter()
            for batch in batches:
                outcomes = ledger.record_batch(batch)
                assert all(o.created for o in outcomes)
            elapsed = time.perf_counter() - start
        finally:
            ledger.close()
    return events / elapsed, f"journal_mode={mode} synchronous={sync}"


class Counter(Aggregate):
    def __init__(self) -> None:
        self.n = 0

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.n += by


def bench_raw_eventsourcing(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        app: Application[Any] = Application(env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(Path(tmp) / "raw.sqlite3"),
        })
        aggregates = [Counter() for _ in range(n)]
        start = time.perf_counter()
        for aggregate in aggregates:
            app.save(aggregate)
        elapsed = time.perf_counter() - start
        app.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    recorded, verify, raw = [], [], []
    setting = ""
    for r in range(args.rounds):
        rate, setting = bench_recorded(args.events)
        recorded.append(rate)
        verify.append(bench_verify(20_000))
        raw.append(bench_raw_eventsourcing(3_000))
        print(f"round {r + 1}: recorded {rate:,.0f}/s  verify {verify[-1]:,.0f}/s  "
              f"raw eventsourcing {raw[-1]:,.0f}/s  ratio {rate / verify[-1]:.2f}", flush=True)
    rec, ver, es = (statistics.median(x) for x in (recorded, verify, raw))
    print()
    print(f"SQLite: {setting}; batches of {BATCH}; {args.events} events per round; "
          f"median of {args.rounds} rounds")
    print(f"{'figure':<44}{'median':>12}")
    print(f"{'signed events recorded /s (in-process)':<44}{rec:>12,.0f}")
    print(f"{'baseline: Ed25519 verify /s (one core)':<44}{ver:>12,.0f}")
    print(f"{'baseline: raw eventsourcing saves /s':<44}{es:>12,.0f}")
    ratios = [a / b for a, b in zip(recorded, verify, strict=True)]
    print(f"ratio recorded / verify (one core): {rec / ver:.2f} of the medians, "
          f"{statistics.median(ratios):.2f} median of the rounds' ratios  (target >= 0.60)")
    print(f"ratio recorded / raw eventsourcing single saves: {rec / es:.2f}")


if __name__ == "__main__":
    main()
