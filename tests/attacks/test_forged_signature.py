"""Forged signatures: a signature that was not made by the named key over these exact
envelope bytes is refused with 401 bad_signature, in either wire form."""

from __future__ import annotations

import pytest

from ledger.encoding import encode
from ledger.envelope import Submission
from tests.attacks.support import STREAM, Target, envelope_map, pay, signed_map


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("as_msgpack", [False, True])
@pytest.mark.parametrize("bit", [0, 7, 255, 256, 511])
async def test_forged_signature(target: Target, bit: int, as_msgpack: bool) -> None:
    """One flipped bit anywhere in R or S."""
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay())
    forged = Submission(sub.envelope_bytes, flip(sub.signature, bit))
    await target.refused(forged, 401, "bad_signature", as_msgpack=as_msgpack)
    assert (await target.post(sub))[0] == 201  # the genuine one still records


async def test_forged_signature_transplanted_from_another_envelope(target: Target) -> None:
    w = target.world
    genuine = w.sign(w.keys["finance"], "payment.made", STREAM, pay("small", amount_fen=1))
    wanted = w.sign(w.keys["finance"], "payment.made", STREAM, pay("big", amount_fen=10**6))
    await target.refused(Submission(wanted.envelope_bytes, genuine.signature), 401,
                         "bad_signature")


async def test_forged_signature_over_an_envelope_changed_after_signing(target: Target) -> None:
    w = target.world
    env = envelope_map(w, w.keys["finance"])
    signed = signed_map(w.keys["finance"], env)
    changed = encode({**env, "body": pay(amount_fen=10**6)})
    await target.refused(Submission(changed, signed.signature), 401, "bad_signature")


@pytest.mark.parametrize("signature", [bytes(64), b"\xff" * 64])
async def test_forged_signature_of_degenerate_bytes(target: Target, signature: bytes) -> None:
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay())
    await target.refused(Submission(sub.envelope_bytes, signature), 401, "bad_signature")


async def test_forged_signature_of_the_wrong_length(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["finance"], "payment.made", STREAM, pay())
    for signature in (sub.signature[:63], sub.signature + b"\x00", b""):
        await target.refused(Submission(sub.envelope_bytes, signature), 400, "wrong_type")
