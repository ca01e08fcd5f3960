"""``ledger post``: payments from a treasury CSV, descriptions and submissions, receipts,
refusals, and re-runs after an interruption that record every payment exactly once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import msgpack
import pytest

from ledger.application import logged_event
from ledger.client import LedgerClient
from ledger.commands.logsource import ServerLog
from ledger.commands.post import (
    csv_nonce,
    items_from_csv,
    items_from_document,
    parse_payments_csv,
    parse_yuan,
)
from ledger.envelope import Submission, sign_envelope
from ledger.errors import InvalidInput
from ledger.keys import SignerKey
from tests.cli.conftest import Served, cli
from tests.factories import BUYER_ID, FINANCE_ID, SUPPLIER_ID

HEADER = "contract_id,payment_id,milestone_id,amount,paid_on,method,voucher_ref,purpose\n"
SIGNED_AT = "2026-11-26T00:00:00Z"


def write_key(directory: Path, name: str) -> tuple[Path, SignerKey]:
    key = SignerKey.generate(name)
    path = directory / (name.replace("/", "_") + ".key")
    key.write(path)
    return path, key


def payment_world(served: Served, directory: Path, *, contracts: int = 1,
                  value_fen: int = 100_000_000) -> dict[str, Path]:
    """Buyer, small supplier and a finance bureau paying for the buyer; contracts
    ``C0..`` of ``value_fen`` each (delivery basis, one milestone ``m1``). Set up with
    ``ledger post`` of event descriptions signed by the operator and the buyer."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = {label: write_key(directory, f"{party}/{label}")
            for label, party in (("buyer", BUYER_ID), ("supplier", SUPPLIER_ID),
                                 ("finance", FINANCE_ID))}
    parties = [
        {"party_id": BUYER_ID, "name": "哈密市工业和信息化局", "kind": "government"},
        {"party_id": SUPPLIER_ID, "name": "哈密天山软件科技有限公司", "kind": "enterprise",
         "scale": "small"},
        {"party_id": FINANCE_ID, "name": "哈密市财政局", "kind": "government",
         "pays_for": [BUYER_ID]},
    ]
    roles = {"buyer": ["buyer"], "supplier": ["enterprise"], "finance": ["finance"]}
    descriptions = [{"type": "party.registered", "stream": f"party/{p['party_id']}", "body": p}
                    for p in parties]
    for label, (_path, key) in keys.items():
        party = key.name.split("/", 1)[0]
        descriptions.append({"type": "key.registered", "stream": f"party/{party}",
                             "body": {"party_id": party, "vkey": key.verifier.vkey,
                                      "roles": roles[label]}})
    setup = directory / "parties.json"
    setup.write_text(json.dumps(descriptions, ensure_ascii=False), encoding="utf-8")
    result = cli("post", str(setup), "--key", str(served.operator_key), "--server", served.url,
                 "--receipts", str(directory / "setup-receipts.jsonl"))
    assert result.code == 0, result.err
    signed = [{"type": "contract.signed", "stream": f"contract/C{i}", "body": {
        "contract_id": f"C{i}", "buyer": BUYER_ID, "supplier": SUPPLIER_ID,
        "supplier_scale_at_signing": "small", "value_fen": value_fen,
        "signed_on": "2025-06-01", "document_sha256": f"{i:064x}",
        "payment_basis": "delivery",
        "milestones": [{"milestone_id": "m1", "description": "delivery",
                        "amount_fen": value_fen}],
        "responsible": {"department": "哈密市工业和信息化局", "official": "刘志强"}}}
        for i in range(contracts)]
    contracts_file = directory / "contracts.json"
    contracts_file.write_text(json.dumps(signed), encoding="utf-8")
    result = cli("post", str(contracts_file), "--key", str(keys["buyer"][0]), "--server",
                 served.url, "--receipts", str(directory / "setup-receipts.jsonl"))
    assert result.code == 0, result.err
    return {label: path for label, (path, _key) in keys.items()}


def payment_events(served: Served) -> list[dict[str, object]]:
    """Every payment.made in the log (read from the tiles of a checkpoint covering all)."""
    size = served.tree_size()
    served.wait_for_checkpoint(size)
    found = []
    for batch in ServerLog(served.url).batches(size, with_hashes=False):
        for offset, leaf in enumerate(batch.leaves):
            event = logged_event(batch.start + offset, leaf)
            if event.type == "payment.made":
                found.append({"stream": event.stream, **event.body})
    return found


