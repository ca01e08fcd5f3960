"""Identifiers that print like recorded ones: a second payment under ``p1\\n`` beside
``p1``, a contract stream ``HM-1\\n`` beside ``HM-1``, a document hash nobody can look up.
Patterns anchored with ``$`` accept a final newline; every such value must be refused."""

from __future__ import annotations

import pytest

from tests.attacks.support import STREAM, Target, pay
from tests.factories import OTHER_ID, contract_body


async def test_second_payment_under_a_look_alike_payment_id(target: Target) -> None:
    w = target.world
    assert (await target.post(w.sign(w.keys["finance"], "payment.made", STREAM,
                                     pay("p1"))))[0] == 201
    for look_alike in ("p1\n", "p1 ", " p1", "p1\t"):
        sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay(look_alike))
        body = await target.refused(sub, 400, "wrong_type")
        assert body["field"] == "body.payment_id"


@pytest.mark.parametrize("contract_id", ["HM-ATTACK\n", "HM-2\n"])
async def test_contract_stream_under_a_look_alike_id(target: Target, contract_id: str) -> None:
    w = target.world
    sub = w.sign(w.keys["buyer"], "contract.signed", f"contract/{contract_id}",
                 contract_body(contract_id))
    await target.refused(sub, 400, "wrong_stream")


async def test_document_hash_with_a_final_newline(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["buyer"], "contract.signed", "contract/HM-DOC",
                 contract_body("HM-DOC", document_sha256="ab" * 32 + "\n"))
    body = await target.refused(sub, 400, "wrong_type")
    assert body["field"] == "body.document_sha256"


async def test_revocation_instant_with_a_final_newline(target: Target) -> None:
    w = target.world
    sub = w.sign(w.operator, "key.revoked", f"party/{OTHER_ID}",
                 {"key_name": w.keys["other"].name, "reason": "left",
                  "effective_at": "2026-11-25T08:00:00Z\n"})
    body = await target.refused(sub, 400, "wrong_type")
    assert body["field"] == "body.effective_at"


async def test_party_under_a_look_alike_credit_code(target: Target) -> None:
    w = target.world
    look_alike = OTHER_ID + "\n"
    sub = w.sign(w.operator, "party.registered", f"party/{look_alike}",
                 {"party_id": look_alike, "name": "Look-alike Trading", "kind": "enterprise",
                  "scale": "micro"})
    await target.refused(sub, 400, "wrong_stream")
