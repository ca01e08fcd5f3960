"""Signature checks shared between worker processes and the caller."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from ledger import sigpool
from ledger.envelope import signing_message
from ledger.keys import SignerKey
from ledger.sigpool import Check, SignaturePool, check_signatures

KEY = SignerKey.from_seed("12650500MB0000001P/sigpool", bytes(range(32)))
OTHER = SignerKey.from_seed("12650500MB0000001P/other", bytes(range(1, 33)))


def checks(n: int, bad: set[int]) -> list[Check]:
    out = []
    for i in range(n):
        envelope = b"\x86" + i.to_bytes(4, "big") * 50
        signature = KEY.sign(signing_message(envelope))
        if i in bad:
            # Wrong key, wrong domain or a flipped bit: each must fail.
            signature = [OTHER.sign(signing_message(envelope)), KEY.sign(envelope),
                         bytes([signature[0] ^ 1]) + signature[1:]][i % 3]
        out.append((KEY.verifier.public, envelope, signature))
    return out


def test_inline_checks_name_exactly_the_bad_ones() -> None:
    bad = {3, 10, 11}
    results = check_signatures(checks(20, bad))
    assert [i for i, ok in enumerate(results) if not ok] == sorted(bad)
    # Malformed keys and signatures are refusals, not errors.
    envelope = b"\x80"
    assert check_signatures([(b"\x00" * 31, envelope, bytes(64)),
                             (KEY.verifier.public, envelope, b"short")]) == [False, False]


@pytest.fixture
def pool() -> Iterator[SignaturePool]:
    p = SignaturePool(1, chunk=8, threshold=16)
    yield p
    p.close()


def test_worker_and_caller_share_a_batch(pool: SignaturePool) -> None:
    bad = set(range(0, 600, 41))
    jobs = checks(600, bad)
    for _ in range(3):  # the same workers serve batch after batch
        results = pool.submit(jobs).result()
        assert [i for i, ok in enumerate(results) if not ok] == sorted(bad)
    assert len(pool._processes) == 1 and pool._processes[0].process.is_alive()


def test_ctrl_c_is_left_to_the_parent(pool: SignaturePool) -> None:
    """Ctrl-C reaches the whole process group; the workers died of it with tracebacks,
    while the parent is the one to stop them."""
    jobs = checks(64, set())
    assert all(pool.submit(jobs).result())
    worker = pool._processes[0].process
    os.kill(worker.pid, signal.SIGINT)
    worker.join(timeout=1)
    assert worker.is_alive()
    assert all(pool.submit(jobs).result())
    assert pool._processes[0].process.pid == worker.pid


def test_small_batches_stay_in_process(pool: SignaturePool) -> None:
    assert pool.submit(checks(10, {2})).result() == [i != 2 for i in range(10)]
    assert pool._processes == []  # never started


def test_an_abandoned_batch_does_not_leak_into_the_next(pool: SignaturePool) -> None:
    first = pool.submit(checks(400, {5}))
    second_jobs = checks(300, {7, 299})
    second = pool.submit(second_jobs)
    assert [i for i, ok in enumerate(second.result()) if not ok] == [7, 299]
    # The abandoned batch can still be asked: it is then checked here.
    assert [i for i, ok in enumerate(first.result()) if not ok] == [5]


def test_a_worker_killed_mid_batch_costs_nothing_but_time(pool: SignaturePool) -> None:
    pool.start()
    pid = pool._processes[0].process.pid
    assert pid is not None
    pending = pool.submit(checks(2000, {1999, 1000}))
    os.kill(pid, signal.SIGKILL)
    results = pending.result()
    assert [i for i, ok in enumerate(results) if not ok] == [1000, 1999]
    # The next batch starts a new worker.
    assert [i for i, ok in enumerate(pool.submit(checks(100, {0})).result()) if not ok] == [0]
    assert pool._processes[0].process.pid != pid


def test_the_signer_read_ahead_of_the_full_decode_never_raises() -> None:
    import msgpack

    from ledger.application import _plain_signer
    from ledger.envelope import MAX_ENVELOPE_BYTES

    assert _plain_signer(msgpack.packb({"signer": "a/b", "v": 1})) == "a/b"
    for hostile in (b"", b"\xc1", b"\x91" * 5000, msgpack.packb([1, 2]),
                    msgpack.packb({"signer": 7}), msgpack.packb({"signer": b"a/b"}),
                    msgpack.packb({"signer": "a/b", "pad": "x" * MAX_ENVELOPE_BYTES})):
        assert _plain_signer(hostile) is None


def _in_a_daemon(out: Any) -> None:
    pool = SignaturePool(1, chunk=8, threshold=16)
    pool.start()  # a daemonic process may not have children: inline from then on
    results = pool.submit(checks(100, {3})).result()
    out.put(([i for i, ok in enumerate(results) if not ok], pool._unavailable))
    pool.close()


def test_where_workers_cannot_start_the_checks_run_inline() -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_in_a_daemon, args=(out,), daemon=True)
    process.start()
    assert out.get(timeout=60) == ([3], True)
    process.join(timeout=10)


def test_a_claims_lock_left_held_does_not_stop_the_checks(
        pool: SignaturePool, monkeypatch: pytest.MonkeyPatch) -> None:
    """As if a worker had been killed between taking the lock on the chunk claims and
    releasing it: a batch submitted then is checked in-process, and the pool starts
    afresh for the next."""
    monkeypatch.setattr(sigpool, "LOCK_TIMEOUT", 0.2)
    pool.start()
    shared = pool._shared
    assert shared is not None and shared.lock.acquire(timeout=1)
    try:
        results = pool.submit(checks(200, {4, 150})).result()
    finally:
        shared.lock.release()
    assert [i for i, ok in enumerate(results) if not ok] == [4, 150]
    assert pool._processes == []
    assert [i for i, ok in enumerate(pool.submit(checks(100, {9})).result()) if not ok] == [9]
    assert pool._processes and pool._processes[0].process.is_alive()


def test_a_claims_lock_seized_mid_batch_is_finished_in_process(
        pool: SignaturePool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock lost while the worker is on a batch: the caller finishes every chunk
    itself, whatever the worker had claimed, and stops that worker."""
    monkeypatch.setattr(sigpool, "LOCK_TIMEOUT", 0.2)
    pool.start()
    shared = pool._shared
    assert shared is not None
    worker = pool._processes[0].process
    pending = pool.submit(checks(1000, {7, 999}))
    assert shared.lock.acquire(timeout=1)
    try:
        results = pending.result()
    finally:
        shared.lock.release()
    assert [i for i, ok in enumerate(results) if not ok] == [7, 999]
    worker.join(timeout=5)
    assert not worker.is_alive() and pool._processes == []
