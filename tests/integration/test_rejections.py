"""Every kind of rejection: a distinct error type, a status, and a message naming the
field or rule. Nothing is recorded by a rejected submission."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import msgpack
import pytest

from ledger import errors
from ledger.encoding import encode
from ledger.envelope import Submission, signing_message
from ledger.keys import SignerKey
from ledger.timeutil import MAX_PERIOD_DAYS
from tests.factories import (
    BUYER_ID,
    FINANCE_ID,
    OTHER_ID,
    SUPPLIER_ID,
    World,
    contract_body,
    make_world,
    seed,
)

STREAM = "contract/HM-2026-001"


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    w = make_world(sqlite_url)
    w.post(w.keys["buyer"], "contract.signed", STREAM, contract_body())
    yield w
    w.ledger.close()


def pay(**over: Any) -> dict[str, Any]:
    body = {"payment_id": "p1", "milestone_id": "m1", "amount_fen": 100,
            "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": "V1",
            "purpose": "principal"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def rejected(world: World, error: type[errors.LedgerError], sub: Submission,
             match: str) -> errors.LedgerError:
    size = world.ledger.size()
    with pytest.raises(error, match=match) as info:
        world.ledger.record(sub)
    assert world.ledger.size() == size
    assert info.value.status == error.status
    return info.value


def raw_submission(key: SignerKey, envelope: dict[str, Any], *, canonical: bool = True) -> Submission:
    data = encode(envelope) if canonical else msgpack.packb(envelope, use_bin_type=True)
    return Submission(data, key.sign(signing_message(data)))


def base_envelope(world: World, **over: Any) -> dict[str, Any]:
    env = {"v": 1, "type": "payment.made", "stream": STREAM, "body": pay(),
           "signer": world.keys["finance"].name, "signed_at": "2026-11-25T08:00:00Z",
           "nonce": world.nonce()}
    env.update(over)
    return env


def test_non_canonical_envelope(world: World) -> None:
    env = base_envelope(world)
    reordered = dict(reversed(list(env.items())))
    sub = raw_submission(world.keys["finance"], reordered, canonical=False)
    err = rejected(world, errors.NonCanonical, sub, "canonical")
    assert err.status == 400


def test_unknown_key(world: World) -> None:
    stranger = SignerKey.from_seed(f"{OTHER_ID}/nobody", seed(99))
    err = rejected(world, errors.UnknownKey, world.sign(stranger, "payment.made", STREAM, pay()),
                   "not a registered key")
    assert err.status == 401


def test_forged_signature(world: World) -> None:
    sub = world.sign(world.keys["finance"], "payment.made", STREAM, pay())
    forged = Submission(sub.envelope_bytes, bytes(a ^ b for a, b in zip(
        sub.signature, b"\x01" + bytes(63), strict=True)))
    assert rejected(world, errors.BadSignature, forged, "does not verify").status == 401


def test_signature_from_another_domain_context(world: World) -> None:
    env = encode(base_envelope(world))
    wrong_context = world.keys["finance"].sign(b"commitment-ledger/other/v1\n" + env)
    rejected(world, errors.BadSignature, Submission(env, wrong_context), "does not verify")
    no_context = world.keys["finance"].sign(env)
    rejected(world, errors.BadSignature, Submission(env, no_context), "does not verify")


def test_another_partys_key_cannot_sign_as_the_buyer(world: World) -> None:
    sub = world.sign(world.keys["other"], "contract.accepted", STREAM,
                     {"milestone_id": "m1", "accepted_on": "2026-07-01", "result": "passed"})
    err = rejected(world, errors.RoleNotAllowed, sub, "may not record contract.accepted")
    assert err.status == 403


def test_revoked_key_refused_from_effective_at_earlier_events_stay(world: World) -> None:
    finance = world.keys["finance"]
    early = world.post(finance, "payment.made", STREAM, pay(payment_id="early"))
    world.post(world.operator, "key.revoked", f"party/{FINANCE_ID}",
               {"key_name": finance.name, "reason": "staff left",
                "effective_at": "2026-11-25T09:00:00Z"})
    # Before effective_at the key still works.
    world.post(finance, "payment.made", STREAM, pay(payment_id="before"))
    world.clock.advance(hours=1)
    err = rejected(world, errors.KeyRevoked, world.sign(finance, "payment.made", STREAM,
                                                        pay(payment_id="after")), "revoked")
    assert err.status == 403
    assert world.ledger.leaf(early.receipt.leaf_index) is not None
    # The identical earlier submission still answers with its receipt.
    assert world.ledger.size() > early.receipt.leaf_index


def test_party_may_revoke_its_own_key(world: World) -> None:
    finance2 = world.add_key(FINANCE_ID, ["finance"], "finance2", 50)
    world.post(finance2, "key.revoked", f"party/{FINANCE_ID}",
               {"key_name": world.keys["finance"].name, "reason": "rotated",
                "effective_at": "2026-11-25T08:00:00Z"})
    rejected(world, errors.KeyRevoked, world.sign(world.keys["finance"], "payment.made",
                                                  STREAM, pay()), "revoked")
    other = world.keys["other"]
    rejected(world, errors.RoleNotAllowed, world.sign(other, "key.revoked", f"party/{FINANCE_ID}",
             {"key_name": finance2.name, "reason": "x", "effective_at": "2026-11-25T08:00:00Z"}),
             "may not record key.revoked")


def test_signed_at_outside_the_window(world: World) -> None:
    too_old = world.sign(world.keys["finance"], "payment.made", STREAM, pay(),
                         signed_at=world.clock.now - timedelta(days=8))
    err = rejected(world, errors.RuleViolation, too_old, "SIGNED_AT_WINDOW")
    assert err.status == 422
    ahead = world.sign(world.keys["finance"], "payment.made", STREAM, pay(),
                       signed_at=world.clock.now + timedelta(minutes=6))
    rejected(world, errors.RuleViolation, ahead, "SIGNED_AT_WINDOW")
    # Within the window both ways is fine.
    world.ledger.record(world.sign(world.keys["finance"], "payment.made", STREAM, pay(),
                                   signed_at=world.clock.now + timedelta(minutes=4)))


@pytest.mark.parametrize(("body", "error", "match"), [
    (pay(amount_fen=None), errors.MissingField, r"body\.amount_fen is required"),
    (pay(tip_fen=5), errors.UnknownField, r"body\.tip_fen is not a field"),
    (pay(amount_fen="100"), errors.WrongType, r"body\.amount_fen must be an integer"),
    (pay(amount_fen=True), errors.WrongType, r"body\.amount_fen must be an integer"),
    (pay(method="cash"), errors.NotInEnumeration, r"body\.method 'cash' is not one of"),
    (pay(paid_on="2026/08/01"), errors.WrongType, r"body\.paid_on must be a date"),
])
def test_schema_errors_name_the_field(world: World, body: dict[str, Any],
                                      error: type[errors.LedgerError], match: str) -> None:
    err = rejected(world, error, world.sign(world.keys["finance"], "payment.made", STREAM, body),
                   match)
    assert err.status == 400


def test_unknown_event_type_and_wrong_stream(world: World) -> None:
    rejected(world, errors.UnknownEventType,
             world.sign(world.keys["finance"], "payment.refunded", STREAM, pay()), "catalogue")
    rejected(world, errors.WrongStream,
             world.sign(world.keys["finance"], "payment.made", "commitment/C1", pay()),
             "belongs in a contract")
    rejected(world, errors.WrongStream,
             world.sign(world.keys["buyer"], "contract.signed", "contract/OTHER",
                        contract_body("HM-X")), "does not match the stream")
    rejected(world, errors.WrongStream,
             world.sign(world.operator, "rate.lpr_published", "reference/calendar",
                        {"effective_on": "2025-05-20", "one_year_bp": 300}), "reference/lpr")


@pytest.mark.parametrize(("body", "rule"), [
    (pay(amount_fen=0), "AMOUNT_NOT_POSITIVE"),
    (pay(amount_fen=-5), "AMOUNT_NOT_POSITIVE"),
    (pay(paid_on="2026-02-30"), "INVALID_DATE"),
    # A real date that the read models could not count a day past (9999-12-31 + 1 day
    # overflows): refused, as is anything outside the ledger's range of business dates.
    (pay(paid_on="9999-12-31"), "DATE_OUT_OF_RANGE"),
    (pay(paid_on="3000-01-01"), "DATE_OUT_OF_RANGE"),
    (pay(paid_on="1899-12-31"), "DATE_OUT_OF_RANGE"),
    (pay(amount_fen=20_000_001), "OVERPAYMENT"),
    (pay(milestone_id="m9"), "UNKNOWN_MILESTONE"),
])
def test_domain_rules_name_the_rule(world: World, body: dict[str, Any], rule: str) -> None:
    err = rejected(world, errors.RuleViolation,
                   world.sign(world.keys["finance"], "payment.made", STREAM, body), rule)
    assert isinstance(err, errors.RuleViolation) and err.rule == rule and err.status == 422


def test_a_settlement_changes_what_is_owed_only_on_the_settlement_basis(world: World) -> None:
    """On the acceptance basis the read models keep owing the milestone's amount after a
    settlement confirmation (DESIGN 5.1): the domain must let it be paid in full, not
    stop at the settled amount and leave arrears that can never be paid."""
    world.post(world.keys["buyer"], "contract.settlement_confirmed", STREAM,
               {"milestone_id": "m1", "amount_fen": 5_000_000, "confirmed_on": "2026-07-20"})
    world.post(world.keys["finance"], "payment.made", STREAM, pay(amount_fen=20_000_000))
    rejected(world, errors.RuleViolation, world.sign(
        world.keys["finance"], "payment.made", STREAM, pay(payment_id="p2", amount_fen=1)),
        "OVERPAYMENT")
    settled = contract_body("HM-S", payment_basis="settlement")
    world.post(world.keys["buyer"], "contract.signed", "contract/HM-S", settled)
    world.post(world.keys["buyer"], "contract.settlement_confirmed", "contract/HM-S",
               {"milestone_id": "m1", "amount_fen": 5_000_000, "confirmed_on": "2026-07-20"})
    rejected(world, errors.RuleViolation, world.sign(
        world.keys["finance"], "payment.made", "contract/HM-S",
        pay(amount_fen=5_000_001)), "OVERPAYMENT")


def test_a_complaint_about_a_stream_that_holds_nothing_is_refused(world: World) -> None:
    """DESIGN 4: referenced streams exist. A complaint about a contract never recorded
    was accepted (only the party complained against was checked)."""
    def complaint(n: int, subject: str) -> Submission:
        return world.sign(world.keys["supplier"], "complaint.filed", f"complaint/Q{n}", {
            "complaint_id": f"Q{n}", "against": BUYER_ID, "subject_stream": subject,
            "kind": "arrears", "filed_on": "2026-09-01"})

    err = rejected(world, errors.RuleViolation, complaint(1, "contract/NO-SUCH-CONTRACT"),
                   "UNKNOWN_STREAM")
    assert err.detail["field"] == "body.subject_stream"
    world.ledger.record(complaint(2, STREAM))


def test_contract_rules(world: World) -> None:
    buyer = world.keys["buyer"]
    over = contract_body("HM-2", value_fen=100)
    rejected(world, errors.RuleViolation, world.sign(buyer, "contract.signed", "contract/HM-2",
                                                     over), "MILESTONES_EXCEED_VALUE")
    bad_code = contract_body("HM-3", supplier=SUPPLIER_ID[:17] + ("0" if SUPPLIER_ID[17] != "0"
                                                                  else "1"))
    rejected(world, errors.RuleViolation, world.sign(buyer, "contract.signed", "contract/HM-3",
                                                     bad_code), "USCC_CHECK_CHARACTER")
    unknown = contract_body("HM-4", supplier="91350100M000100Y43")
    rejected(world, errors.RuleViolation, world.sign(buyer, "contract.signed", "contract/HM-4",
                                                     unknown), "UNKNOWN_PARTY")
    rejected(world, errors.RuleViolation,
             world.sign(world.keys["supplier"], "contract.delivered", "contract/NOPE",
                        {"milestone_id": "m1", "delivered_on": "2026-07-01"}), "UNKNOWN_STREAM")


@pytest.mark.parametrize("field", ["payment_term_days", "acceptance_period_days"])
def test_periods_are_bounded_so_their_ends_are_dates(world: World, field: str) -> None:
    """A term or acceptance period of a million days would end past any representable
    date and crash every read model folding the contract: at most MAX_PERIOD_DAYS."""
    buyer = world.keys["buyer"]
    longest = contract_body("HM-5", **{field: MAX_PERIOD_DAYS})
    world.post(buyer, "contract.signed", "contract/HM-5", longest)
    err = rejected(world, errors.RuleViolation,
                   world.sign(buyer, "contract.signed", "contract/HM-6",
                              contract_body("HM-6", **{field: MAX_PERIOD_DAYS + 1})),
                   "PERIOD_TOO_LONG")
    assert err.detail["field"] == f"body.{field}"


def test_schema_error_comes_before_authority_and_rules(world: World) -> None:
    # A stranger's well-known key with a bad body: 400 (schema) before 403 (authority).
    body = pay(amount_fen=0, method="cash")
    rejected(world, errors.NotInEnumeration,
             world.sign(world.keys["other"], "payment.made", STREAM, body), "method")
    # Authority (403) before domain rules (422).
    rejected(world, errors.RoleNotAllowed,
             world.sign(world.keys["other"], "payment.made", STREAM, pay(amount_fen=0)),
             "may not record")


def test_finance_mandate_through_pays_for(world: World) -> None:
    world.post(world.keys["finance"], "payment.made", STREAM, pay())
    # A finance key of a party without the mandate may not pay for the buyer.
    other_finance = world.add_key(OTHER_ID, ["finance"], "other-finance", 60)
    rejected(world, errors.RoleNotAllowed,
             world.sign(other_finance, "payment.made", STREAM, pay(payment_id="p2")),
             "may not record payment.made")


def test_oversize_leaf(world: World) -> None:
    huge = contract_body("HM-BIG")
    huge["milestones"] = [{"milestone_id": f"m{i}", "description": "x" * 3000, "amount_fen": 1}
                          for i in range(25)]
    err = rejected(world, errors.TooLarge,
                   world.sign(world.keys["buyer"], "contract.signed", "contract/HM-BIG", huge),
                   "exceeds|at most")
    assert err.status == 413


def test_envelope_shape_errors(world: World) -> None:
    finance = world.keys["finance"]
    rejected(world, errors.UnknownField, raw_submission(finance, base_envelope(world, extra=1)),
             "'extra'")
    env = base_envelope(world)
    del env["nonce"]
    rejected(world, errors.MissingField, raw_submission(finance, env), "'nonce'")
    rejected(world, errors.WrongType, raw_submission(finance, base_envelope(
        world, nonce=b"short")), "16 bytes")
    rejected(world, errors.WrongType, raw_submission(finance, base_envelope(
        world, signed_at="yesterday")), "RFC 3339")
    rejected(world, errors.InvalidInput, raw_submission(finance, base_envelope(world, v=2)),
             "version")


def test_key_name_must_belong_to_its_party(world: World) -> None:
    key = SignerKey.from_seed(f"{OTHER_ID}/sneaky", seed(77))
    rejected(world, errors.RuleViolation, world.sign(world.operator, "key.registered",
             f"party/{BUYER_ID}", {"party_id": BUYER_ID, "vkey": key.verifier.vkey,
                                   "roles": ["buyer"]}), "KEY_NAME")


def test_checking_a_batch_records_nothing_and_leaves_no_trace(world: World) -> None:
    """check_batch decides like record_batch and names the failing items, but what its
    decisions changed in memory is dropped: a later item cannot build on it."""
    size = world.ledger.size()
    opened = world.sign(world.keys["buyer"], "contract.signed", "contract/HM-C",
                        contract_body("HM-C"))
    over = world.sign(world.keys["finance"], "payment.made", STREAM, pay(amount_fen=10**11))
    failures = world.ledger.check_batch([opened, over])
    assert [(i, type(e)) for i, e in failures] == [(1, errors.RuleViolation)]
    assert world.ledger.check_batch([opened]) == []
    assert world.ledger.size() == size
    rejected(world, errors.RuleViolation, world.sign(
        world.keys["finance"], "payment.made", "contract/HM-C", pay()), "UNKNOWN_STREAM")
    world.ledger.record(opened)
    assert world.ledger.size() == size + 1
