"""Audit benchmark: leaves replayed and re-verified per second, beside its baseline.

Builds a log of --events signed payments on a SQLite file (the application writes it, as
in bench/ingest.py, and signs a checkpoint every 10,000 leaves, as a server does), then
times ``ledger audit --database`` with the log key (the full replay: canonical form,
chains, keys, authority, domain rules, signatures, the stored tree and every checkpoint
with its signature, the event store's copies) with signature checks on every core and on
one process, the replay alone (no signatures), and single-core Ed25519 verifications as
the baseline.
Each figure is the median of --rounds rounds.

    .venv/bin/python bench/audit.py [--events 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The repository root instead of bench/ itself, whose http.py would shadow the standard
# library's http package that the client imports.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.ingest import bench_verify, prepare
from ledger import merkle
from ledger.application import Ledger
from ledger.commands.audit import AuditOptions, Replay, audit_database
from ledger.commands.logsource import DatabaseLog
from ledger.keys import SignerKey, VerifierKey
from ledger.log import Log

CHECKPOINT_EVERY = 20  # batches of 500: a checkpoint per 10,000 leaves, as a server
                       # recording a few thousand events a second signs one a second


def build_log(directory: Path, events: int) -> tuple[str, VerifierKey]:
    world, batches = prepare(directory, events)
    url = f"sqlite:///{directory / 'ledger.sqlite3'}"
    ledger = Ledger(url, clock=world.clock)
    log_key = SignerKey.from_seed("bench.example/log", bytes(range(32)))
    log = Log(ledger, log_key, clock=world.clock)
    try:
        for i, batch in enumerate(batches):
            ledger.record_batch(batch)
            if (i + 1) % CHECKPOINT_EVERY == 0:
                log.sign_checkpoint()
        log.sign_checkpoint()
    finally:
        ledger.close()
    return url, log_key.verifier


def bench_audit(url: str, log_key: VerifierKey, processes: int) -> tuple[float, int]:
    start = time.perf_counter()
    report = audit_database(url, log_key, AuditOptions(processes=processes))
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"the benchmark log does not audit clean: {report.findings[:3]}")
    return report.leaves_checked / elapsed, report.processes


def bench_replay_only(url: str) -> float:
    with DatabaseLog(url) as db:
        size = db.size()
        leaves = [leaf for batch in db.batches(size) for leaf in batch.leaves]
    replay = Replay()
    start = time.perf_counter()
    for index, leaf in enumerate(leaves):
        replay.check(index, leaf, merkle.leaf_hash(leaf))
    elapsed = time.perf_counter() - start
    return len(leaves) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        url, log_key = build_log(Path(tmp), args.events)
        with DatabaseLog(url) as db:
            leaves = db.size()
        all_cores, one, replay_only, verify = [], [], [], []
        used = 1
        for r in range(args.rounds):
            rate, used = bench_audit(url, log_key, cores)
            all_cores.append(rate)
            one.append(bench_audit(url, log_key, 1)[0])
            replay_only.append(bench_replay_only(url))
            verify.append(bench_verify(20_000))
            print(f"round {r + 1}: audit {rate:,.0f}/s on {used} processes, "
                  f"{one[-1]:,.0f}/s on one; replay alone {replay_only[-1]:,.0f}/s; "
                  f"verify {verify[-1]:,.0f}/s", flush=True)
    audit_all, audit_one, replay, ver = (statistics.median(x) for x in
                                         (all_cores, one, replay_only, verify))
    print()
    print(f"log: {leaves:,} leaves (SQLite); {cores} CPUs; median of {args.rounds} rounds")
    print(f"{'figure':<52}{'median':>12}")
    print(f"{f'audit, leaves/s (signatures on {used} processes)':<52}{audit_all:>12,.0f}")
    print(f"{'audit, leaves/s (one process)':<52}{audit_one:>12,.0f}")
    print(f"{'replay alone, leaves/s (no signatures, one core)':<52}{replay:>12,.0f}")
    print(f"{'baseline: Ed25519 verify /s (one core)':<52}{ver:>12,.0f}")
    print(f"ratio audit (all cores) / verify (one core): {audit_all / ver:.2f}")
    print(f"ratio audit (one process) / verify (one core): {audit_one / ver:.2f}")


if __name__ == "__main__":
    main()
