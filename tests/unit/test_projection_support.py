"""A small log builder for projection tests (no test cases here).

Builds ``LoggedEvent`` leaves with dense indices, per-stream versions and fake leaf
hashes; bodies follow the event catalogue with optional fields omitted.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from ledger.records import LoggedEvent

GOV = "11650500MB0000001A"
FINANCE = "11650500MB0000002B"
SOE = "91650500MA0000003C"
SMALL = "91650500MA0000004D"
LARGE = "91650500MA0000005E"
INSPECTOR = "11650500MB0000006F"

RESPONSIBLE = {"department": "Hami Bureau of Works", "official": "Wang Wei"}

# The 2025 State Council holiday arrangement.
HOLIDAYS_2025 = [
    "2025-01-01",
    *(f"2025-01-{d}" for d in range(28, 32)),
    *(f"2025-02-0{d}" for d in range(1, 5)),
    "2025-04-04",
    "2025-04-05",
    "2025-04-06",
    *(f"2025-05-0{d}" for d in range(1, 6)),
    "2025-05-31",
    "2025-06-01",
    "2025-06-02",
    *(f"2025-10-0{d}" for d in range(1, 9)),
]
WORKDAYS_2025 = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]


def leaf_hash(index: int) -> bytes:
    return hashlib.sha256(f"leaf {index}".encode()).digest()


def d(text: str) -> date:
    return date.fromisoformat(text)


class LogBuilder:
    """Appends events to an in-memory log; ``clock`` is the recording date."""

    def __init__(self, clock: str = "2025-01-02") -> None:
        self.events: list[LoggedEvent] = []
        self.versions: dict[str, int] = {}
        self.clock = clock
        self.payments = 0

    def add(
        self, stream: str, type_: str, body: dict[str, Any], signer: str = "x/k"
    ) -> LoggedEvent:
        version = self.versions.get(stream, 0) + 1
        self.versions[stream] = version
        index = len(self.events)
        previous = [e for e in self.events if e.stream == stream]
        event = LoggedEvent(
            index=index,
            leaf_hash=leaf_hash(index),
            stream=stream,
            version=version,
            type=type_,
            recorded_at=f"{self.clock}T02:00:00Z",
            signer=signer,
            body=body,
            prev=previous[-1].leaf_hash if previous else None,
        )
        self.events.append(event)
        return event

    # -- reference ---------------------------------------------------------
    def party(
        self, party_id: str, kind: str, scale: str | None = None, pays_for: list[str] | None = None
    ) -> LoggedEvent:
        body: dict[str, Any] = {"party_id": party_id, "name": f"party {party_id}", "kind": kind}
        if scale is not None:
            body["scale"] = scale
        if pays_for is not None:
            body["pays_for"] = pays_for
        return self.add(f"party/{party_id}", "party.registered", body)

    def standard_parties(self) -> None:
        self.party(GOV, "government")
        self.party(FINANCE, "government", pays_for=[GOV])
        self.party(SOE, "soe", scale="large")
        self.party(SMALL, "enterprise", scale="small")
        self.party(LARGE, "enterprise", scale="large")
        self.party(INSPECTOR, "inspector")

    def calendar(
        self, year: int = 2025, holidays: list[str] | None = None, workdays: list[str] | None = None
    ) -> LoggedEvent:
        return self.add(
            "reference/calendar",
            "calendar.published",
            {
                "year": year,
                "holidays": HOLIDAYS_2025 if holidays is None else holidays,
                "workdays": WORKDAYS_2025 if workdays is None else workdays,
            },
        )

    def lpr(self, effective_on: str, one_year_bp: int) -> LoggedEvent:
        return self.add(
            "reference/lpr",
            "rate.lpr_published",
            {"effective_on": effective_on, "one_year_bp": one_year_bp},
        )

    # -- contracts ---------------------------------------------------------
    def contract(
        self,
        contract_id: str = "C1",
        *,
        buyer: str = GOV,
        supplier: str = SMALL,
        scale: str = "small",
        basis: str = "acceptance",
        milestones: list[tuple[str, int]] | None = None,
        signed_on: str = "2025-06-01",
        **terms: int,
    ) -> LoggedEvent:
        items = milestones if milestones is not None else [("M1", 20_000_000)]
        body: dict[str, Any] = {
            "contract_id": contract_id,
            "buyer": buyer,
            "supplier": supplier,
            "supplier_scale_at_signing": scale,
            "value_fen": sum(amount for _, amount in items),
            "signed_on": signed_on,
            "document_sha256": hashlib.sha256(contract_id.encode()).hexdigest(),
            "payment_basis": basis,
            "milestones": [
                {"milestone_id": mid, "description": f"work {mid}", "amount_fen": amount}
                for mid, amount in items
            ],
            "responsible": dict(RESPONSIBLE),
        }
        body.update(terms)
        return self.add(f"contract/{contract_id}", "contract.signed", body)

    def deliver(self, on: str, milestone: str = "M1", contract: str = "C1") -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "contract.delivered",
            {"milestone_id": milestone, "delivered_on": on},
        )

    def accept(
        self, on: str, milestone: str = "M1", contract: str = "C1", result: str = "passed"
    ) -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "contract.accepted",
            {"milestone_id": milestone, "accepted_on": on, "result": result},
        )

    def settle(
        self, on: str, amount: int, milestone: str = "M1", contract: str = "C1"
    ) -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "contract.settlement_confirmed",
            {"milestone_id": milestone, "amount_fen": amount, "confirmed_on": on},
        )

    def pay(
        self,
        on: str,
        amount: int,
        milestone: str | None = "M1",
        contract: str = "C1",
        *,
        purpose: str = "principal",
        payment_id: str | None = None,
    ) -> LoggedEvent:
        self.payments += 1
        body: dict[str, Any] = {
            "payment_id": payment_id or f"P{self.payments}",
            "amount_fen": amount,
            "paid_on": on,
            "method": "transfer",
            "voucher_ref": f"V{self.payments}",
            "purpose": purpose,
        }
        if milestone is not None:
            body["milestone_id"] = milestone
        return self.add(f"contract/{contract}", "payment.made", body)

    def dispute(
        self, on: str, amount: int, milestone: str = "M1", contract: str = "C1"
    ) -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "milestone.disputed",
            {
                "milestone_id": milestone,
                "disputed_fen": amount,
                "reason": "quality",
                "raised_on": on,
            },
        )

    def resolve(
        self, on: str, owed: int, milestone: str = "M1", contract: str = "C1"
    ) -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "dispute.resolved",
            {"milestone_id": milestone, "resolved_on": on, "owed_fen": owed},
        )

    def contest(self, payment_id: str, contract: str = "C1") -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "payment.contested",
            {"payment_id": payment_id, "reason": "not received"},
        )

    def request_confirmation(
        self, on: str, amount: int, milestone: str = "M1", contract: str = "C1"
    ) -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "receivable.confirmation_requested",
            {"milestone_id": milestone, "amount_fen": amount, "requested_on": on},
        )

    def confirm(
        self, on: str, amount: int, milestone: str = "M1", contract: str = "C1"
    ) -> LoggedEvent:
        return self.add(
            f"contract/{contract}",
            "receivable.confirmed",
            {"milestone_id": milestone, "amount_fen": amount, "confirmed_on": on},
        )

    # -- commitments -------------------------------------------------------
    def commitment(
        self,
        commitment_id: str = "K1",
        obligations: list[dict[str, Any]] | None = None,
        issuer: str = GOV,
        beneficiary: str = SMALL,
    ) -> LoggedEvent:
        return self.add(
            f"commitment/{commitment_id}",
            "commitment.made",
            {
                "commitment_id": commitment_id,
                "issuer": issuer,
                "beneficiary": beneficiary,
                "title": "investment support",
                "kind": "investment_agreement",
                "document_sha256": hashlib.sha256(commitment_id.encode()).hexdigest(),
                "legal_basis": "Hami measures Art. 20",
                "obligations": obligations if obligations is not None else [],
                "responsible": dict(RESPONSIBLE),
            },
        )

    def fulfil(
        self, obligation: str, on: str, amount: int | None = None, commitment: str = "K1"
    ) -> LoggedEvent:
        body: dict[str, Any] = {"obligation_id": obligation, "fulfilled_on": on}
        if amount is not None:
            body["amount_fen"] = amount
        return self.add(f"commitment/{commitment}", "commitment.obligation_fulfilled", body)

    def change(
        self,
        effective_on: str,
        reason: str = "public_interest",
        action: str = "amend",
        commitment: str = "K1",
        **extra: Any,
    ) -> LoggedEvent:
        body: dict[str, Any] = {"action": action, "effective_on": effective_on, "reason": reason}
        body.update(extra)
        return self.add(f"commitment/{commitment}", "commitment.changed", body)

    def lawful_change(self, effective_on: str, **extra: Any) -> LoggedEvent:
        return self.change(
            effective_on,
            legal_authority="Hami municipal government",
            procedure_ref="HZ-2025-7",
            consultation={"held_on": effective_on, "record_sha256": "ab" * 32},
            **extra,
        )

    def determine(
        self,
        duty_id: str,
        amount: int,
        due_date: str,
        beneficiary: str = SMALL,
        commitment: str = "K1",
    ) -> LoggedEvent:
        return self.add(
            f"commitment/{commitment}",
            "compensation.determined",
            {
                "duty_id": duty_id,
                "beneficiary": beneficiary,
                "amount_fen": amount,
                "due_date": due_date,
                "basis": "appraisal",
            },
        )

    def compensate(self, duty_id: str, amount: int, on: str, commitment: str = "K1") -> LoggedEvent:
        return self.add(
            f"commitment/{commitment}",
            "compensation.paid",
            {"duty_id": duty_id, "amount_fen": amount, "paid_on": on, "voucher_ref": "CV1"},
        )

    # -- complaints and accountability -------------------------------------
    def complaint(
        self, on: str, complaint_id: str = "Q1", against: str = GOV, subject: str = "contract/C1"
    ) -> LoggedEvent:
        return self.add(
            f"complaint/{complaint_id}",
            "complaint.filed",
            {
                "complaint_id": complaint_id,
                "against": against,
                "subject_stream": subject,
                "kind": "arrears",
                "filed_on": on,
            },
        )

    def answer(self, on: str, complaint_id: str = "Q1") -> LoggedEvent:
        return self.add(
            f"complaint/{complaint_id}",
            "complaint.answered",
            {"answered_on": on, "outcome": "payment scheduled"},
        )

    def accountability(self, subject: str, finding: str = "late payment") -> LoggedEvent:
        return self.add(
            subject,
            "accountability.recorded",
            {
                "subject_stream": subject,
                "responsible": dict(RESPONSIBLE),
                "finding": finding,
                "action": "warning",
            },
        )
