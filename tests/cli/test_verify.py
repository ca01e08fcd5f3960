"""``ledger verify``: an enterprise checks its contract by document hash, a finance bureau
its receipts; neither trusts the server, and a forked log is caught with both checkpoints."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ledger.commands import verify as verify_command
from ledger.keys import SignerKey
from tests.cli.conftest import Served, TamperingProxy, cli, init_data_dir
from tests.e2e.served_process import free_port, start_server

LEAF_OF_PAYMENT = b"HMCZ-2025-07-0233"  # the ZJ-007 payment of 2025-07-20 in the demo


def demo_file(served: Served, *parts: str) -> str:
    return str(served.data_dir.joinpath("demo", *parts))


def test_a_contract_is_verified_by_its_document_hash(demo_served: Served) -> None:
    document = demo_file(demo_served, "documents", "HM-2025-ZJ-011.txt")
    first = cli("--json", "verify", "--document", document, "--server", demo_served.url,
                "--log-key", demo_served.log_vkey)
    assert first.code == 0, first.err
    result = first.json()
    digest = hashlib.sha256(Path(document).read_bytes()).hexdigest()
    assert result["document"]["sha256"] == digest
    assert [(e["type"], e["fields"]) for e in result["events"]] == [
        ("contract.signed", ["document_sha256"])]
    history = result["histories"]["contract/HM-2025-ZJ-011"]
    assert [e["type"] for e in history] == [
        "contract.signed", "contract.countersigned", "contract.delivered", "contract.accepted",
        "milestone.disputed", "payment.made", "dispute.resolved", "payment.made"]
    assert result["consistent_with_size"] is None  # first run: remembered

    again = cli("verify", "--document", document, "--server", demo_served.url,
                "--log-key", demo_served.log_vkey)
    assert again.code == 0, again.err
    assert f"proven with the checkpoint of size {result['checkpoint']['size']}" in again.out
    assert "8 event(s), each included, signed and chained" in again.out


def test_a_commitment_document_and_a_consultation_record(demo_served: Served) -> None:
    record = demo_file(demo_served, "documents", "HM-CN-2024-022-consultation.txt")
    result = cli("--json", "verify", "--document", record, "--server", demo_served.url,
                 "--log-key", demo_served.log_vkey)
    assert result.code == 0, result.err
    named = result.json()["events"]
    assert [(e["type"], e["fields"]) for e in named] == [
        ("commitment.changed", ["consultation.record_sha256"])]
    history = result.json()["histories"]["commitment/HM-CN-2024-022"]
    assert [e["type"] for e in history][-2:] == ["compensation.determined", "compensation.paid"]


def test_a_receipt_is_verified_by_its_leaf_hash(demo_served: Served) -> None:
    receipts = Path(demo_file(demo_served, "receipts.jsonl")).read_text().splitlines()
    receipt = json.loads(receipts[0])
    result = cli("--json", "verify", "--leaf-hash", receipt["leaf_hash"], "--server",
                 demo_served.url, "--log-key", demo_served.log_vkey)
    assert result.code == 0, result.err
    event = result.json()["event"]
    assert (event["leaf_index"], event["type"], event["body"]["payment_id"]) == (
        receipt["leaf_index"], "payment.made", "HMCZ-2025-12-0031")
    assert event["signer"].endswith("/treasury")


def test_the_opening_leaves_verify_under_the_operator_key_they_register(
        demo_served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaf 0 is signed by the key leaf 1 registers, and leaf 1 by that key itself: checking
    leaf 0 verifies leaf 1's own signature too."""
    checked: list[int] = []
    real = verify_command.EventVerifier.event

    def noting(self: Any, index: int, *args: Any, **kwargs: Any) -> Any:
        checked.append(index)
        return real(self, index, *args, **kwargs)

    monkeypatch.setattr(verify_command.EventVerifier, "event", noting)
    with urllib.request.urlopen(f"{demo_served.url}/v1/log/entries/0") as response:
        digest = hashlib.sha256(b"\x00" + response.read()).hexdigest()
    assert verify_command.run(verify_command_args(demo_served, digest)) == 0
    assert checked == [0, 1]