def read_receipts(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# CSV parsing ------------------------------------------------------------------------
def test_treasury_csv_rows_become_exact_fen() -> None:
    data = ("\ufeff" + HEADER
            + "C0,P1,m1,\"1,480,000.00\",2025-12-10,transfer,V-1,principal\n"
            + "C0,P2,,0.05,2025-12-10,e_voucher,V-2,\n").encode()
    rows = parse_payments_csv(data)
    assert [r.body["amount_fen"] for r in rows] == [148_000_000, 5]
    assert rows[0].body == {"payment_id": "P1", "milestone_id": "m1", "amount_fen": 148_000_000,
                            "paid_on": "2025-12-10", "method": "transfer", "voucher_ref": "V-1",
                            "purpose": "principal"}
    assert "milestone_id" not in rows[1].body and rows[1].body["purpose"] == "principal"
    fen_rows = parse_payments_csv(b"contract_id,payment_id,amount_fen,paid_on,method,voucher_ref"
                                  b"\nC0,P3,1999,2025-12-11,bill,V-3\n")
    assert fen_rows[0].body["amount_fen"] == 1999
    assert parse_yuan("12345678901234567.89") == 1234567890123456789


@pytest.mark.parametrize(("row", "message"), [
    ("C0,P1,m1,12.5,2025-12-10,transfer,V,principal", "row 2: amount '12.5' must be yuan"),
    ("C0,P1,m1,1e5,2025-12-10,transfer,V,principal", "row 2: amount '1e5'"),
    ("C0,P1,m1,-1.00,2025-12-10,transfer,V,principal", "row 2: amount '-1.00'"),
    ("C0,P1,m1,0.00,2025-12-10,transfer,V,principal", "row 2, column amount: AMOUNT_NOT_POSITIVE"),
    ("C0,P1,m1,1.00,2025-02-30,transfer,V,principal", "row 2, column paid_on: INVALID_DATE"),
    ("C0,P1,m1,1.00,2025-12-10,cash,V,principal", "row 2, column method"),
    ("C0,P1,m1,1.00,2025-12-10,transfer,V,gift", "row 2, column purpose"),
    ("C 0,P1,m1,1.00,2025-12-10,transfer,V,principal", "row 2, column contract_id"),
    ("C0,P1,m1,1.00,2025-12-10,transfer,V", "row 2: 7 cells, the header has 8"),
])
def test_csv_errors_name_the_row_and_column(row: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_payments_csv((HEADER + row + "\n").encode())
    assert message in caught.value.message


def test_csv_header_and_duplicates_are_checked(tmp_path: Path) -> None:
    key_path, _key = write_key(tmp_path, f"{FINANCE_ID}/finance")
    cases = {
        "contract_id,payment_id,amount,paid_on,method\n": "lacks column(s) voucher_ref",
        HEADER.replace("purpose", "payee_name"): "unknown CSV column(s) payee_name",
        HEADER.replace("amount", "amount_fen,amount"): "exactly one of the columns amount",
        HEADER + "C0,P1,m1,1.00,2025-12-10,transfer,V,principal\n"
                 "C0,P1,m1,2.00,2025-12-11,transfer,V,principal\n": "already appears in row 2",
    }
    for number, (text, message) in enumerate(cases.items()):
        source = tmp_path / f"case{number}.csv"
        source.write_text(text, encoding="utf-8")
        result = cli("post", str(source), "--key", str(key_path), "--sign-only",
                     "--server", "http://127.0.0.1:9")
        assert result.code == 2, (text, result.err)
        assert message in result.err, result.err


def test_a_receipts_file_that_is_not_one_is_refused_untouched(tmp_path: Path) -> None:
    key_path, _key = write_key(tmp_path, f"{FINANCE_ID}/finance")
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "C0,P1,m1,1.00,2025-12-10,transfer,V,principal\n",
                      encoding="utf-8")
    for text in ('{\n  "note": "my settings"\n}', "settings = 1\nmore = 2"):
        notes = tmp_path / "notes.json"
        notes.write_text(text, encoding="utf-8")
        result = cli("post", str(source), "--key", str(key_path), "--sign-only",
                     "--signed-at", SIGNED_AT, "--receipts", str(notes))
        assert result.code == 2, result.err
        assert "not a receipt line" in result.err
        assert notes.read_text(encoding="utf-8") == text


def test_a_rerun_signs_byte_identical_envelopes() -> None:
    key = SignerKey.from_seed(f"{FINANCE_ID}/finance", bytes(range(32)))
    csv = (HEADER + "C0,P1,m1,1.00,2025-12-10,transfer,V-1,principal\n"
           "C1,P1,m1,2.00,2025-12-10,transfer,V-2,principal\n").encode()
    first = items_from_csv(parse_payments_csv(csv), key, SIGNED_AT)
    again = items_from_csv(parse_payments_csv(csv), key, SIGNED_AT)
    assert [i.submission for i in first] == [i.submission for i in again]
    # The nonce is the payment's identity (signer, stream, payment_id), whatever the file.
    assert first[0].nonce == csv_nonce(key.name, "contract/C0", "P1") != first[1].nonce
    corrected = items_from_csv(parse_payments_csv(
        (HEADER + "C0,P1,m1,9.00,2025-12-12,transfer,V-1,principal\n").encode()), key,
        "2026-11-27T00:00:00Z")
    assert corrected[0].nonce == first[0].nonce
    assert corrected[0].submission != first[0].submission


# Against a server -------------------------------------------------------------------
def test_receipts_and_reruns_record_each_payment_once(served: Served, tmp_path: Path) -> None:
    keys = payment_world(served, tmp_path / "world")
    source = tmp_path / "payments.csv"
    source.write_text(HEADER + "".join(
        f"C0,P{i},m1,{i}.00,2025-12-10,transfer,V-{i},principal\n" for i in range(1, 4)),
        encoding="utf-8")
    receipts = tmp_path / "receipts.jsonl"
    command = ("post", str(source), "--key", str(keys["finance"]), "--server", served.url,
               "--receipts", str(receipts))
    first = cli(*command)
    assert first.code == 0, first.err
    lines = read_receipts(receipts)
    assert [(r["row"], r["payment_id"], r["stream"]) for r in lines] == [
        (2, "P1", "contract/C0"), (3, "P2", "contract/C0"), (4, "P3", "contract/C0")]
    size = served.tree_size()

    again = cli(*command)  # same file, same receipts: everything is skipped
    assert again.code == 0 and "0 event(s) posted" in again.err
    assert "3 already had receipts" in again.err
    assert read_receipts(receipts) == lines

    elsewhere = tmp_path / "other-receipts.jsonl"  # no receipts to skip by: re-posted
    third = cli("post", str(source), "--key", str(keys["finance"]), "--server", served.url,
                "--receipts", str(elsewhere))
    assert third.code == 0, third.err
    assert "(3 of them recorded before: answered with their original receipts)" in third.err
    assert read_receipts(elsewhere) == lines  # the server answered with the same receipts
    assert served.tree_size() == size
    assert Counter(p["payment_id"] for p in payment_events(served)) == {"P1": 1, "P2": 1,
                                                                        "P3": 1}

    # A re-export that changed a receipted payment: named, not silently skipped.
    source.write_text(HEADER + "".join(
        f"C0,P{i},m1,{i + (5 if i == 2 else 0)}.00,2025-12-10,transfer,V-{i},principal\n"
        for i in range(1, 4)), encoding="utf-8")
    changed = cli(*command)
    assert changed.code == 2, changed.err
    assert "2 already had receipts" in changed.err
    assert "refused row 3 (C0 P2)" in changed.err
    assert f"recorded before with other content (leaf {lines[1]['leaf_index']}" in changed.err
    assert served.tree_size() == size and read_receipts(receipts) == lines


def test_a_new_file_does_not_take_signed_at_from_another_files_receipts(
        served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A department keeps one receipts file for every day's export. A new export took
    signed_at from the newest receipt by the same signer, whatever input it came from:
    once that was older than the server's acceptance window, every row was refused."""
    keys = payment_world(served, tmp_path / "world")
    receipts = tmp_path / "receipts.jsonl"
    # An earlier day's run left this receipt (its row signed long ago, as the server
    # would no longer accept for anything new).
    receipts.write_text(json.dumps({
        "row": 2, "payment_id": "P1", "contract_id": "C0", "stream": "contract/C0",
        "signer": SignerKey.read(keys["finance"]).name, "nonce": "00" * 16,
        "signed_at": "2020-01-01T00:00:00Z", "leaf_index": 5, "leaf_hash": "ab" * 32}) + "\n")
    monkeypatch.setenv("LEDGER_STATE_DIR", str(tmp_path / "fresh-state"))
    tuesday = tmp_path / "tuesday.csv"
    tuesday.write_text(HEADER + "C0,P2,m1,2.00,2025-12-11,transfer,V-2,principal\n",
                       encoding="utf-8")
    second = cli("post", str(tuesday), "--key", str(keys["finance"]), "--server", served.url,
                 "--receipts", str(receipts))
    assert second.code == 0, second.err
    assert "warning: signing with signed_at" not in second.err
    [tuesday_receipt] = [r for r in read_receipts(receipts) if r.get("payment_id") == "P2"]
    assert tuesday_receipt["signed_at"] != "2020-01-01T00:00:00Z"


def test_a_batch_recorded_but_not_receipted_is_answered_again(
        served: Served, tmp_path: Path) -> None:
    keys = payment_world(served, tmp_path / "world")
    source = tmp_path / "payments.csv"
    source.write_text(HEADER + "".join(
        f"C0,P{i},m1,1.00,2025-12-10,transfer,V-{i},principal\n" for i in range(6)),
        encoding="utf-8")
    # A first run was killed after the server recorded its first batch, before the
    # receipts were written.
    items = items_from_csv(parse_payments_csv(source.read_bytes()),
                           SignerKey.read(keys["finance"]), SIGNED_AT)
    with LedgerClient(served.url) as client:
        status, early = client.post_batch([item.submission for item in items[:2]])
    assert status == 201
    receipts = tmp_path / "receipts.jsonl"
    result = cli("post", str(source), "--key", str(keys["finance"]), "--server", served.url,
                 "--receipts", str(receipts), "--signed-at", SIGNED_AT, "--batch-size", "4")
    assert result.code == 0, result.err
    lines = read_receipts(receipts)
    assert [r["leaf_hash"] for r in lines[:2]] == [r["leaf_hash"] for r in early]
    assert len({r["leaf_index"] for r in lines}) == 6
    assert Counter(p["payment_id"] for p in payment_events(served)) == {
        f"P{i}": 1 for i in range(6)}


def test_a_refused_row_stops_the_run_and_names_it(served: Served, tmp_path: Path) -> None:
    keys = payment_world(served, tmp_path / "world", value_fen=1_000)
    source = tmp_path / "payments.csv"
    source.write_text(HEADER + "C0,P1,m1,2.00,2025-12-10,transfer,V-1,principal\n"
                      "C0,P2,m1,9.00,2025-12-10,transfer,V-2,principal\n"
                      "C0,P3,m1,3.00,2025-12-10,transfer,V-3,principal\n", encoding="utf-8")
    before = served.tree_size()
    refused = cli("post", str(source), "--key", str(keys["finance"]), "--server", served.url,
                  "--receipts", str(tmp_path / "r.jsonl"))
    assert refused.code == 2
    assert "row 3 (C0 P2): 422 OVERPAYMENT" in refused.err
    assert "nothing of it was recorded" in refused.err
    assert served.tree_size() == before

    kept = cli("post", str(source), "--key", str(keys["finance"]), "--server", served.url,
               "--receipts", str(tmp_path / "r.jsonl"), "--keep-going")
    assert kept.code == 2
    assert "refused row 3 (C0 P2)" in kept.err
    assert sorted(p["payment_id"] for p in payment_events(served)) == ["P1", "P3"]


def test_descriptions_submissions_and_msgpack(served: Served, tmp_path: Path) -> None:
    keys = payment_world(served, tmp_path / "world")
    finance = SignerKey.read(keys["finance"])
    pay = {"payment_id": "J1", "milestone_id": "m1", "amount_fen": 100, "paid_on": "2025-12-10",
           "method": "transfer", "voucher_ref": "V-J1", "purpose": "principal"}
    described = tmp_path / "described.json"
    described.write_text(json.dumps([{"type": "payment.made", "stream": "contract/C0",
                                      "body": pay}]), encoding="utf-8")
    without_key = cli("post", str(described), "--server", served.url)
    assert without_key.code == 2 and "give --key FILE" in without_key.err
    floats = tmp_path / "floats.json"
    floats.write_text(json.dumps([{"type": "payment.made", "stream": "contract/C0",
                                   "body": {**pay, "amount_fen": 1.5}}]), encoding="utf-8")
    refused = cli("post", str(floats), "--key", str(keys["finance"]), "--server", served.url)
    assert refused.code == 2 and "floats are not allowed" in refused.err
    result = cli("post", str(described), "--key", str(keys["finance"]), "--server", served.url)
    assert result.code == 0, result.err
    assert json.loads(result.out.splitlines()[0])["stream"] == "contract/C0"

    signed = [sign_envelope(finance, "payment.made", "contract/C0", {**pay, "payment_id": p,
                                                                       "voucher_ref": p})
              for p in ("J2", "J3")]
    as_json = tmp_path / "signed.json"
    as_json.write_text(json.dumps([s.to_json_map() for s in signed]), encoding="utf-8")
    assert cli("post", str(as_json), "--server", served.url).code == 0
    as_msgpack = tmp_path / "signed.bin"  # no telling suffix: recognised by its first byte
    as_msgpack.write_bytes(msgpack.packb(sign_envelope(
        finance, "payment.made", "contract/C0", {**pay, "payment_id": "J4",
                                                 "voucher_ref": "J4"}).to_msgpack_map()))
    assert cli("post", str(as_msgpack), "--server", served.url).code == 0
    assert sorted(p["payment_id"] for p in payment_events(served)) == ["J1", "J2", "J3", "J4"]


def events_of_type(served: Served, type_: str) -> list[dict[str, object]]:
    size = served.tree_size()
    served.wait_for_checkpoint(size)
    return [event.body for batch in ServerLog(served.url).batches(size, with_hashes=False)
            for offset, leaf in enumerate(batch.leaves)
            if (event := logged_event(batch.start + offset, leaf)).type == type_]


def test_a_description_file_corrected_and_run_again_records_each_event_once(
        served: Served, tmp_path: Path) -> None:
    """The second of two described settlements is refused; the user corrects it and runs
    the same command again, as the refusal says: the first, already recorded, is
    recognised (its nonce is its own content's), not recorded a second time. Identical
    descriptions within one file stay distinct events."""
    keys = payment_world(served, tmp_path / "world", value_fen=1_000)

    def settlement(amount: int, day: str) -> dict[str, object]:
        return {"type": "contract.settlement_confirmed", "stream": "contract/C0",
                "body": {"milestone_id": "m1", "amount_fen": amount, "confirmed_on": day}}

    described = tmp_path / "settlements.json"
    receipts = tmp_path / "receipts.jsonl"
    command = ("post", str(described), "--key", str(keys["buyer"]), "--server", served.url,
               "--receipts", str(receipts), "--batch-size", "1")
    described.write_text(json.dumps([settlement(500, "2025-07-01"),
                                     settlement(5000, "2025-07-02")]), encoding="utf-8")
    first = cli(*command)
    assert first.code == 2 and "item 1" in first.err, first.err
    described.write_text(json.dumps([settlement(500, "2025-07-01"),
                                     settlement(400, "2025-07-02")]), encoding="utf-8")
    second = cli(*command)
    assert second.code == 0, second.err
    assert [e["amount_fen"] for e in events_of_type(served, "contract.settlement_confirmed")
            ] == [500, 400]
    assert len(read_receipts(receipts)) == 2
    # Without the receipts file, the server itself recognises what it holds: the input
    # keeps the signed_at it took from the receipts, even a second or more later.
    time.sleep(1.1)
    again = cli("post", str(described), "--key", str(keys["buyer"]), "--server", served.url)
    assert again.code == 0, again.err
    assert len(events_of_type(served, "contract.settlement_confirmed")) == 2


def test_identical_descriptions_in_one_file_get_distinct_nonces() -> None:
    key = SignerKey.from_seed(f"{BUYER_ID}/buyer", bytes(range(32)))
    same = {"type": "milestone.disputed", "stream": "contract/C0",
            "body": {"milestone_id": "m1", "reason": "late", "disputed_on": "2025-07-01"}}
    other = {**same, "body": {**same["body"], "reason": "incomplete"}}
    items = items_from_document([same, other, same], key, "2025-07-02T00:00:00Z")
    nonces = [item.nonce for item in items]
    assert len(set(nonces)) == 3
    # Editing or removing another item leaves an item's nonce alone.
    alone = items_from_document([same, same], key, "2025-07-02T00:00:00Z")
    assert [i.nonce for i in alone] == [nonces[0], nonces[2]]


def test_an_unreachable_server_exits_3(tmp_path: Path) -> None:
    key_path, _key = write_key(tmp_path, f"{FINANCE_ID}/finance")
    source = tmp_path / "p.csv"
    source.write_text(HEADER + "C0,P1,m1,1.00,2025-12-10,transfer,V,principal\n",
                      encoding="utf-8")
    result = cli("post", str(source), "--key", str(key_path), "--server", "http://127.0.0.1:9")
    assert result.code == 3
    assert "cannot reach the ledger server at http://127.0.0.1:9" in result.err


def test_ten_thousand_rows_killed_half_way_then_rerun_record_each_payment_once(
        served: Served, tmp_path: Path) -> None:
    keys = payment_world(served, tmp_path / "world", contracts=10, value_fen=100_000_000)
    source = tmp_path / "treasury-export.csv"
    source.write_text(HEADER + "".join(
        f"C{i % 10},HMCZ-{i:05d},m1,1000.00,2025-12-{1 + i % 28:02d},transfer,"
        f"V-{i:05d},principal\n" for i in range(10_000)), encoding="utf-8")
    receipts = tmp_path / "receipts.jsonl"
    command = [sys.executable, "-m", "ledger.cli", "post", str(source), "--key",
               str(keys["finance"]), "--server", served.url, "--receipts", str(receipts),
               "--batch-size", "500"]
    env = {**os.environ, "LEDGER_STATE_DIR": os.environ["LEDGER_STATE_DIR"]}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while _lines(receipts) < 2_500:
            assert first.poll() is None, "the first run ended before it could be interrupted"
            assert time.monotonic() < deadline, "the first run made no progress"
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait()
    interrupted_at = _lines(receipts)
    assert first.returncode == -signal.SIGKILL
    assert 2_500 <= interrupted_at < 10_000

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{10_000 - interrupted_at} event(s) posted" in rerun.stderr

    lines = read_receipts(receipts)
    assert len(lines) == 10_000
    assert sorted(r["row"] for r in lines) == list(range(2, 10_002))
    assert len({r["leaf_index"] for r in lines}) == 10_000
    recorded = Counter(str(p["payment_id"]) for p in payment_events(served))
    assert len(recorded) == 10_000 and set(recorded.values()) == {1}

    # The whole log still audits clean, signatures checked on every core.
    served.wait_for_checkpoint(served.tree_size())
    audit = cli("--json", "audit", "--server", served.url, "--log-key", served.log_vkey,
                "--as-of", "2026-12-31")
    assert audit.code == 0, audit.out
    report = audit.json()
    assert report["ok"] and report["leaves_checked"] == served.tree_size()
    assert report["processes"] == (os.cpu_count() or 1)


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_a_csv_on_stdin_is_signed_offline(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key_path, key = write_key(tmp_path, f"{FINANCE_ID}/finance")
    data = (HEADER + "C0,P1,m1,12.34,2025-12-10,transfer,V-1,principal\n").encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = cli("post", "-", "--key", str(key_path), "--sign-only", "--signed-at", SIGNED_AT)
    assert result.code == 0, result.err
    [submission] = [Submission.from_wire(s) for s in json.loads(result.out)]
    envelope = submission.decode()
    assert (envelope.signer, envelope.signed_at, envelope.body["amount_fen"]) == (
        key.name, SIGNED_AT, 1234)
    assert envelope.nonce == csv_nonce(key.name, "contract/C0", "P1")
    assert submission.verify_with(key.verifier)
