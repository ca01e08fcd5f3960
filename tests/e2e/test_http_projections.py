"""Read models over HTTP: arrears with late interest, breaches, compensation, contracts,
documents with client-verified proofs, and the as-of-tree-size view."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.verify import verify_inclusion_document
from projections.store import ProjectionMismatch
from server.app import SERVICES
from tests.e2e.conftest import Served
from tests.factories import BUYER_ID, SUPPLIER_ID, World, contract_body

STREAM = "contract/HM-2025-007"
DOC = "5e" * 32


def worked_example(w: World) -> list[Any]:
    """DESIGN 5: 200,000.00 yuan, accepted 2025-07-05, term 30, paid 2025-08-20."""
    body = contract_body("HM-2025-007", signed_on="2025-06-01", value_fen=20_000_000,
                         document_sha256=DOC, milestones=[
                             {"milestone_id": "m1", "description": "equipment",
                              "amount_fen": 20_000_000}])
    return [
        w.post(w.keys["buyer"], "contract.signed", STREAM, body),
        w.post(w.keys["supplier"], "contract.countersigned", STREAM, {"party_id": SUPPLIER_ID}),
        w.post(w.keys["supplier"], "contract.delivered", STREAM,
               {"milestone_id": "m1", "delivered_on": "2025-07-01"}),
        w.post(w.keys["buyer"], "contract.accepted", STREAM,
               {"milestone_id": "m1", "accepted_on": "2025-07-05", "result": "passed"}),
        w.post(w.keys["finance"], "payment.made", STREAM, {
            "payment_id": "P1", "milestone_id": "m1", "amount_fen": 20_000_000,
            "paid_on": "2025-08-20", "method": "transfer", "voucher_ref": "HMCZ-2025-0820",
            "purpose": "principal"}),
    ]


async def test_arrears_worked_example_over_http(served: Served) -> None:
    outcomes = worked_example(served.world)
    c = served.client
    r = await c.get(f"/v1/arrears?as_of=2025-09-01&payer={BUYER_ID}")
    assert r.status == 200, await r.text()
    body = await r.json()
    rows = [row for row in body["rows"] if row["contract_id"] == "HM-2025-007"]
    assert len(rows) == 1
    row = rows[0]
    assert row["due_date"] == "2025-08-04"
    assert row["days_overdue"] == 0  # paid in full, late
    assert row["interest_fen"] == 160_000  # 1,600.00 yuan
    assert row["outstanding_fen"] == 0 and row["paid_fen"] == 20_000_000
    assert row["payer"] == BUYER_ID and row["payee"] == SUPPLIER_ID
    assert row["responsible"] == {"department": "Hami Industry and IT Bureau",
                                  "official": "Wang Li"}
    assert row["evidence"]
    assert body["log_size"] == outcomes[-1].receipt.leaf_index + 1
    # As known before the payment: still overdue on 2025-08-10, 6 days.
    before = outcomes[-1].receipt.leaf_index
    r = await c.get(f"/v1/arrears?as_of=2025-08-10&at={before}")
    then = next(x for x in (await r.json())["rows"] if x["contract_id"] == "HM-2025-007")
    assert then["days_overdue"] == 6 and then["outstanding_fen"] == 20_000_000
    # Another payer sees nothing of it.
    r = await c.get(f"/v1/arrears?as_of=2025-09-01&payer={SUPPLIER_ID}")
    assert all(x["contract_id"] != "HM-2025-007" for x in (await r.json())["rows"])


async def test_breaches_compensation_and_contract_state(served: Served) -> None:
    outcomes = worked_example(served.world)
    c = served.client
    # ARREARS holds while the milestone is overdue (DESIGN 5: days_overdue > 0) ...
    body = await (await c.get("/v1/breaches?as_of=2025-08-10&rule=ARREARS")).json()
    rows = [r for r in body["rows"] if r["subject_stream"] == STREAM]
    assert len(rows) == 1 and rows[0]["detected_on"] == "2025-08-05"
    assert rows[0]["article"] == "Hami 22, 64; SME 9" and rows[0]["party"] == BUYER_ID
    # ... and no longer once it is paid (the interest stays in the arrears row).
    body = await (await c.get("/v1/breaches?as_of=2025-09-01&rule=ARREARS")).json()
    assert [r for r in body["rows"] if r["subject_stream"] == STREAM] == []
    comp = await (await c.get("/v1/compensation?as_of=2025-09-01")).json()
    assert comp["rows"] == [] and comp["log_size"] >= outcomes[-1].receipt.leaf_index + 1
    contract = await (await c.get("/v1/contracts/HM-2025-007")).json()
    assert contract["stream"] == STREAM
    assert next(e["type"] for e in contract["events"]) == "contract.signed"
    assert contract["events"][0]["leaf_hash"] == outcomes[0].receipt.leaf_hash.hex()
    early = await c.get(f"/v1/contracts/HM-2025-007?at={outcomes[0].receipt.leaf_index}")
    assert early.status == 404
    acc = await (await c.get("/v1/accountability?as_of=2025-08-10")).json()
    assert any(r["subject_stream"] == STREAM for r in acc["rows"])


async def test_document_lookup_verifies_client_side(served: Served) -> None:
    outcomes = worked_example(served.world)
    r = await served.client.get(f"/v1/documents/{DOC}")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert [e["leaf_hash"] for e in body["events"]] == [outcomes[0].receipt.leaf_hash.hex()]
    for event in body["events"]:
        verify_inclusion_document(event["inclusion"], body["checkpoint"],
                                  served.log_key.verifier.vkey)
    missing = await served.client.get("/v1/documents/" + "00" * 32)
    assert missing.status == 404


async def test_document_while_another_request_records(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint signed after the read models caught up covers leaves they have not
    folded: the events naming the document are listed up to its size (this was a 400
    saying the size was beyond the projections)."""
    outcomes = worked_example(served.world)
    runner = served.client.app[SERVICES].runner
    original, writes = runner.catch_up, []

    def catch_up_then_another_request_records() -> int:
        folded = original()
        if not writes:
            writes.append(served.world.post(
                served.world.keys["buyer"], "contract.signed", "contract/HM-2025-008",
                contract_body("HM-2025-008", document_sha256=DOC)))
        return folded

    monkeypatch.setattr(runner, "catch_up", catch_up_then_another_request_records)
    r = await served.client.get(f"/v1/documents/{DOC}")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["log_size"] == writes[0].receipt.leaf_index + 1
    assert [e["leaf_hash"] for e in body["events"]] == [
        outcomes[0].receipt.leaf_hash.hex(), writes[0].receipt.leaf_hash.hex()]
    for event in body["events"]:
        verify_inclusion_document(event["inclusion"], body["checkpoint"],
                                  served.log_key.verifier.vkey)