def verify_command_args(served: Served, leaf_hash: str) -> Any:
    import argparse

    return argparse.Namespace(log_key=served.log_vkey, server=served.url, document=None,
                              leaf_hash=leaf_hash, receipts=None, json=True, progress=False)


def test_a_revocation_the_listing_invents_does_not_count(demo_served: Served) -> None:
    """The party stream is listed by the server; a key.revoked it adds there (pointing at
    a leaf that is no revocation) must not make a sound event fail: revocations count as
    the signed tree holds them."""
    def invent(path: str, body: bytes) -> bytes:
        if not path.startswith("/v1/streams/party/"):
            return body
        document = json.loads(body)
        events = document.get("events", [])
        for e in list(events):
            if e.get("type") == "key.registered":
                events.append({**e, "type": "key.revoked", "body": {
                    "key_name": e["body"]["vkey"].split("+", 1)[0], "reason": "invented",
                    "effective_at": "2020-01-01T00:00:00Z"}})
        return json.dumps(document).encode()

    receipt = json.loads(Path(demo_file(demo_served, "receipts.jsonl")).read_text()
                         .splitlines()[0])
    with TamperingProxy(demo_served.url, invent) as proxy:
        result = cli("verify", "--leaf-hash", receipt["leaf_hash"], "--server", proxy.url,
                     "--log-key", demo_served.log_vkey)
    assert result.code == 0, result.err


@pytest.mark.parametrize("above", [64, 0], ids=["proofs", "tiles"])
def test_a_receipts_file_is_checked_against_the_signed_tree(
        demo_served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        above: int) -> None:
    monkeypatch.setattr(verify_command, "TILE_STRATEGY_ABOVE", above)
    receipts = Path(demo_file(demo_served, "receipts.jsonl"))
    result = cli("--json", "verify", "--receipts", str(receipts), "--server", demo_served.url,
                 "--log-key", demo_served.log_vkey)
    assert result.code == 0, result.err
    assert result.json()["receipts"]["verified"] == 4
    forged = tmp_path / "forged.jsonl"
    lines = receipts.read_text().splitlines()
    record = json.loads(lines[1])
    record["leaf_hash"] = "00" * 32
    forged.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    refused = cli("verify", "--receipts", str(forged), "--server", demo_served.url,
                  "--log-key", demo_served.log_vkey)
    assert refused.code == 1
    assert f"leaf {record['leaf_index']}" in refused.err
    # A second receipt for a leaf, with another hash (a submission the server answered
    # but did not record), is caught whichever of the two comes last.
    record = json.loads(lines[1])
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_text("\n".join([*lines, json.dumps({**record, "leaf_hash": "11" * 32})])
                       + "\n")
    twice = cli("verify", "--receipts", str(doubled), "--server", demo_served.url,
                "--log-key", demo_served.log_vkey)
    assert twice.code == 1 and f"two receipts name leaf {record['leaf_index']}" in twice.err
    # Indices that name no leaf are not receipts (nor counted as verified).
    for index in (-3, 2.5, True, "4"):
        odd = tmp_path / "odd.jsonl"
        odd.write_text("\n".join([*lines, json.dumps({**record, "leaf_index": index})])
                       + "\n")
        bad = cli("verify", "--receipts", str(odd), "--server", demo_served.url,
                  "--log-key", demo_served.log_vkey)
        assert bad.code == 2 and "not a receipt line" in bad.err, (index, bad.err)


def test_what_the_log_does_not_hold_fails_with_1(demo_served: Served, tmp_path: Path) -> None:
    unknown = tmp_path / "unknown-contract.txt"
    unknown.write_text("合同编号 HM-2025-XX-999\n", encoding="utf-8")
    result = cli("verify", "--document", str(unknown), "--server", demo_served.url,
                 "--log-key", demo_served.log_vkey)
    assert result.code == 1
    assert "no event in the log names document" in result.err
    missing = cli("verify", "--leaf-hash", "ab" * 32, "--server", demo_served.url,
                  "--log-key", demo_served.log_vkey)
    assert missing.code == 1 and "is not in the log" in missing.err


