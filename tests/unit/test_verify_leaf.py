"""Offline verification of one leaf: envelope signature, domain separation, chain link."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from ledger.application import encode_leaf
from ledger.envelope import sign_envelope
from ledger.keys import SignerKey
from ledger.verify import LeafInvalid, decode_leaf, verify_leaf
from tests.factories import contract_body, make_world

KEY = SignerKey.from_seed("91350100M000100Y43/buyer", bytes(range(32)))


def leaf_for(sub, version=1, prev=None, stream="contract/HM-2026-001", type_="contract.signed"):
    return encode_leaf(stream, version, type_, "2026-11-25T08:00:00Z", sub.envelope_bytes,
                       sub.signature, prev)


def test_leaves_from_the_ledger_verify_in_chain(tmp_path: Path) -> None:
    world = make_world(f"sqlite:///{tmp_path / 'l.db'}")
    world.post(world.keys["buyer"], "contract.signed", "contract/HM-2026-001", contract_body())
    world.post(world.keys["supplier"], "contract.countersigned", "contract/HM-2026-001",
               {"party_id": contract_body()["supplier"]})
    events = world.ledger.stream_events("contract/HM-2026-001")
    first = verify_leaf(world.ledger.leaf(events[0].index), world.keys["buyer"].verifier)
    second = verify_leaf(world.ledger.leaf(events[1].index), world.keys["supplier"].verifier,
                         previous=first)
    assert second.prev == first.leaf_hash == events[0].leaf_hash
    with pytest.raises(LeafInvalid, match="previous event"):
        verify_leaf(world.ledger.leaf(events[1].index), world.keys["supplier"].verifier)
    world.ledger.close()


def test_signature_from_another_context_is_refused() -> None:
    sub = sign_envelope(KEY, "contract.signed", "contract/HM-2026-001", contract_body())
    forged = type(sub)(sub.envelope_bytes, KEY.sign(sub.envelope_bytes))  # no domain prefix
    with pytest.raises(LeafInvalid, match="domain separation"):
        verify_leaf(leaf_for(forged), KEY.verifier)
    verify_leaf(leaf_for(sub), KEY.verifier)


def test_wrong_signer_key_broken_chain_and_mismatched_type() -> None:
    sub = sign_envelope(KEY, "contract.signed", "contract/HM-2026-001", contract_body())
    other = SignerKey.from_seed("91350100M000100Y43/other", bytes(32))
    with pytest.raises(LeafInvalid, match="names signer"):
        verify_leaf(leaf_for(sub), other.verifier)
    with pytest.raises(LeafInvalid, match="chain broken"):
        verify_leaf(leaf_for(sub, version=2, prev=b"\x01" * 32), KEY.verifier,
                    previous=b"\x02" * 32)
    with pytest.raises(LeafInvalid, match="its envelope says"):
        verify_leaf(leaf_for(sub, type_="contract.accepted"), KEY.verifier)
    with pytest.raises(LeafInvalid, match="exactly for the first event"):
        decode_leaf(leaf_for(sub, version=2))


def test_non_canonical_leaf_is_refused() -> None:
    sub = sign_envelope(KEY, "contract.signed", "contract/HM-2026-001", contract_body())
    value = msgpack.unpackb(leaf_for(sub), raw=False)
    shuffled = msgpack.packb(dict(reversed(list(value.items()))), use_bin_type=True)
    with pytest.raises(LeafInvalid, match="canonical"):
        decode_leaf(shuffled)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("v", True, "exactly v=1"),
    ("version", True, "positive integer"),
    ("recorded_at", 12345, "recorded_at"),
    ("recorded_at", "yesterday", "recorded_at"),
])
def test_a_leaf_with_a_look_alike_field_is_refused(field: str, value: object,
                                                   message: str) -> None:
    """true is not 1 (though Python says True == 1), nor a number an instant: each would
    make another leaf, with another hash, around the same signed envelope."""
    from ledger import encoding

    sub = sign_envelope(KEY, "contract.signed", "contract/HM-2026-001", contract_body())
    leaf = encoding.decode(leaf_for(sub))
    assert decode_leaf(encoding.encode(leaf)).version == 1
    with pytest.raises(LeafInvalid, match=message):
        verify_leaf(encoding.encode({**leaf, field: value}), KEY.verifier)
