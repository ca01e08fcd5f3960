"""Every event type against every kind of signer: allowed exactly where DESIGN 4.1 says.

Each case is submitted together with a poisoned item, so the batch is always refused and
nothing is recorded; the case's own verdict is read from the itemised failures.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.envelope import Submission, sign_envelope
from ledger.errors import BatchRejected, RoleNotAllowed
from ledger.keys import SignerKey
from ledger.uscc import complete_uscc
from tests.factories import FixedClock, contract_body, seed

OPERATOR = complete_uscc("12650500MB0000001")
BUYER = complete_uscc("11650500MB0000102")       # buyer and issuer party (government)
TREASURY = complete_uscc("11650500MB0000203")    # finance bureau, pays_for BUYER
SUPPLIER = complete_uscc("91650500MA0000304")    # supplier and beneficiary (small)
STRANGER = complete_uscc("91650500MA0000405")    # unrelated enterprise
INSPECTOR = complete_uscc("11650500MB0000506")

# signer label -> (party, roles)
SIGNERS: dict[str, tuple[str, list[str]]] = {
    "operator": (OPERATOR, ["operator"]),
    "buyer": (BUYER, ["buyer"]),
    "issuer": (BUYER, ["issuer"]),
    "buyer_finance": (BUYER, ["finance"]),
    "treasury": (TREASURY, ["finance"]),
    "supplier": (SUPPLIER, ["enterprise"]),
    "stranger": (STRANGER, ["enterprise"]),
    "stranger_finance": (STRANGER, ["finance"]),
    "inspector": (INSPECTOR, ["inspector"]),
}
EVERYONE = set(SIGNERS)

# DESIGN 4.1, restated independently of the implementation.
ALLOWED: dict[str, set[str]] = {
    "party.registered": {"operator"},
    "key.registered": {"operator"},
    "rate.lpr_published": {"operator"},
    "calendar.published": {"operator"},
    "key.revoked": {"operator", "supplier"},  # case revokes a key of SUPPLIER's party
    "commitment.made": {"issuer"},
    "commitment.changed": {"issuer"},
    "compensation.determined": {"issuer"},
    "commitment.obligation_fulfilled": {"issuer", "buyer_finance", "treasury"},
    "compensation.paid": {"issuer", "buyer_finance", "treasury"},
    "commitment.acknowledged": {"supplier"},
    "contract.signed": {"buyer"},
    "contract.accepted": {"buyer"},
    "contract.settlement_confirmed": {"buyer"},
    "contract.amended": {"buyer"},
    "receivable.confirmed": {"buyer"},
    "contract.countersigned": {"supplier"},
    "contract.delivered": {"supplier"},
    "payment.contested": {"supplier"},
    "receivable.confirmation_requested": {"supplier"},
    "milestone.disputed": {"buyer", "supplier"},
    "dispute.resolved": {"buyer", "supplier"},
    "contract.terminated": {"buyer", "supplier"},
    "payment.made": {"buyer", "buyer_finance", "treasury"},
    "complaint.filed": EVERYONE,
    "complaint.answered": {"buyer", "issuer", "buyer_finance", "inspector", "operator"},
    "accountability.recorded": {"inspector"},
}

_ids = count(1)


class Fixture:
    def __init__(self, url: str) -> None:
        self.clock = FixedClock()
        self.ledger = Ledger(url, clock=self.clock, verify_workers=1)
        self.keys: dict[str, SignerKey] = {}
        operator = SignerKey.from_seed(f"{OPERATOR}/operator", seed(1))
        self.ledger.initialise(operator, OPERATOR, "operator")
        self.keys["operator"] = operator
        parties = [(BUYER, "government", {}), (TREASURY, "government", {"pays_for": [BUYER]}),
                   (SUPPLIER, "enterprise", {"scale": "small"}),
                   (STRANGER, "enterprise", {"scale": "small"}), (INSPECTOR, "inspector", {})]
        for party, kind, extra in parties:
            self.post("operator", "party.registered", f"party/{party}",
                      {"party_id": party, "name": f"party {party}", "kind": kind, **extra})
        for n, (label, (party, roles)) in enumerate(SIGNERS.items()):
            if label == "operator":
                continue
            key = SignerKey.from_seed(f"{party}/{label}", seed(10 + n))
            self.post("operator", "key.registered", f"party/{party}",
                      {"party_id": party, "vkey": key.verifier.vkey, "roles": roles})
            self.keys[label] = key
        spare = SignerKey.from_seed(f"{SUPPLIER}/spare", seed(60))
        self.post("operator", "key.registered", f"party/{SUPPLIER}",
                  {"party_id": SUPPLIER, "vkey": spare.verifier.vkey, "roles": ["enterprise"]})
        self.spare = spare
        body = contract_body("C1", buyer=BUYER, supplier=SUPPLIER)
        self.post("buyer", "contract.signed", "contract/C1", body)
        self.post("buyer", "contract.settlement_confirmed", "contract/C1",
                  {"milestone_id": "m2", "amount_fen": 30_000_000, "confirmed_on": "2026-07-01"})
        self.post("treasury", "payment.made", "contract/C1", self.payment("P0"))
        self.post("supplier", "milestone.disputed", "contract/C1",
                  {"milestone_id": "m2", "disputed_fen": 100, "reason": "quality",
                   "raised_on": "2026-07-02"})
        self.post("issuer", "commitment.made", "commitment/K1", self.commitment("K1"))
        self.post("issuer", "commitment.changed", "commitment/K1", {
            "action": "amend", "effective_on": "2026-08-01", "reason": "public_interest",
            "legal_authority": "law", "procedure_ref": "decision 1",
            "consultation": {"held_on": "2026-07-20", "record_sha256": "cd" * 32}})
        self.post("issuer", "compensation.determined", "commitment/K1", {
            "duty_id": "D1", "beneficiary": SUPPLIER, "amount_fen": 1_000_000,
            "due_date": "2026-10-01", "basis": "appraisal"})
        self.post("issuer", "commitment.changed", "commitment/K1", {  # a pending duty
            "action": "amend", "effective_on": "2026-08-15", "reason": "national_interest",
            "legal_authority": "law", "procedure_ref": "decision 3",
            "consultation": {"held_on": "2026-08-01", "record_sha256": "ce" * 32}})
        self.post("supplier", "complaint.filed", "complaint/Q1", {
            "complaint_id": "Q1", "against": BUYER, "subject_stream": "contract/C1",
            "kind": "arrears", "filed_on": "2026-09-01"})

    def sign(self, label: str, type_: str, stream: str, body: dict[str, Any]) -> Submission:
        return sign_envelope(self.keys[label], type_, stream, body,
                             signed_at=self.clock.now, nonce=next(_ids).to_bytes(16, "big"))

    def post(self, label: str, type_: str, stream: str, body: dict[str, Any]) -> None:
        self.ledger.record(self.sign(label, type_, stream, body))

    @staticmethod
    def payment(pid: str) -> dict[str, Any]:
        return {"payment_id": pid, "milestone_id": "m1", "amount_fen": 100,
                "paid_on": "2026-08-01", "method": "transfer", "voucher_ref": pid,
                "purpose": "principal"}

    @staticmethod
    def commitment(cid: str) -> dict[str, Any]:
        return {"commitment_id": cid, "issuer": BUYER, "beneficiary": SUPPLIER,
                "title": "investment incentive", "kind": "investment_agreement",
                "document_sha256": "ef" * 32, "legal_basis": "Hami measures art. 20",
                "obligations": [{"obligation_id": "o1", "description": "subsidy",
                                 "amount_fen": 500_000, "due_date": "2026-12-31"}],
                "responsible": {"department": "Investment Bureau", "official": "Li"}}

    def case(self, type_: str) -> tuple[str, dict[str, Any]]:
        """A stream and body that every allowed signer could record right now."""
        n = next(_ids)
        c1 = "contract/C1"
        bodies: dict[str, tuple[str, dict[str, Any]]] = {
            "party.registered": (f"party/{complete_uscc('91650500MA9000' + f'{n:03d}')}", {}),
            "key.registered": (f"party/{STRANGER}", {
                "party_id": STRANGER, "roles": ["enterprise"],
                "vkey": SignerKey.from_seed(f"{STRANGER}/k{n}", seed(n % 250)).verifier.vkey}),
            "rate.lpr_published": ("reference/lpr", {"effective_on": "2026-05-20",
                                                     "one_year_bp": 300}),
            "calendar.published": ("reference/calendar", {
                "year": 2026, "holidays": ["2026-10-01"], "workdays": ["2026-09-27"]}),
            "key.revoked": (f"party/{SUPPLIER}", {"key_name": self.spare.name, "reason": "lost",
                                                  "effective_at": "2026-11-25T08:00:00Z"}),
            "commitment.made": (f"commitment/K{n}", self.commitment(f"K{n}")),
            "commitment.changed": ("commitment/K1", {
                "action": "amend", "effective_on": "2026-09-01", "reason": "law_change",
                "legal_authority": "law", "procedure_ref": "decision 2"}),
            "compensation.determined": ("commitment/K1", {
                "duty_id": f"D{n}", "beneficiary": SUPPLIER, "amount_fen": 5,
                "due_date": "2026-10-01", "basis": "x"}),
            "commitment.obligation_fulfilled": ("commitment/K1", {
                "obligation_id": "o1", "fulfilled_on": "2026-09-01", "amount_fen": 1}),
            "compensation.paid": ("commitment/K1", {"duty_id": "D1", "amount_fen": 1,
                                                    "paid_on": "2026-09-01", "voucher_ref": "v"}),
            "commitment.acknowledged": ("commitment/K1", {"party_id": SUPPLIER}),
            "contract.signed": (f"contract/C{n}", contract_body(f"C{n}", buyer=BUYER,
                                                                supplier=SUPPLIER)),
            "contract.accepted": (c1, {"milestone_id": "m1", "accepted_on": "2026-07-01",
                                       "result": "passed"}),
            "contract.settlement_confirmed": (c1, {"milestone_id": "m1", "amount_fen": 100,
                                                   "confirmed_on": "2026-07-01"}),
            "contract.amended": (c1, {"changes": {"m1.description": "v2"}, "reason": "scope"}),
            "receivable.confirmed": (c1, {"milestone_id": "m1", "amount_fen": 100,
                                          "confirmed_on": "2026-07-01"}),
            "contract.countersigned": (c1, {"party_id": SUPPLIER}),
            "contract.delivered": (c1, {"milestone_id": "m1", "delivered_on": "2026-06-20"}),
            "payment.contested": (c1, {"payment_id": "P0", "reason": "not received"}),
            "receivable.confirmation_requested": (c1, {"milestone_id": "m1", "amount_fen": 100,
                                                       "requested_on": "2026-07-01"}),
            "milestone.disputed": (c1, {"milestone_id": "m1", "disputed_fen": 100,
                                        "reason": "late", "raised_on": "2026-07-01"}),
            "dispute.resolved": (c1, {"milestone_id": "m2", "resolved_on": "2026-07-10",
                                      "owed_fen": 50}),
            "contract.terminated": (c1, {"on": "2026-12-01", "reason": "completed"}),
            "payment.made": (c1, self.payment(f"P{n}")),
            "complaint.filed": (f"complaint/Q{n}", {
                "complaint_id": f"Q{n}", "against": BUYER, "subject_stream": c1,
                "kind": "other", "filed_on": "2026-09-01"}),
            "complaint.answered": ("complaint/Q1", {"answered_on": "2026-09-10",
                                                    "outcome": "paid"}),
            "accountability.recorded": (c1, {
                "subject_stream": c1, "responsible": {"department": "Bureau", "official": "Wang"},
                "finding": "late payment", "action": "warning"}),
        }
        stream, body = bodies[type_]
        if type_ == "party.registered":
            body = {"party_id": stream.split("/")[1], "name": "new", "kind": "enterprise",
                    "scale": "micro"}
        return stream, body


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    path = tmp_path_factory.mktemp("matrix") / "ledger.sqlite3"
    f = Fixture(f"sqlite:///{path}")
    yield f
    f.ledger.close()


def test_the_table_covers_the_whole_catalogue() -> None:
    from ledger.catalogue import CATALOGUE

    assert set(ALLOWED) == set(CATALOGUE)


@pytest.mark.parametrize("signer", sorted(SIGNERS))
@pytest.mark.parametrize("event_type", sorted(ALLOWED))
def test_authorization(fixture: Fixture, event_type: str, signer: str) -> None:
    stream, body = fixture.case(event_type)
    candidate = fixture.sign(signer, event_type, stream, body)
    poison = Submission(fixture.sign("operator", "rate.lpr_published", "reference/lpr",
                                     {"effective_on": "2026-01-01", "one_year_bp": 1}
                                     ).envelope_bytes, bytes(64))
    size = fixture.ledger.size()
    with pytest.raises(BatchRejected) as info:
        fixture.ledger.record_batch([candidate, poison])
    assert fixture.ledger.size() == size
    verdicts = dict(info.value.failures)
    assert 1 in verdicts  # the poison
    if signer in ALLOWED[event_type]:
        assert 0 not in verdicts, f"{signer} should be allowed {event_type}: {verdicts.get(0)}"
    else:
        assert isinstance(verdicts.get(0), RoleNotAllowed), (
            f"{signer} should be refused {event_type}, got {verdicts.get(0)!r}")