def test_the_log_key_is_required_and_checked(demo_served: Served, tmp_path: Path) -> None:
    document = demo_file(demo_served, "documents", "HM-2025-GX-014.txt")
    without = cli("verify", "--document", document, "--server", demo_served.url)
    assert without.code == 2 and "--log-key" in without.err
    impostor = SignerKey.generate("commitment-ledger.local/log").verifier.vkey
    wrong = cli("verify", "--document", document, "--server", demo_served.url,
                "--log-key", impostor)
    assert wrong.code == 1 and "VERIFICATION FAILED" in wrong.err
    key_file = tmp_path / "log.vkey"
    key_file.write_text(demo_served.log_vkey + "\n")
    from_file = cli("verify", "--document", document, "--server", demo_served.url,
                    "--log-key", str(key_file))
    assert from_file.code == 0, from_file.err
    unreachable = cli("verify", "--document", document, "--server", "http://127.0.0.1:9",
                      "--log-key", str(key_file))
    assert unreachable.code == 3


@pytest.mark.parametrize("answer", [b"{}", b"[]", b'{"leaf_index": "x"}'])
def test_an_answer_of_another_shape_fails_verification_in_one_line(
        demo_served: Served, answer: bytes) -> None:
    def reshape(path: str, body: bytes) -> bytes:
        return answer if path.startswith("/v1/log/proof/inclusion") else body

    with TamperingProxy(demo_served.url, reshape) as proxy:
        document = demo_file(demo_served, "documents", "HM-2025-ZJ-007.txt")
        result = cli("verify", "--document", document, "--server", proxy.url,
                     "--log-key", demo_served.log_vkey)
    assert result.code == 1, result.err
    assert result.err.startswith("error: VERIFICATION FAILED: "), result.err
    assert "Traceback" not in result.err and len(result.err.splitlines()) == 1


def test_an_entry_served_altered_is_refused(demo_served: Served) -> None:
    def alter(path: str, body: bytes) -> bytes:
        if path.startswith(("/v1/log/entries/", "/v1/log/tile/entries/")):
            return body.replace(LEAF_OF_PAYMENT, b"HMCZ-2025-07-0833")
        return body

    with TamperingProxy(demo_served.url, alter) as proxy:
        document = demo_file(demo_served, "documents", "HM-2025-ZJ-007.txt")
        result = cli("verify", "--document", document, "--server", proxy.url,
                     "--log-key", demo_served.log_vkey)
    assert result.code == 1
    assert "is not the leaf the signed tree holds" in result.err


def post_lpr(served: Served, tmp_path: Path, name: str, effective_on: str,
             basis_points: int) -> dict[str, object]:
    description = tmp_path / f"{name}.json"
    description.write_text(json.dumps({"type": "rate.lpr_published", "stream": "reference/lpr",
                                       "body": {"effective_on": effective_on,
                                                "one_year_bp": basis_points}}))
    result = cli("post", str(description), "--key", str(served.operator_key), "--server",
                 served.url)
    assert result.code == 0, result.err
    receipt: dict[str, object] = json.loads(result.out.splitlines()[0])
    served.wait_for_checkpoint(int(str(receipt["leaf_index"])) + 1)
    return receipt


