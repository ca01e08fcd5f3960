"""An event placed in a stream it does not belong to: the wrong stream kind, an id that
differs from the body's, a reference stream for other data. Offline, a leaf whose outer
type or stream differs from the signed envelope's is refused."""

from __future__ import annotations

import pytest

from ledger.application import encode_leaf
from ledger.verify import LeafInvalid, decode_leaf
from tests.attacks.support import STREAM, Target, pay
from tests.factories import BUYER_ID, OTHER_ID, World, contract_body


@pytest.mark.parametrize(("signer", "type_", "stream", "body"), [
    ("finance", "payment.made", "commitment/C-1", pay()),
    ("finance", "payment.made", f"party/{BUYER_ID}", pay()),
    ("finance", "payment.made", "reference/lpr", pay()),
    ("buyer", "contract.signed", "contract/HM-OTHER", contract_body("HM-X")),
    ("buyer", "contract.signed", "commitment/HM-X", contract_body("HM-X")),
    ("operator", "rate.lpr_published", "reference/calendar",
     {"effective_on": "2025-05-20", "one_year_bp": 300}),
    ("operator", "party.registered", f"party/{OTHER_ID}",
     {"party_id": BUYER_ID, "name": "x", "kind": "government"}),
    ("finance", "payment.made", "contracts/HM-ATTACK", pay()),
    ("finance", "payment.made", "contract/", pay()),
    ("finance", "payment.made", "contract/HM-ATTACK/extra", pay()),
])
async def test_stream_type_mismatch(target: Target, signer: str, type_: str, stream: str,
                                    body: dict[str, object]) -> None:
    w = target.world
    key = w.operator if signer == "operator" else w.keys[signer]
    await target.refused(w.sign(key, type_, stream, body), 400, "wrong_stream")


def test_stream_type_mismatch_inside_a_leaf(world: World) -> None:
    sub = world.sign(world.keys["finance"], "payment.made", STREAM, pay())
    for stream, type_ in ((STREAM, "contract.signed"), ("contract/HM-OTHER", "payment.made")):
        leaf = encode_leaf(stream, 2, type_, "2026-11-25T08:00:00Z", sub.envelope_bytes,
                           sub.signature, b"\x11" * 32)
        with pytest.raises(LeafInvalid, match="its envelope says"):
            decode_leaf(leaf)
    honest = encode_leaf(STREAM, 2, "payment.made", "2026-11-25T08:00:00Z",
                         sub.envelope_bytes, sub.signature, b"\x11" * 32)
    assert decode_leaf(honest).type == "payment.made"
