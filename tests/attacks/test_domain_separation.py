"""A signature made by the right key over the right envelope bytes, but in another
domain-separation context, is not an envelope signature: the server refuses it (401) and
an offline verifier refuses a leaf carrying it."""

from __future__ import annotations

import pytest

from ledger.application import encode_leaf
from ledger.encoding import encode
from ledger.envelope import DOMAIN, Submission
from ledger.verify import LeafInvalid, verify_leaf
from tests.attacks.support import Target, envelope_map
from tests.factories import World

CONTEXTS = [
    b"",                                            # no context at all
    b"commitment-ledger/envelope/v2\n",             # a future version
    b"commitment-ledger/envelope/v1",               # without the newline
    b"commitment-ledger/checkpoint/v1\n",           # another purpose of the same product
    b"\x00",                                        # the RFC 6962 leaf prefix
    b"\x01",                                        # the RFC 6962 node prefix
    DOMAIN + b"\n",                                 # the context plus one byte
]


@pytest.mark.parametrize("context", CONTEXTS)
async def test_signature_from_another_domain_separation_context(target: Target,
                                                                context: bytes) -> None:
    w = target.world
    key = w.keys["finance"]
    envelope = encode(envelope_map(w, key))
    assert context != DOMAIN
    await target.refused(Submission(envelope, key.sign(context + envelope)), 401,
                         "bad_signature")


def test_signature_from_another_domain_separation_context_fails_offline(world: World) -> None:
    w = world
    key = w.keys["finance"]
    envelope = encode(envelope_map(w, key))
    for context in CONTEXTS:
        leaf = encode_leaf("contract/HM-ATTACK", 2, "payment.made", "2026-11-25T08:00:00Z",
                           envelope, key.sign(context + envelope), b"\x11" * 32)
        with pytest.raises(LeafInvalid, match="domain separation"):
            verify_leaf(leaf, key.verifier, previous=b"\x11" * 32)
    good = encode_leaf("contract/HM-ATTACK", 2, "payment.made", "2026-11-25T08:00:00Z",
                       envelope, key.sign(DOMAIN + envelope), b"\x11" * 32)
    verify_leaf(good, key.verifier, previous=b"\x11" * 32)