def test_a_fork_is_caught_with_both_checkpoints(tmp_path: Path) -> None:
    # Two copies of one log, served in turn at the same address with the same log key.
    honest = Served(tmp_path / "a" / "var", free_port())
    init_data_dir(honest.data_dir)
    honest.start()
    post_lpr(honest, tmp_path, "common", "2024-10-21", 310)
    honest.stop()
    fork = honest.copy_to(tmp_path / "b" / "var")
    honest.start()
    try:
        shown = post_lpr(honest, tmp_path, "honest", "2025-05-20", 300)
        first = cli("verify", "--leaf-hash", str(shown["leaf_hash"]), "--server", honest.url,
                    "--log-key", honest.log_vkey)
        assert first.code == 0, first.err
        remembered = _checkpoint_text(honest)
    finally:
        honest.stop()
    fork.start()
    try:
        rewritten = post_lpr(fork, tmp_path, "forked", "2025-05-20", 250)
        post_lpr(fork, tmp_path, "more", "2025-06-20", 250)
        presented = _checkpoint_text(fork)
        caught = cli("verify", "--leaf-hash", str(rewritten["leaf_hash"]), "--server", fork.url,
                     "--log-key", fork.log_vkey)
        audited = cli("audit", "--server", fork.url, "--log-key", fork.log_vkey,
                      "--as-of", "2026-12-31")
    finally:
        fork.stop()
    assert caught.code == 1
    assert "FORK EVIDENCE" in caught.out
    assert remembered in caught.out and presented in caught.out
    evidence = sorted((tmp_path / "state" / "evidence").glob("fork-*.json"))
    saved = json.loads(evidence[0].read_text())
    assert (saved["remembered_checkpoint"], saved["presented_checkpoint"]) == (
        remembered, presented)
    # The audit of the forked server finds its own log sound, and the fork all the same.
    assert audited.code == 1
    assert "fork" in audited.out and remembered in audited.out and presented in audited.out


def test_a_server_answering_503_is_unavailable_not_forked(tmp_path: Path) -> None:
    """A consistency proof or read model answered 503 (a proxy before a server that is
    down) says nothing about the log: exit 3, no fork evidence, and the next run, with the
    server back, verifies."""
    served = Served(tmp_path / "var", free_port())
    init_data_dir(served.data_dir)
    served.start()
    down: list[str] = []  # path prefixes the proxy answers 503 for
    proxy = TamperingProxy(served.url, lambda _path, body: body,
                           unavailable=lambda path: any(path.startswith(p) for p in down))
    try:
        with proxy:
            first = post_lpr(served, tmp_path, "first", "2024-10-21", 310)
            remembered = cli("verify", "--leaf-hash", str(first["leaf_hash"]), "--server",
                             proxy.url, "--log-key", served.log_vkey)
            assert remembered.code == 0, remembered.err
            later = post_lpr(served, tmp_path, "later", "2025-05-20", 300)
            down[:] = ["/v1/log/proof/consistency"]
            refused = cli("verify", "--leaf-hash", str(later["leaf_hash"]), "--server",
                          proxy.url, "--log-key", served.log_vkey)
            down[:] = ["/v1/arrears"]
            audited = cli("audit", "--server", proxy.url, "--log-key", served.log_vkey,
                          "--as-of", "2026-12-31")
            down[:] = []
            again = cli("verify", "--leaf-hash", str(later["leaf_hash"]), "--server",
                        proxy.url, "--log-key", served.log_vkey)
    finally:
        served.stop()
    assert refused.code == 3, (refused.out, refused.err)
    assert "FORK" not in refused.out + refused.err and "503" in refused.err
    assert not list((tmp_path / "state").glob("evidence/*"))
    assert audited.code == 3, (audited.out, audited.err)
    assert "503" in audited.err
    assert again.code == 0, again.err


def _checkpoint_text(served: Served) -> str:
    import urllib.request

    with urllib.request.urlopen(served.url + "/v1/log/checkpoint", timeout=5) as response:
        text: str = response.read().decode()
    return text