async def test_bad_queries_are_400(served: Served) -> None:
    c = served.client
    # 2025-W01-1 is ten characters that Python 3.11's date.fromisoformat reads as an ISO
    # week date; 9999-12-31 is a date the interest count cannot step past.
    for path in ("/v1/arrears?as_of=2025-13-01", "/v1/arrears?as_of=yesterday",
                 "/v1/arrears?as_of=2025-W01-1", "/v1/arrears?as_of=9999-12-31",
                 "/v1/breaches?as_of=9999-12-31", "/v1/compensation?as_of=0001-01-01",
                 "/v1/arrears?payer=abc", "/v1/breaches?rule=NOPE", "/v1/arrears?at=99999",
                 "/v1/documents/xyz", "/v1/contracts/bad%20id",
                 # 64 characters, but bytes.fromhex skips the spaces: not a hash
                 "/v1/log/proof/inclusion?leaf_hash=" + "ab%20" * 12 + "ab" * 14,
                 # more index groups than a 64-bit index has (thousands of digits made
                 # int() raise past Python's conversion limit: a 500)
                 "/v1/log/tile/0/" + "x001/" * 7 + "000",
                 "/v1/log/tile/entries/" + "x001/" * 1500 + "000"):
        r = await c.get(path)
        assert r.status == 400, (path, r.status)
        assert r.content_type == "application/problem+json"


async def test_read_models_from_another_log_answer_503_naming_the_repair(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read models that do not follow the log (kept across a restore from a backup) are
    the operator's to rebuild: a query is answered 503 saying so, not 500."""
    svc = served.client.app[SERVICES]

    def mismatched() -> int:
        raise ProjectionMismatch("the projections have folded 40 leaves but the log holds "
                                 "30: they were folded from another log; rebuild them")

    monkeypatch.setattr(svc.runner, "catch_up", mismatched)
    r = await served.client.get("/v1/arrears?as_of=2026-11-30")
    assert r.status == 503
    problem = await r.json()
    assert r.content_type == "application/problem+json"
    assert "rebuild" in problem["detail"] and "do not follow this log" in problem["detail"]
