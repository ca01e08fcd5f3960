"""signed_at outside the accepted window (DESIGN 3.3: at most 5 minutes ahead of the server
clock, at most the acceptance window old), and signed_at that is no instant at all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import LedgerError
from tests.attacks.support import STREAM, Target, envelope_map, pay, signed_map
from tests.factories import World


@pytest.mark.parametrize(("shift", "ok"), [
    (timedelta(days=-7, seconds=-1), False),
    (timedelta(days=-7), True),
    (timedelta(minutes=5), True),
    (timedelta(minutes=5, seconds=1), False),
    (timedelta(days=-400), False),
    (timedelta(days=3650), False),
])
async def test_signed_at_outside_the_accepted_window(target: Target, shift: timedelta,
                                                     ok: bool) -> None:
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay(f"w{shift.total_seconds()}"),
                 signed_at=w.clock.now + shift)
    if ok:
        assert (await target.post(sub))[0] == 201
    else:
        body = await target.refused(sub, 422, "rule_violation")
        assert body["rule"] == "SIGNED_AT_WINDOW"


@pytest.mark.parametrize("signed_at", [
    "2026-02-30T08:00:00Z",             # impossible day
    "2026-11-25T24:00:00Z",             # impossible hour
    "\u0662\u0660\u0662\u0666-11-25T08:00:00Z",  # Arabic-Indic digits match \\d
    "2026-11-25T08:00:00Z\n",           # $ matches before a final newline
    "2026-11-25T08:00:00+00:00",        # not the Z form
    "2026-11-25 08:00:00Z",
])
async def test_signed_at_that_is_no_instant_is_refused_as_input(target: Target,
                                                                signed_at: str) -> None:
    """Validly signed by a registered key, but signed_at is malformed: a 4xx naming the
    field, never a server error."""
    w = target.world
    sub = signed_map(w.keys["finance"], envelope_map(w, w.keys["finance"], signed_at=signed_at))
    before = await target.size()
    status, body = await target.post(sub)
    assert status in (400, 422), body
    assert "signed_at" in body["detail"]
    assert await target.size() == before


def test_a_malformed_signed_at_does_not_fail_the_others_in_its_group(world: World) -> None:
    """Group commit decides concurrent submissions together: one hostile item must get its
    own error while the others are recorded."""
    w = world
    good = w.sign(w.keys["finance"], "payment.made", STREAM, pay("good"))
    bad = signed_map(w.keys["finance"], envelope_map(w, w.keys["finance"], body=pay("bad"),
                                                     signed_at="2026-02-30T08:00:00Z"))
    results = w.ledger.record_each([good, bad])
    assert not isinstance(results[0], LedgerError) and results[0].created
    assert isinstance(results[1], LedgerError) and results[1].status < 500