def test_verifying_just_after_recording_waits_for_the_next_checkpoint(tmp_path: Path) -> None:
    """Right after recording, the latest checkpoint does not cover the new leaf yet: the
    receipt or leaf hash was answered 'run again shortly' (exit 0, nothing verified) or a
    400 (exit 2). Verify waits, boundedly, for the checkpoint that covers it."""
    data_dir = tmp_path / "var"
    init_data_dir(data_dir)
    port = free_port()
    server = start_server(data_dir, port=port, extra_env={"LEDGER_CHECKPOINT_INTERVAL": "3"})
    try:
        served = Served(data_dir, port, server)
        served.wait_for_checkpoint(served.tree_size())
        description = tmp_path / "lpr.json"
        description.write_text(json.dumps([{
            "type": "rate.lpr_published", "stream": "reference/lpr",
            "body": {"effective_on": "2025-05-20", "one_year_bp": 300}}]))
        receipts = tmp_path / "receipts.jsonl"
        posted = cli("post", str(description), "--key", str(served.operator_key),
                     "--server", served.url, "--receipts", str(receipts))
        assert posted.code == 0, posted.err
        leaf_hash = json.loads(receipts.read_text().splitlines()[0])["leaf_hash"]
        assert served.checkpoint_size() < served.tree_size()  # not covered yet
        by_hash = cli("verify", "--leaf-hash", leaf_hash, "--server", served.url,
                      "--log-key", served.log_vkey)
        assert by_hash.code == 0, by_hash.err
        assert "rate.lpr_published" in by_hash.out
        by_receipts = cli("--json", "verify", "--receipts", str(receipts), "--server",
                          served.url, "--log-key", served.log_vkey)
        assert by_receipts.code == 0 and by_receipts.json()["receipts"]["verified"] == 1
    finally:
        server.stop()


def test_a_receipt_no_checkpoint_ever_covers_is_not_verified(
        demo_served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A receipt naming a leaf beyond the log printed VERIFIED with exit 0 ('0 in the
    signed tree, 1 recorded after this checkpoint')."""
    monkeypatch.setattr(verify_command, "COVER_WAIT", 1.0)
    monkeypatch.setattr(verify_command, "COVER_POLL", 0.2)
    real = json.loads(Path(demo_file(demo_served, "receipts.jsonl")).read_text()
                      .splitlines()[0])
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps(real) + "\n"
                      + json.dumps({"leaf_index": 999_999, "leaf_hash": "ab" * 32}) + "\n")
    result = cli("verify", "--receipts", str(forged), "--server", demo_served.url,
                 "--log-key", demo_served.log_vkey)
    assert result.code == 1, (result.out, result.err)
    assert "VERIFIED" not in result.out
    assert "leaf 999999" in result.err and "not verified" in result.err


def test_local_files_of_another_kind_are_usage_errors(demo_served: Served,
                                                      tmp_path: Path) -> None:
    """A UTF-16 key file, a receipts file that is not UTF-8 and a --database that is no
    database were tracebacks with exit 1 (read by scripts as tampering), or blamed the
    server ('its answer could not be read')."""
    u16 = tmp_path / "u16.key"
    u16.write_text("PRIVATE+KEY+x", encoding="utf-16")
    u16.chmod(0o600)
    csv = tmp_path / "p.csv"
    csv.write_text("contract_id\n")
    receipts = tmp_path / "receipts.jsonl"
    receipts.write_bytes(b'{"leaf_index": 1, "leaf_hash": "\xff"}\n')
    not_a_database = tmp_path / "notadb.sqlite3"
    not_a_database.write_bytes(b"this is not a database file" * 100)
    for args, says in (
            (("post", str(csv), "--key", str(u16)), "not UTF-8"),
            (("verify", "--leaf-hash", "ab" * 32, "--log-key", str(u16), "--server",
              demo_served.url), "not UTF-8"),
            (("verify", "--receipts", str(receipts), "--log-key", demo_served.log_vkey,
              "--server", demo_served.url), "not a receipts file"),
            (("audit", "--database", f"sqlite:///{not_a_database}"), "cannot be read"),
            (("report", "arrears", "--database", f"sqlite:///{not_a_database}"),
             "cannot be read")):
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert says in result.err and "Traceback" not in result.err, (args, result.err)
