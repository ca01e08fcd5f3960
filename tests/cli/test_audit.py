"""``ledger audit``: the inspector's replay catches a changed byte, an altered entry, a
forged signature, a broken chain, an unauthorised or revoked signer, and read models that
do not follow from the log — naming the first bad leaf."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import encoding, merkle
from ledger.application import encode_leaf
from ledger.commands import sigcheck
from ledger.commands.audit import Replay
from ledger.commands.sigcheck import verify_chunk
from ledger.envelope import sign_envelope
from ledger.keys import SignerKey
from tests.cli.conftest import Served, TamperingProxy, cli, init_data_dir
from tests.e2e.served_process import free_port
from tests.factories import SUPPLIER_ID, contract_body, make_world

# The voucher of the ZJ-007 payment of 2025-07-20 in the demo: once in its leaf.
MARKER = "凭证 HMCZ-2025-07-0233".encode()
AS_OF = "2026-12-31"


def audit(*args: str) -> tuple[int, dict[str, Any]]:
    result = cli("--json", "audit", "--as-of", AS_OF, *args)
    assert result.code in (0, 1), result.err
    report: dict[str, Any] = json.loads(result.out)
    return result.code, report


def leaf_index_holding(database: Path, marker: bytes) -> int:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT idx, leaf FROM leaves").fetchall()
    found = [int(idx) for idx, leaf in rows if marker in bytes(leaf)]
    assert len(found) == 1
    return found[0]


def copy_database(served: Served, target: Path) -> Path:
    source = sqlite3.connect(served.data_dir / "ledger.sqlite3")
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return target


# Clean logs -------------------------------------------------------------------------
def test_the_demo_log_audits_clean_from_its_server(demo_served: Served) -> None:
    code, report = audit("--server", demo_served.url, "--log-key", demo_served.log_vkey)
    assert code == 0, report["findings"]
    assert report["leaves_checked"] == report["signatures_checked"] == report["tree_size"]
    assert set(report["projections"]) == {"arrears", "breaches", "compensation"}
    assert all(status.startswith("match (") for status in report["projections"].values())


def test_the_demo_database_audits_clean(demo_served: Served, tmp_path: Path) -> None:
    copy = copy_database(demo_served, tmp_path / "copy.sqlite3")
    code, report = audit("--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert code == 0, report["findings"]
    assert any("stored checkpoint(s) checked against the leaves" in n for n in report["notes"])


def test_a_postgresql_database_audits_clean(postgres_url: str, tmp_path: Path) -> None:
    served = Served(tmp_path / "var", free_port())
    assert cli("init", "--data-dir", str(served.data_dir), "--database", postgres_url).code == 0
    served.start(database_url=postgres_url)
    try:
        loaded = cli("demo", "--data-dir", str(served.data_dir), "--server", served.url)
        assert loaded.code == 0, loaded.err
        served.wait_for_checkpoint(served.tree_size())
        code, report = audit("--database", postgres_url, "--log-key", served.log_vkey)
        assert code == 0, report["findings"]
        assert report["tree_size"] == served.tree_size()
        server_code, _ = audit("--server", served.url, "--log-key", served.log_vkey)
        assert server_code == 0
    finally:
        served.stop()


# Tampering --------------------------------------------------------------------------
@pytest.mark.parametrize("occurrence", [0, -1], ids=["first-copy", "last-copy"])
def test_one_byte_changed_in_a_copied_database_names_its_leaf(
        demo_served: Served, tmp_path: Path, occurrence: int) -> None:
    copy = copy_database(demo_served, tmp_path / "copy.sqlite3")
    expected = leaf_index_holding(copy, MARKER)
    data = bytearray(copy.read_bytes())
    # The leaf's bytes are in the database twice: in the log (leaves) and in the event
    # store the application decides on (stored_events). Either copy changed is caught.
    places = [i for i in range(len(data)) if data.startswith(MARKER, i)]
    assert len(places) == 2
    data[places[occurrence] + len(MARKER) - 1] ^= 0x01  # "...0233" -> "...0232"
    copy.write_bytes(bytes(data))
    code, report = audit("--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert code == 1
    assert report["first_bad_index"] == expected
    # Beyond it, only the next event of its stream, whose prev names the original leaf.
    assert all(f["index"] in (None, expected) or f["check"] == "chain"
               for f in report["findings"]), report["findings"]

    text = cli("audit", "--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert text.code == 1 and f"first bad leaf index: {expected}" in text.out


def test_the_stored_tree_is_checked_even_without_a_checkpoint(
        demo_served: Served, tmp_path: Path) -> None:
    copy = copy_database(demo_served, tmp_path / "uncheckpointed.sqlite3")
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM checkpoints")
    code, report = audit("--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert code == 0, report["findings"]
    assert any("no signed checkpoint" in n for n in report["notes"])
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE tree_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 2")
    code, report = audit("--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert code == 1
    assert [f["index"] for f in report["findings"] if f["check"] == "tree"] == [8]


def test_a_database_without_its_event_store_or_tree_tables_is_reported_not_a_crash(
        demo_served: Served, tmp_path: Path) -> None:
    copy = copy_database(demo_served, tmp_path / "stripped.sqlite3")
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TABLE stored_events")
        conn.execute("DROP TABLE tree_nodes")
    code, report = audit("--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert code == 1
    assert sorted(f["check"] for f in report["findings"]) == ["store", "tree"]
    tree = next(f for f in report["findings"] if f["check"] == "tree")
    assert "no tree_nodes table" in tree["message"]


def test_a_dropped_tree_table_does_not_hide_a_truncated_log(
        demo_served: Served, tmp_path: Path) -> None:
    """The last leaf deleted, its signed checkpoint kept, and the stored tree dropped (the
    table through which the checkpoints are held against the leaves): not an audit that
    passes."""
    copy = copy_database(demo_served, tmp_path / "truncated.sqlite3")
    with sqlite3.connect(copy) as conn:
        (last,) = conn.execute("SELECT MAX(idx) FROM leaves").fetchone()
        (stream, version) = conn.execute("SELECT stream, version FROM leaves WHERE idx = ?",
                                         (last,)).fetchone()
        conn.execute("DELETE FROM leaves WHERE idx = ?", (last,))
        conn.execute("DELETE FROM nonces WHERE leaf_idx = ?", (last,))
        conn.execute("DROP TABLE tree_nodes")
    code, report = audit("--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert code == 1, (stream, version, report)
    assert any(f["check"] == "tree" for f in report["findings"])


def test_leaves_filed_under_swapped_versions_are_named(
        demo_served: Served, tmp_path: Path) -> None:
    """The server loads a stream by the leaves table's stream and version columns: two of
    a stream's leaves filed under each other's version (and the event store's copies swapped
    to match) keep every leaf intact, yet the application would replay them out of order."""
    copy = copy_database(demo_served, tmp_path / "swapped.sqlite3")
    with sqlite3.connect(copy) as conn:
        stream, first, second = conn.execute(
            "SELECT a.stream, a.idx, b.idx FROM leaves a JOIN leaves b ON a.stream = b.stream "
            "AND b.version = a.version + 1 WHERE a.version = 1 ORDER BY a.idx LIMIT 1"
        ).fetchone()
        conn.execute("UPDATE leaves SET version = -version WHERE idx IN (?, ?)", (first, second))
        conn.execute("UPDATE leaves SET version = 2 WHERE idx = ?", (first,))
        conn.execute("UPDATE leaves SET version = 1 WHERE idx = ?", (second,))
        states = dict(conn.execute("SELECT version, leaf FROM leaves WHERE idx IN (?, ?)",
                                   (first, second)).fetchall())
        for version, state in states.items():
            conn.execute("UPDATE stored_events SET state = ? WHERE originator_version = ? AND "
                         "state IN (SELECT leaf FROM leaves WHERE idx IN (?, ?))",
                         (state, version, first, second))
    code, report = audit("--database", f"sqlite:///{copy}", "--log-key", demo_served.log_vkey)
    assert code == 1
    placement = [f for f in report["findings"] if f["check"] == "placement"]
    assert [f["index"] for f in placement] == [first, second], report["findings"]
    assert report["first_bad_index"] == first
    assert stream in placement[0]["message"]


def test_a_stored_tree_node_hash_column_or_checkpoint_altered_is_named(
        demo_served: Served, tmp_path: Path) -> None:
    """The database audit checks the stored tree and checkpoints as it reads the leaves."""
    clean = copy_database(demo_served, tmp_path / "clean.sqlite3")
    with sqlite3.connect(clean) as conn:
        size = int(conn.execute("SELECT MAX(idx) + 1 FROM leaves").fetchone()[0])
        signed = int(conn.execute("SELECT MAX(size) FROM checkpoints").fetchone()[0])
    assert size >= 12 and signed >= 8
    edits = {
        # the hash column of leaf 5 (the leaf itself is intact)
        "column": ("UPDATE leaves SET leaf_hash = zeroblob(32) WHERE idx = 5", 5),
        # the stored subtree node over leaves 8..11
        "node": ("UPDATE tree_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 2", 8),
        # the root stored beside the newest checkpoint's signed note
        "checkpoint": (f"UPDATE checkpoints SET root = zeroblob(32) WHERE size = {signed}",
                       None),
    }
    for name, (sql, index) in edits.items():
        copy = tmp_path / f"{name}.sqlite3"
        copy.write_bytes(clean.read_bytes())
        with sqlite3.connect(copy) as conn:
            conn.execute(sql)
        code, report = audit("--database", f"sqlite:///{copy}", "--log-key",
                             demo_served.log_vkey)
        assert code == 1, name
        tree = [f for f in report["findings"] if f["check"] == "tree"]
        assert tree, (name, report["findings"])
        assert tree[0]["index"] == index, (name, tree)


def test_an_entry_served_altered_is_named_by_index(demo_served: Served) -> None:
    expected = leaf_index_holding(demo_served.data_dir / "ledger.sqlite3", MARKER)

    def alter(path: str, body: bytes) -> bytes:
        if path.startswith(("/v1/log/entries/", "/v1/log/tile/entries/")):
            return body.replace(MARKER, "凭证 HMCZ-2025-07-0833".encode())
        return body

    with TamperingProxy(demo_served.url, alter) as proxy:
        code, report = audit("--server", proxy.url, "--log-key", demo_served.log_vkey)
    assert code == 1
    assert report["first_bad_index"] == expected
    checks = {(f["index"], f["check"]) for f in report["findings"]}
    assert (expected, "leaf_hash") in checks and (expected, "signature") in checks


def test_entries_and_tiles_both_off_the_signed_root_blame_no_innocent_leaf(
        demo_served: Served) -> None:
    """An altered entry and an altered hash in the tile of another leaf: the tiles are not
    authenticated then, so the root finding names no leaf (it named leaf 3, which is fine);
    the altered entry is still named by its own signature."""
    expected = leaf_index_holding(demo_served.data_dir / "ledger.sqlite3", MARKER)

    def alter(path: str, body: bytes) -> bytes:
        if path.startswith(("/v1/log/entries/", "/v1/log/tile/entries/")):
            return body.replace(MARKER, "凭证 HMCZ-2025-07-0833".encode())
        if path.startswith("/v1/log/tile/0/000"):
            return body[:96] + bytes(32) + body[128:]  # leaf 3's hash
        return body

    with TamperingProxy(demo_served.url, alter) as proxy:
        code, report = audit("--server", proxy.url, "--log-key", demo_served.log_vkey)
    assert code == 1
    [root] = [f for f in report["findings"] if f["check"] == "root"]
    assert root["index"] is None and "differ at leaves 3" in root["message"], root
    assert report["first_bad_index"] == expected


def test_an_unreadable_entry_bundle_is_a_finding_in_the_report(demo_served: Served) -> None:
    """A bundle cut short: the audit still reports, naming the first entry it could not
    read, instead of ending on that one error with the findings so far thrown away."""
    def cut(path: str, body: bytes) -> bytes:
        return body[:-3] if path.startswith("/v1/log/tile/entries/") else body

    with TamperingProxy(demo_served.url, cut) as proxy:
        code, report = audit("--server", proxy.url, "--log-key", demo_served.log_vkey)
    assert code == 1
    [finding] = [f for f in report["findings"] if f["check"] == "entries"]
    assert "cut short" in finding["message"]
    assert report["first_bad_index"] == finding["index"] == report["tree_size"] - 1
    assert report["projections"]["all"].startswith("not compared")


def test_read_models_that_do_not_follow_from_the_log_are_caught(demo_served: Served) -> None:
    def inflate(path: str, body: bytes) -> bytes:
        if path.startswith("/v1/arrears"):
            document = json.loads(body)
            document["rows"][0]["interest_fen"] -= 100
            return json.dumps(document).encode()
        return body

    with TamperingProxy(demo_served.url, inflate) as proxy:
        code, report = audit("--server", proxy.url, "--log-key", demo_served.log_vkey)
    assert code == 1
    assert report["first_bad_index"] is None
    [finding] = report["findings"]
    assert finding["check"] == "projection"
    assert "rows.0.interest_fen: the server says" in finding["message"]
    assert report["projections"]["arrears"] == "DIFFERS"
    assert report["projections"]["breaches"].startswith("match")


@pytest.mark.parametrize("dodge", ["refuse", "other size"])
def test_read_models_the_server_will_not_show_are_a_finding(demo_served: Served,
                                                            dodge: str) -> None:
    """Refusing the comparison, or answering for another log size, must not let a server's
    read models pass unexamined."""
    def evade(path: str, body: bytes) -> bytes:
        if not path.startswith("/v1/breaches"):
            return body
        if dodge == "refuse":
            return b"not json"
        document = json.loads(body)
        document["log_size"] += 1
        return json.dumps(document).encode()

    with TamperingProxy(demo_served.url, evade) as proxy:
        code, report = audit("--server", proxy.url, "--log-key", demo_served.log_vkey)
    assert code == 1, report
    [finding] = report["findings"]
    assert finding["check"] == "projection" and finding["message"].startswith("breaches")
    assert report["projections"]["breaches"].startswith("not compared")
    assert report["projections"]["arrears"].startswith("match")


def test_an_unreachable_server_or_missing_database(tmp_path: Path) -> None:
    assert cli("audit", "--server", "http://127.0.0.1:9").code == 3
    missing = cli("audit", "--database", f"sqlite:///{tmp_path / 'none.sqlite3'}")
    assert missing.code == 2 and "no SQLite database" in missing.err


# The replay, leaf by leaf -----------------------------------------------------------
class Log:
    """A real log written by the application, then doctored leaf by leaf."""

    def __init__(self, tmp_path: Path) -> None:
        world = make_world(f"sqlite:///{tmp_path / 'replay.sqlite3'}")
        world.post(world.keys["buyer"], "contract.signed", "contract/HM-1",
                   contract_body("HM-1"))
        world.post(world.keys["supplier"], "contract.countersigned", "contract/HM-1",
                   {"party_id": SUPPLIER_ID})
        self.world = world
        self.leaves = [leaf for _i, leaf in world.ledger.leaves(0, world.ledger.size())]
        world.ledger.close()

    def decoded(self, index: int) -> dict[str, Any]:
        value: dict[str, Any] = encoding.decode(self.leaves[index])
        return value

    def append(self, key: SignerKey, type_: str, stream: str, body: dict[str, Any], *,
               recorded_at: str = "2026-11-25T08:00:00Z", nonce: bytes | None = None) -> int:
        heads = [self.decoded(i) for i in range(len(self.leaves))]
        mine = [(i, h) for i, h in enumerate(heads) if h["stream"] == stream]
        prev = merkle.leaf_hash(self.leaves[mine[-1][0]]) if mine else None
        submission = sign_envelope(key, type_, stream, body, signed_at=recorded_at,
                                   nonce=nonce or bytes([len(self.leaves)]) * 16)
        self.leaves.append(encode_leaf(stream, len(mine) + 1, type_, recorded_at,
                                       submission.envelope_bytes, submission.signature, prev))
        return len(self.leaves) - 1

    def replace_field(self, index: int, **changes: Any) -> None:
        item = self.decoded(index)
        item.update(changes)
        self.leaves[index] = encoding.encode(item)

    def findings(self) -> Iterator[tuple[int | None, str]]:
        replay = Replay()
        jobs = []
        for index, leaf in enumerate(self.leaves):
            jobs += replay.check(index, leaf, merkle.leaf_hash(leaf))
        replay.close()
        yield from ((f.index, f.check) for f in replay.findings)
        yield from ((index, "signature") for index in verify_chunk(jobs))


@pytest.fixture
def log(tmp_path: Path) -> Log:
    return Log(tmp_path)


def test_the_application_log_replays_clean(log: Log) -> None:
    assert list(log.findings()) == []


def test_a_forged_signature_is_named(log: Log) -> None:
    last = len(log.leaves) - 1
    log.replace_field(last, signature=bytes(64))
    assert set(log.findings()) == {(last, "signature")}


def test_a_leaf_that_does_not_chain_is_named(log: Log) -> None:
    last = len(log.leaves) - 1
    log.replace_field(last, prev=bytes(32))
    assert (last, "chain") in set(log.findings())


def test_a_supplier_accepting_its_own_delivery_is_named(log: Log) -> None:
    index = log.append(log.world.keys["supplier"], "contract.accepted", "contract/HM-1",
                       {"milestone_id": "m1", "accepted_on": "2026-07-01", "result": "passed"})
    assert set(log.findings()) == {(index, "authority")}


def test_an_overpayment_is_named(log: Log) -> None:
    index = log.append(log.world.keys["finance"], "payment.made", "contract/HM-1", {
        "payment_id": "p1", "milestone_id": "m1", "amount_fen": 20_000_001,
        "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": "V", "purpose":
        "principal"})
    assert set(log.findings()) == {(index, "rule")}


def test_a_revoked_or_unknown_key_and_a_replayed_nonce_are_named(log: Log) -> None:
    buyer = log.world.keys["buyer"]
    revoke = log.append(log.world.operator, "key.revoked", f"party/{buyer.name.split('/')[0]}",
                        {"key_name": buyer.name, "reason": "left office",
                         "effective_at": "2026-11-25T08:00:00Z"})
    late = log.append(buyer, "contract.accepted", "contract/HM-1",
                      {"milestone_id": "m1", "accepted_on": "2026-07-01", "result": "passed"},
                      recorded_at="2026-11-25T09:00:00Z")
    stranger = SignerKey.generate(f"{SUPPLIER_ID}/laptop")
    unknown = log.append(stranger, "contract.delivered", "contract/HM-1",
                         {"milestone_id": "m2", "delivered_on": "2026-07-01"})
    nonce = log.decoded(late)["envelope"]
    replayed = log.append(log.world.keys["supplier"], "contract.delivered", "contract/HM-1",
                          {"milestone_id": "m1", "delivered_on": "2026-07-02"},
                          nonce=encoding.decode(nonce)["nonce"])
    found = set(log.findings())
    assert (late, "revoked") in found
    assert (unknown, "key") in found
    assert (replayed, "nonce") not in found  # another signer's nonce: no reuse
    assert revoke not in {index for index, _check in found}
    again = log.append(log.world.keys["supplier"], "contract.delivered", "contract/HM-1",
                       {"milestone_id": "m2", "delivered_on": "2026-07-03"},
                       nonce=encoding.decode(log.decoded(replayed)["envelope"])["nonce"])
    assert (again, "nonce") in set(log.findings())


def test_a_log_that_does_not_open_with_the_operator_is_named(log: Log) -> None:
    log.leaves = log.leaves[2:]
    found = set(log.findings())
    assert (0, "genesis") in found and (1, "genesis") in found


@pytest.mark.parametrize("body", [{"vkey": 12345, "roles": ["operator"]},
                                  {"roles": "operator"}])
def test_a_malformed_operator_key_registration_is_named_not_a_crash(
        log: Log, body: dict[str, Any]) -> None:
    opening = log.decoded(1)
    sub = sign_envelope(log.world.operator, "key.registered", opening["stream"],
                        {**encoding.decode(opening["envelope"])["body"], **body},
                        signed_at=opening["recorded_at"], nonce=bytes([77]) * 16)
    log.leaves[1] = encode_leaf(opening["stream"], 2, "key.registered",
                                opening["recorded_at"], sub.envelope_bytes, sub.signature,
                                merkle.leaf_hash(log.leaves[0]))
    found = set(log.findings())
    assert (1, "genesis") in found and (0, "genesis") in found


def test_a_log_of_its_first_leaf_alone_says_that_leaf_was_not_checked(log: Log) -> None:
    log.leaves = log.leaves[:1]
    assert set(log.findings()) == {(0, "genesis")}


def test_a_fresh_ledger_audits_clean(tmp_path: Path) -> None:
    served = Served(tmp_path / "var", free_port())
    init_data_dir(served.data_dir)
    served.start()
    try:
        served.wait_for_checkpoint(2)
        code, report = audit("--server", served.url, "--log-key", served.log_vkey)
    finally:
        served.stop()
    assert code == 0, report["findings"]
    assert report["tree_size"] == 2 and report["signatures_checked"] == 2


def test_signature_checks_are_spread_over_worker_processes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sigcheck, "CHUNK", 16)
    key = SignerKey.from_seed(f"{SUPPLIER_ID}/bench", bytes(range(32)))
    jobs = []
    for i in range(300):
        signed = sign_envelope(key, "contract.delivered", "contract/HM-1",
                               {"milestone_id": "m1", "delivered_on": "2026-07-01"},
                               signed_at="2026-11-25T08:00:00Z", nonce=i.to_bytes(16, "big"))
        signature = signed.signature if i % 37 else bytes(64)
        jobs.append((i, key.name, key.public, signed.envelope_bytes, signature))
    checker = sigcheck.SignatureChecker(2, sigcheck.POOL_THRESHOLD)
    for job in jobs:
        checker.add(job)
    assert checker.finish() == list(range(0, 300, 37))
    assert (checker.processes, checker.workers, checker.checked) == (2, 1, 300)
