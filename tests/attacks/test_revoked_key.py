"""A revoked key: refused from the moment its revocation takes effect (by the server's
clock, whatever signed_at claims); what it signed before stays, and answers as before."""

from __future__ import annotations

from datetime import timedelta

from ledger.timeutil import format_instant
from tests.attacks.support import STREAM, Target, pay
from tests.factories import FINANCE_ID


async def revoke_finance(target: Target, delay: timedelta = timedelta(0)) -> None:
    w = target.world
    status, body = await target.post(w.sign(w.operator, "key.revoked", f"party/{FINANCE_ID}", {
        "key_name": w.keys["finance"].name, "reason": "token lost",
        "effective_at": format_instant(w.clock.now + delay)}))
    assert status == 201, body


async def test_revoked_key(target: Target) -> None:
    w = target.world
    finance = w.keys["finance"]
    earlier = w.sign(finance, "payment.made", STREAM, pay("before"))
    status, receipt = await target.post(earlier)
    assert status == 201
    await revoke_finance(target)
    body = await target.refused(w.sign(finance, "payment.made", STREAM, pay("after")),
                                403, "key_revoked")
    assert finance.name in body["detail"]
    # Backdating signed_at to before the revocation does not help.
    await target.refused(w.sign(finance, "payment.made", STREAM, pay("backdated"),
                                signed_at=w.clock.now - timedelta(hours=1)), 403, "key_revoked")
    # What the key signed before is kept and answers with its receipt.
    assert await target.post(earlier) == (200, receipt)


async def test_revoked_key_from_its_effective_moment(target: Target) -> None:
    w = target.world
    finance = w.keys["finance"]
    await revoke_finance(target, timedelta(hours=1))
    assert (await target.post(w.sign(finance, "payment.made", STREAM, pay("still"))))[0] == 201
    w.clock.advance(hours=1)
    await target.refused(w.sign(finance, "payment.made", STREAM, pay("now")), 403,
                         "key_revoked")


async def test_revoked_key_cannot_be_revoked_again_nor_revive(target: Target) -> None:
    w = target.world
    await revoke_finance(target)
    again = w.sign(w.operator, "key.revoked", f"party/{FINANCE_ID}", {
        "key_name": w.keys["finance"].name, "reason": "twice",
        "effective_at": format_instant(w.clock.now + timedelta(days=30))})
    await target.refused(again, 409, "already_exists")
    reregister = w.sign(w.operator, "key.registered", f"party/{FINANCE_ID}", {
        "party_id": FINANCE_ID, "vkey": w.keys["finance"].verifier.vkey, "roles": ["finance"]})
    await target.refused(reregister, 409, "already_exists")
