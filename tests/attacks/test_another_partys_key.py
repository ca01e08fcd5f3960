"""Acting with another party's key, or as another party with one's own key."""

from __future__ import annotations

from ledger.encoding import encode
from ledger.envelope import Submission, signing_message
from ledger.keys import SignerKey
from tests.attacks.support import STREAM, Target, envelope_map, pay
from tests.factories import BUYER_ID, FINANCE_ID, OTHER_ID, seed


async def test_another_partys_key_signing_in_the_buyers_name(target: Target) -> None:
    """The envelope names the buyer's key; the signature is the other party's."""
    w = target.world
    env = envelope_map(w, w.keys["buyer"], type="contract.accepted",
                       body={"milestone_id": "m1", "accepted_on": "2026-07-01",
                             "result": "passed"})
    data = encode(env)
    forged = Submission(data, w.keys["other"].sign(signing_message(data)))
    await target.refused(forged, 401, "bad_signature")


async def test_another_partys_key_signing_as_itself(target: Target) -> None:
    """A registered enterprise key may not accept milestones or pay for the buyer."""
    w = target.world
    other = w.keys["other"]
    await target.refused(w.sign(other, "contract.accepted", STREAM, {
        "milestone_id": "m1", "accepted_on": "2026-07-01", "result": "passed"}),
        403, "role_not_allowed")
    await target.refused(w.sign(other, "payment.made", STREAM, pay()), 403, "role_not_allowed")
    # Nor can the supplier, a party of the contract, sign for its buyer.
    await target.refused(w.sign(w.keys["supplier"], "contract.accepted", STREAM, {
        "milestone_id": "m1", "accepted_on": "2026-07-01", "result": "passed"}),
        403, "role_not_allowed")


async def test_another_partys_key_revoking_a_key_it_does_not_own(target: Target) -> None:
    w = target.world
    sub = w.sign(w.keys["other"], "key.revoked", f"party/{FINANCE_ID}",
                 {"key_name": w.keys["finance"].name, "reason": "hostile",
                  "effective_at": "2026-11-25T08:00:00Z"})
    await target.refused(sub, 403, "role_not_allowed")
    assert (await target.post(w.sign(w.keys["finance"], "payment.made", STREAM, pay())))[0] == 201


async def test_another_partys_key_name_registered_in_a_third_partys_stream(target: Target
                                                                          ) -> None:
    """A key named for the buyer cannot be registered under another party, so a key's
    name always tells whose it is."""
    w = target.world
    impostor = SignerKey.from_seed(f"{BUYER_ID}/impostor", seed(77))
    sub = w.sign(w.operator, "key.registered", f"party/{OTHER_ID}",
                 {"party_id": OTHER_ID, "vkey": impostor.verifier.vkey, "roles": ["buyer"]})
    body = await target.refused(sub, 422, "rule_violation")
    assert body["rule"] == "KEY_NAME"
    await target.refused(w.sign(impostor, "payment.made", STREAM, pay()), 401, "unknown_key")
