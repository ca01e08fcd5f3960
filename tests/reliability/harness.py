"""Shared pieces of the reliability tests: a prepared data dir, signed payments, clients
that keep what they were promised, and an auditor that re-derives the whole log.

The auditor trusts nothing the server computed: it re-hashes every leaf, re-verifies every
envelope signature under the registered keys, follows every stream chain, recomputes the
Merkle root at the size of every stored checkpoint, and checks that each receipt a client
was given is in the log exactly once. ``ServedLog`` then checks what a restarted server
answers against that: its checkpoint, consistency proofs from every older checkpoint, entry
bundles and inclusion proofs, all verified offline.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgpack

from ledger import merkle
from ledger.checkpointer import check_log
from ledger.cli import initialise
from ledger.config import Settings
from ledger.envelope import Submission
from ledger.keys import SignerKey, VerifierKey
from ledger.note import open_checkpoint
from ledger.store import DatabaseURL
from ledger.tiles import entry_bundles_for_size
from ledger.verify import (
    VerifiedLeaf,
    verify_checkpoint,
    verify_consistency_between,
    verify_entries,
    verify_inclusion_document,
    verify_leaf,
)
from tests.factories import FixedClock, World, contract_body, make_world

MILESTONE_FEN = 20_000_000_000  # room for millions of 1-fen payments on one milestone


def env_int(name: str, default: int) -> int:
    """An integer from the environment (for longer soak runs), else ``default``."""
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ---------------------------------------------------------------------------
# A data dir with parties, keys and open contracts, ready for ``ledger serve``
# ---------------------------------------------------------------------------
@dataclass
class Site:
    data_dir: Path
    database_url: str
    world: World
    log_key: VerifierKey
    contracts: list[str]

    @property
    def finance(self) -> SignerKey:
        return self.world.keys["finance"]

    def signer_keys(self) -> dict[str, VerifierKey]:
        keys = {k.name: k.verifier for k in self.world.keys.values()}
        keys[self.world.operator.name] = self.world.operator.verifier
        return keys

    def sign(self, key: SignerKey, type_: str, stream: str, body: dict[str, Any],
             **kwargs: Any) -> Submission:
        """Signed now by the real clock (a served ledger checks the window against it)."""
        self.world.clock.now = now_utc()
        return self.world.sign(key, type_, stream, body, **kwargs)

    def payment(self, payment_id: str, contract: str | None = None, **kwargs: Any
                ) -> Submission:
        contract = contract or self.contracts[zlib.crc32(payment_id.encode()) % len(
            self.contracts)]
        return self.sign(self.finance, "payment.made", f"contract/{contract}",
                         payment_body(payment_id), **kwargs)


def payment_body(payment_id: str, amount_fen: int = 1) -> dict[str, Any]:
    return {"payment_id": payment_id, "milestone_id": "m1", "amount_fen": amount_fen,
            "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": f"V-{payment_id}",
            "purpose": "principal"}


def reliability_contract(contract_id: str) -> dict[str, Any]:
    return contract_body(contract_id, value_fen=2 * MILESTONE_FEN, milestones=[
        {"milestone_id": "m1", "description": "bulk delivery", "amount_fen": MILESTONE_FEN},
        {"milestone_id": "m2", "description": "operation", "amount_fen": MILESTONE_FEN},
    ])


def prepare_site(data_dir: Path, database_url: str, *, contracts: int = 8) -> Site:
    """Register the test world and ``contracts`` contracts, then write the key files."""
    data_dir.mkdir(parents=True, exist_ok=True)
    world = make_world(database_url, clock=FixedClock(now_utc()))
    names = [f"R{i}" for i in range(contracts)]
    try:
        for name in names:
            world.post(world.keys["buyer"], "contract.signed", f"contract/{name}",
                       reliability_contract(name))
    finally:
        world.ledger.close()
    # The log is already open, so init only writes the operator and log keys.
    settings = Settings(data_dir=data_dir, database_url=database_url)
    world.write_operator_key(settings)
    initialise(settings, out=lambda _: None)
    log_key = SignerKey.read(data_dir / "keys" / "log.key").verifier
    return Site(data_dir, database_url, world, log_key, names)


# ---------------------------------------------------------------------------
# What clients were told
# ---------------------------------------------------------------------------
@dataclass
class Acknowledged:
    """Receipts clients hold, keyed by payment id; checkpoints they were shown."""

    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)

    def keep(self, payment_id: str, receipt: dict[str, Any]) -> None:
        earlier = self.receipts.get(payment_id)
        if earlier is not None and (earlier["leaf_hash"], earlier["leaf_index"]) != (
                receipt["leaf_hash"], receipt["leaf_index"]):
            self.unexpected.append(f"{payment_id}: two different receipts {earlier} and "
                                   f"{receipt}")
        self.receipts[payment_id] = receipt


def payment_id_of(submission: Submission) -> str:
    envelope = msgpack.unpackb(submission.envelope_bytes, raw=False)
    return str(envelope["body"]["payment_id"])


def wait_until_quiet(database_url: str, timeout: float = 30.0) -> None:
    """After a kill, wait until no other session is left on the database.

    A killed client's PostgreSQL backend finishes a COMMIT it had already received before
    it notices the closed socket, so the state that survived a crash is only final once
    those backends are gone. (SQLite runs inside the process and dies with it.)
    """
    url = DatabaseURL.parse(database_url)
    if url.dialect != "postgres":
        return
    conn = url.connect()
    try:
        deadline = time.monotonic() + timeout
        while conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()").fetchone()[0]:
            assert time.monotonic() < deadline, "the killed server's sessions did not end"
            time.sleep(0.02)
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# The auditor
# ---------------------------------------------------------------------------
@dataclass
class AuditResult:
    size: int
    root: bytes
    checkpoints: list[tuple[int, bytes, str]]  # (size, root, note) as stored
    payments: int
    streams: int


class LogAudit:
    """Re-derives the log from the database; incremental across calls.

    Each call re-reads every leaf hash (so a rewritten old leaf is caught), fully verifies
    the leaves added since the previous call, and checks every stored checkpoint.
    """

    def __init__(self, database_url: str, log_key: VerifierKey,
                 signer_keys: dict[str, VerifierKey]) -> None:
        self.url = DatabaseURL.parse(database_url)
        self.log_key = log_key
        self.signer_keys = signer_keys
        self.leaf_hashes: list[bytes] = []
        self.heads: dict[str, VerifiedLeaf] = {}
        self.payment_index: dict[str, list[int]] = {}
        self.compact = merkle.CompactRange()

    def run(self, acknowledged: Acknowledged | None = None) -> AuditResult:
        conn = self.url.connect()
        try:
            # Checkpoints first: any checkpoint signed meanwhile is no larger than the
            # leaves read after it.
            stored = [(int(s), bytes(r), str(n)) for s, r, n in conn.execute(
                "SELECT size, root, note FROM checkpoints ORDER BY size").fetchall()]
            hashes = [bytes(h) for (h,) in conn.execute(
                "SELECT leaf_hash FROM leaves ORDER BY idx").fetchall()]
            indices = [int(i) for (i,) in conn.execute(
                "SELECT idx FROM leaves ORDER BY idx").fetchall()]
            fresh = conn.execute(
                "SELECT idx, leaf_hash, leaf FROM leaves WHERE idx >= "
                + ("?" if self.url.dialect == "sqlite" else "%s") + " ORDER BY idx",
                (len(self.leaf_hashes),)).fetchall()
            report = check_log(conn.cursor(), self.url.dialect, self.log_key)
        finally:
            conn.close()

        size = len(hashes)
        assert indices == list(range(size)), "leaf indices are not dense from 0"
        assert hashes[:len(self.leaf_hashes)] == self.leaf_hashes, (
            "a leaf recorded before changed: the log is not append-only")
        assert report.ok, f"check_log found problems: {report.problems[:5]}"
        for idx, stored_hash, leaf in fresh:
            self._verify_new_leaf(int(idx), bytes(stored_hash), bytes(leaf))
        assert len(self.leaf_hashes) == size

        roots = self._roots_at({s for s, _, _ in stored} | {size})
        for cp_size, cp_root, note in stored:
            checkpoint = open_checkpoint(note, self.log_key)
            assert (checkpoint.size, checkpoint.root) == (cp_size, cp_root), (
                f"stored checkpoint row {cp_size} differs from its signed note")
            assert cp_size <= size, f"checkpoint {cp_size} signed beyond the log ({size})"
            assert roots[cp_size] == cp_root, f"checkpoint {cp_size} root is not the leaves' root"

        duplicated = {p: ix for p, ix in self.payment_index.items() if len(ix) != 1}
        assert not duplicated, f"payments recorded more than once: {list(duplicated)[:5]}"
        if acknowledged is not None:
            assert not acknowledged.unexpected, acknowledged.unexpected[:5]
            for payment_id, receipt in acknowledged.receipts.items():
                where = self.payment_index.get(payment_id)
                assert where is not None, f"acknowledged payment {payment_id} was lost"
                index = int(receipt["leaf_index"])
                assert where == [index], (
                    f"payment {payment_id} is at {where}, its receipt says {index}")
                assert self.leaf_hashes[index].hex() == receipt["leaf_hash"], (
                    f"receipt of {payment_id}: leaf hash differs at index {index}")
        return AuditResult(size, roots[size], stored, len(self.payment_index), len(self.heads))

    def _verify_new_leaf(self, index: int, stored_hash: bytes, leaf: bytes) -> None:
        assert index == len(self.leaf_hashes)
        assert merkle.leaf_hash(leaf) == stored_hash, f"leaf {index} does not hash to its row"
        signer = msgpack.unpackb(msgpack.unpackb(leaf, raw=False)["envelope"],
                                 raw=False)["signer"]
        key = self.signer_keys[signer]
        stream = msgpack.unpackb(leaf, raw=False)["stream"]
        previous = self.heads.get(stream)
        verified = verify_leaf(leaf, key, previous=previous)
        if previous is None:
            assert verified.version == 1, f"{stream} starts at version {verified.version}"
        self.heads[stream] = verified
        if verified.type == "payment.made":
            payment_id = verified.envelope.body["payment_id"]
            self.payment_index.setdefault(payment_id, []).append(index)
        self.leaf_hashes.append(stored_hash)

    def _roots_at(self, sizes: set[int]) -> dict[int, bytes]:
        """The RFC 6962 root at each size, from the leaf hashes (not the tree store)."""
        roots: dict[int, bytes] = {}
        compact = merkle.CompactRange()
        if 0 in sizes:
            roots[0] = compact.root()
        for i, digest in enumerate(self.leaf_hashes):
            compact.append(digest)
            if i + 1 in sizes:
                roots[i + 1] = compact.root()
        return roots


# ---------------------------------------------------------------------------
# What a restarted server answers, verified offline
# ---------------------------------------------------------------------------
@dataclass
class ConsistencyHistory:
    """Checkpoints already shown consistent with an earlier newest one."""

    checked: set[str] = field(default_factory=set)
    newest: str | None = None


class ServedLog:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, log_key: VerifierKey
                 ) -> None:
        self.http = http
        self.base_url = base_url
        self.log_key = log_key

    async def tree_size(self) -> int:
        async with self.http.get(self.base_url + "/healthz") as r:
            assert r.status == 200
            return int((await r.json())["tree_size"])

    async def checkpoint_of_size(self, size: int, timeout: float = 15.0) -> str:
        """The served checkpoint, once the checkpointer has signed one of ``size``."""
        deadline = time.monotonic() + timeout
        while True:
            async with self.http.get(self.base_url + "/v1/log/checkpoint") as r:
                assert r.status == 200, await r.text()
                note = await r.text()
            checkpoint = verify_checkpoint(note, self.log_key)
            if checkpoint.size == size:
                return note
            assert checkpoint.size < size, f"checkpoint {checkpoint.size} beyond log {size}"
            assert time.monotonic() < deadline, f"no checkpoint of size {size} in time"
            await asyncio.sleep(0.05)

    async def verify_against(self, audit: AuditResult, seen: list[str],
                             receipts: list[dict[str, Any]],
                             history: ConsistencyHistory | None = None) -> str:
        """Check the served log against the audit; returns the newest checkpoint.

        Every checkpoint ever stored or shown to a client must be extended by the newest.
        With ``history`` only those not yet checked are, plus the previous newest:
        consistency is transitive, so the older ones follow.
        """
        served_size = await self.tree_size()
        assert served_size == audit.size, f"serves {served_size} leaves, audited {audit.size}"
        newest = await self.checkpoint_of_size(audit.size)
        assert verify_checkpoint(newest, self.log_key).root == audit.root
        history = history or ConsistencyHistory()
        older = {note for _, _, note in audit.checkpoints} | set(seen)
        due = older - history.checked
        if history.newest is not None:
            due.add(history.newest)
        for note in sorted(due):
            await self.verify_consistency(note, newest)
        history.checked |= older
        history.newest = newest
        # A monitor's view: entry bundles re-hashed give the signed root.
        entries: list[bytes] = []
        for bundle in entry_bundles_for_size(audit.size):
            async with self.http.get(f"{self.base_url}/v1/log/{bundle.path}") as r:
                assert r.status == 200, await r.text()
                entries += split_bundle(await r.read())
        verify_entries(entries, newest, self.log_key)
        # A client's view: inclusion of receipts it holds.
        for receipt in receipts:
            async with self.http.get(f"{self.base_url}/v1/log/proof/inclusion",
                                     params={"leaf_hash": receipt["leaf_hash"],
                                             "tree_size": str(audit.size)}) as r:
                assert r.status == 200, await r.text()
                proof = await r.json()
            assert proof["leaf_index"] == receipt["leaf_index"]
            verify_inclusion_document(proof, newest, self.log_key)
        return newest

    async def verify_consistency(self, old_note: str, new_note: str) -> None:
        old = verify_checkpoint(old_note, self.log_key)
        new = verify_checkpoint(new_note, self.log_key)
        proof: list[bytes] = []
        if 0 < old.size < new.size:
            async with self.http.get(f"{self.base_url}/v1/log/proof/consistency",
                                     params={"from": str(old.size),
                                             "to": str(new.size)}) as r:
                assert r.status == 200, await r.text()
                proof = [bytes.fromhex(h) for h in (await r.json())["hashes"]]
        verify_consistency_between(old_note, new_note, proof, self.log_key)


def split_bundle(data: bytes) -> list[bytes]:
    """C2SP entry bundle: u16 big-endian length || leaf, repeated."""
    out, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 2], "big")
        out.append(data[pos + 2:pos + 2 + length])
        pos += 2 + length
    assert pos == len(data), "entry bundle ends inside an entry"
    return out


def sample(rng: random.Random, receipts: dict[str, dict[str, Any]], k: int
           ) -> list[dict[str, Any]]:
    keys = sorted(receipts)
    return [receipts[p] for p in rng.sample(keys, min(k, len(keys)))]

