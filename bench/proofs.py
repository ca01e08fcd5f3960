"""Tree build rate and proof latency of the SQLite tree store.

Builds an N-leaf log (default 1,000,000) in a SQLite file with ``TreeStore.append`` in
batches of 500, one transaction per batch, and prints the build rate beside raw
SHA-256 node hashes per second measured in the same run (the baseline: a tree needs
about one node hash per leaf). Then times inclusion and consistency proofs and roots
at random points, in process on one connection, and verifies each proof.

    .venv/bin/python bench/proofs.py [--leaves 1000000] [--batch 500] [--samples 2000]

Each latency is one call on a warm connection; "+ verify" adds RFC 9162 verification.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger import merkle
from ledger.treestore import TreeStore


def raw_hash_rate(count: int) -> float:
    """Node-shaped SHA-256 hashes (65 bytes in) per second, in a plain Python loop."""
    left, right = hashlib.sha256(b"l").digest(), hashlib.sha256(b"r").digest()
    sha256 = hashlib.sha256
    start = time.perf_counter()
    digest = left
    for _ in range(count):
        digest = sha256(b"\x01" + digest + right).digest()
    return count / (time.perf_counter() - start)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(samples: int, call: Callable[[], None]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    durations: list[float] = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        call()
        durations.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(durations), percentile(durations, 0.99)


def build(path: Path, leaf_hashes: list[bytes], batch: int) -> float:
    """Append every leaf hash in batches (one transaction each); return the seconds taken."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    store = TreeStore("sqlite")
    cursor = connection.cursor()
    store.create_tables(cursor)
    connection.commit()
    start = time.perf_counter()
    size = 0
    while size < len(leaf_hashes):
        chunk = leaf_hashes[size : size + batch]
        store.append(cursor, size, chunk)
        connection.commit()
        size += len(chunk)
    seconds = time.perf_counter() - start
    connection.close()
    return seconds


def measure_proofs(
    path: Path, leaf_hashes: list[bytes], samples: int, seed: int
) -> dict[str, tuple[float, float]]:
    connection = sqlite3.connect(path)
    cursor = connection.cursor()
    store = TreeStore("sqlite")
    size = store.size(cursor)
    root = store.root(cursor, size)
    if root != merkle.root_from_leaf_hashes(leaf_hashes):
        raise SystemExit("stored root differs from the in-memory root")
    rng = random.Random(seed)
    roots: dict[int, bytes] = {}

    def root_at(n: int) -> bytes:
        if n not in roots:
            roots[n] = store.root(cursor, n)
        return roots[n]

    def inclusion_generate() -> None:
        store.inclusion_proof(cursor, rng.randrange(size), size)

    def consistency_generate() -> None:
        store.consistency_proof(cursor, rng.randrange(1, size + 1), size)

    def inclusion_verified() -> None:
        index = rng.randrange(size)
        proof = store.inclusion_proof(cursor, index, size)
        merkle.verify_inclusion(leaf_hashes[index], index, size, proof.hashes, root)

    def consistency_verified() -> None:
        old = rng.randrange(1, size + 1)
        proof = store.consistency_proof(cursor, old, size)
        merkle.verify_consistency(old, size, proof.hashes, root_at(old), root)

    def root_only() -> None:
        store.root(cursor, rng.randrange(1, size + 1))

    results = {
        "inclusion proof (fetch+build)  ": timed(samples, inclusion_generate),
        "consistency proof (fetch+build)": timed(samples, consistency_generate),
        "inclusion proof + verify       ": timed(samples, inclusion_verified),
        "consistency proof + verify     ": timed(samples, consistency_verified),
        "root at a random size          ": timed(samples, root_only),
    }
    connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=6962)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "proofs.sqlite3"
        leaf_hashes = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(args.leaves)]
        baseline_before = raw_hash_rate(min(args.leaves, 1_000_000))
        seconds = build(path, leaf_hashes, args.batch)
        baseline_after = raw_hash_rate(min(args.leaves, 1_000_000))
        raw_rate = statistics.median([baseline_before, baseline_after])
        build_rate = args.leaves / seconds
        latencies = measure_proofs(path, leaf_hashes, args.samples, args.seed)
        with sqlite3.connect(path) as connection:
            nodes = connection.execute("SELECT COUNT(*) FROM tree_nodes").fetchone()[0]
        disk_mb = sum(p.stat().st_size for p in Path(workdir).iterdir()) / 1e6

    print(
        f"leaves                          {args.leaves:,} (batches of {args.batch}, "
        "one transaction each, WAL, synchronous=FULL)"
    )
    print(f"tree nodes stored               {nodes:,} ({disk_mb:.0f} MB on disk)")
    print(f"tree build                      {build_rate:,.0f} leaves/s ({seconds:.1f} s)")
    print(f"raw SHA-256 node hashes         {raw_rate:,.0f} hashes/s (baseline, same run)")
    print(f"build / raw hashing             {build_rate / raw_rate:.3f}")
    for name, (p50, p99) in latencies.items():
        print(f"{name} p50 {p50:.3f} ms   p99 {p99:.3f} ms")
    print(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {args.samples} samples each"
    )


if __name__ == "__main__":
    main()
