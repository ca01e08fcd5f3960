"""Test fixtures: a small world of registered parties and keys, with a fixed clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.application import Ledger, Outcome
from ledger.envelope import Submission, sign_envelope
from ledger.keys import SignerKey
from ledger.uscc import complete_uscc

OPERATOR_ID = complete_uscc("12650500MB000000" + "1")
BUYER_ID = complete_uscc("11650500MB000010" + "2")     # Hami industry bureau (government)
FINANCE_ID = complete_uscc("11650500MB000020" + "3")   # Hami finance bureau
SUPPLIER_ID = complete_uscc("91650500MA000030" + "4")  # small enterprise
LARGE_ID = complete_uscc("91650500MA000040" + "5")     # large enterprise
INSPECTOR_ID = complete_uscc("11650500MB000050" + "6")  # discipline inspection commission
OTHER_ID = complete_uscc("91650500MA000060" + "7")     # an unrelated enterprise

T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now = self.now + timedelta(**kwargs)


def seed(n: int) -> bytes:
    return bytes([n]) * 32


@dataclass
class World:
    ledger: Ledger
    clock: FixedClock
    operator: SignerKey
    keys: dict[str, SignerKey] = field(default_factory=dict)
    _nonce: Any = field(default_factory=lambda: itertools.count(1))

    def nonce(self) -> bytes:
        return next(self._nonce).to_bytes(16, "big")

    def write_operator_key(self, settings: Any) -> None:
        """Write the operator key file beside the log this world opened, as ``ledger init``
        requires before it takes that log into a data dir (it makes no key for a log that
        exists)."""
        settings.keys_dir.mkdir(parents=True, exist_ok=True)
        settings.keys_dir.chmod(0o700)
        self.operator.write(settings.operator_key_path)

    def sign(self, key: SignerKey, type_: str, stream: str, body: dict[str, Any],
             **kwargs: Any) -> Submission:
        kwargs.setdefault("signed_at", self.clock.now.replace(microsecond=0))
        kwargs.setdefault("nonce", self.nonce())
        return sign_envelope(key, type_, stream, body, **kwargs)

    def post(self, key: SignerKey, type_: str, stream: str, body: dict[str, Any],
             **kwargs: Any) -> Outcome:
        return self.ledger.record(self.sign(key, type_, stream, body, **kwargs))

    def register(self, party_id: str, name: str, kind: str, roles: list[str],
                 label: str, key_seed: int, **extra: Any) -> SignerKey:
        body: dict[str, Any] = {"party_id": party_id, "name": name, "kind": kind, **extra}
        self.post(self.operator, "party.registered", f"party/{party_id}", body)
        return self.add_key(party_id, roles, label, key_seed)

    def add_key(self, party_id: str, roles: list[str], label: str, key_seed: int) -> SignerKey:
        key = SignerKey.from_seed(f"{party_id}/{label}", seed(key_seed))
        self.post(self.operator, "key.registered", f"party/{party_id}",
                  {"party_id": party_id, "vkey": key.verifier.vkey, "roles": roles})
        self.keys[label] = key
        return key


def make_world(database_url: str, *, clock: FixedClock | None = None,
               verify_workers: int = 1) -> World:
    clock = clock or FixedClock()
    ledger = Ledger(database_url, clock=clock, verify_workers=verify_workers)
    operator = SignerKey.from_seed(f"{OPERATOR_ID}/operator", seed(1))
    ledger.initialise(operator, OPERATOR_ID, "Hami business environment ledger operator")
    world = World(ledger, clock, operator)
    world.register(BUYER_ID, "Hami Industry and IT Bureau", "government", ["buyer", "issuer"],
                   "buyer", 2)
    world.register(SUPPLIER_ID, "Hami Tianshan Software Co.", "enterprise", ["enterprise"],
                   "supplier", 3, scale="small")
    world.register(FINANCE_ID, "Hami Finance Bureau", "government", ["finance"], "finance", 4,
                   pays_for=[BUYER_ID])
    world.register(LARGE_ID, "Xinjiang Big Construction Group", "enterprise", ["enterprise"],
                   "large", 5, scale="large")
    world.register(INSPECTOR_ID, "Hami Discipline Inspection Commission", "inspector",
                   ["inspector"], "inspector", 6)
    world.register(OTHER_ID, "Hami Other Trading Co.", "enterprise", ["enterprise"], "other", 7,
                   scale="micro")
    return world


def contract_body(contract_id: str = "HM-2026-001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contract_id": contract_id,
        "buyer": BUYER_ID,
        "supplier": SUPPLIER_ID,
        "supplier_scale_at_signing": "small",
        "value_fen": 50_000_000,
        "signed_on": "2026-06-01",
        "document_sha256": "ab" * 32,
        "payment_basis": "acceptance",
        "payment_term_days": 30,
        "acceptance_period_days": 15,
        "milestones": [
            {"milestone_id": "m1", "description": "software delivery", "amount_fen": 20_000_000},
            {"milestone_id": "m2", "description": "operation year one", "amount_fen": 30_000_000},
        ],
        "responsible": {"department": "Hami Industry and IT Bureau", "official": "Wang Li"},
    }
    body.update(overrides)
    return body
