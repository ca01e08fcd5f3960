"""Contracts as Open Contracting Data Standard 1.1 release packages.

One release per contract stream, describing the contract as the log knows it:

- ``parties``: the buyer (``buyer``), the supplier (``supplier``, ``payee``) and whoever
  signed payments (``payer``: the buyer itself or a finance department paying for it),
  identified by their unified social credit code (GB 32100-2015) under the identifier
  scheme ``CN-USCC`` (``scheme=`` to use another list code);
- ``awards[0]``: the award the contract implements (OCDS requires ``contract.awardID``);
- ``contracts[0]``: value, ``dateSigned``, status (``active``/``terminated``), the signed
  contract document by its SHA-256, milestones (``met`` when delivered, accepted or
  settled as the payment basis requires), amendments, and every ``payment.made`` as an
  ``implementation.transactions`` entry;
- ``tag``: ``contract``, plus ``implementation`` once anything was delivered or paid,
  ``contractAmendment`` and ``contractTermination`` when those were recorded;
- ``date`` / ``publishedDate``: ``recorded_at`` of the latest event taken in, so the same
  log prefix always gives the same package.

Money is written as JSON numbers with exactly two decimals, built from integer fen as
text (:func:`dumps`): no binary floating point anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .records import LoggedEvent

OCDS_VERSION = "1.1"
CURRENCY = "CNY"
DEFAULT_SCHEME = "CN-USCC"
DEFAULT_PREFIX = "ocds-hmcl00"  # replace with the publisher's registered ocid prefix
CST = "+08:00"


def amount(fen: int) -> Decimal:
    """Integer fen as an exact decimal number of yuan (two places)."""
    return Decimal(fen).scaleb(-2)


def date_time(business_date: str) -> str:
    """A business date as an OCDS date-time: midnight China Standard Time."""
    return f"{business_date}T00:00:00{CST}"


@dataclass
class _Party:
    party_id: str
    name: str
    kind: str


@dataclass
class _Contract:
    contract_id: str
    events: list[LoggedEvent] = field(default_factory=list)


class PackageBuilder:
    """Folds a log (in order) and builds the release package of its contracts."""

    def __init__(self, *, ocid_prefix: str = DEFAULT_PREFIX, scheme: str = DEFAULT_SCHEME,
                 contract_ids: Iterable[str] | None = None) -> None:
        self.ocid_prefix = ocid_prefix
        self.scheme = scheme
        self.only = set(contract_ids) if contract_ids is not None else None
        self.parties: dict[str, _Party] = {}
        self.contracts: dict[str, _Contract] = {}
        self.last_recorded_at: str | None = None
        self.size = 0

    def apply(self, event: LoggedEvent) -> None:
        self.size = event.index + 1
        self.last_recorded_at = event.recorded_at
        if event.type == "party.registered":
            body = event.body
            self.parties[body["party_id"]] = _Party(body["party_id"], body["name"],
                                                    body["kind"])
            return
        kind, _, ident = event.stream.partition("/")
        if kind != "contract" or (self.only is not None and ident not in self.only):
            return
        contract = self.contracts.setdefault(ident, _Contract(ident))
        contract.events.append(event)

    def package(self, *, uri: str, publisher: str) -> dict[str, Any]:
        releases = [self.release(c) for _, c in sorted(self.contracts.items())
                    if c.events and c.events[0].type == "contract.signed"]
        return {
            "uri": uri,
            "version": OCDS_VERSION,
            "publishedDate": self.last_recorded_at or "1970-01-01T00:00:00Z",
            "publisher": {"name": publisher},
            "releases": releases,
        }

    # One contract ----------------------------------------------------------------
    def _reference(self, party_id: str) -> dict[str, Any]:
        party = self.parties.get(party_id)
        return {"id": party_id, "name": party.name if party else party_id}

    def _organization(self, party_id: str, roles: list[str]) -> dict[str, Any]:
        party = self.parties.get(party_id)
        name = party.name if party else party_id
        return {"id": party_id, "name": name,
                "identifier": {"scheme": self.scheme, "id": party_id, "legalName": name},
                "roles": roles}

    def release(self, contract: _Contract) -> dict[str, Any]:
        signed = contract.events[0]
        body = signed.body
        contract_id = contract.contract_id
        buyer, supplier = body["buyer"], body["supplier"]
        roles: dict[str, list[str]] = {buyer: ["buyer"], supplier: ["supplier", "payee"]}
        milestones = {m["milestone_id"]: {"id": m["milestone_id"], "title": m["description"],
                                          "type": "delivery",
                                          "description": f"amount {amount(m['amount_fen'])} "
                                                         f"{CURRENCY}",
                                          "status": "scheduled"}
                      for m in body["milestones"]}
        transactions: list[dict[str, Any]] = []
        amendments: list[dict[str, Any]] = []
        tags = ["contract"]
        status = "active"
        basis = body["payment_basis"]
        for event in contract.events[1:]:
            b = event.body
            if event.type in ("contract.delivered", "contract.accepted",
                              "contract.settlement_confirmed", "payment.made"):
                _add_tag(tags, "implementation")
            met_on = _met_on(basis, event)
            if met_on is not None and b["milestone_id"] in milestones:
                milestone = milestones[b["milestone_id"]]
                milestone["status"] = "met"
                milestone["dateMet"] = date_time(met_on)
            if event.type == "payment.made":
                payer = event.signer.split("/", 1)[0]
                roles.setdefault(payer, [])
                _add_tag(roles[payer], "payer")
                transaction: dict[str, Any] = {
                    "id": b["payment_id"], "date": date_time(b["paid_on"]),
                    "value": {"amount": amount(b["amount_fen"]), "currency": CURRENCY},
                    "payer": self._reference(payer), "payee": self._reference(supplier),
                }
                transactions.append(transaction)
            elif event.type == "contract.amended":
                _add_tag(tags, "contractAmendment")
                amendments.append({
                    "id": f"{contract_id}-v{event.version}", "date": _instant(event),
                    "rationale": b["reason"],
                    "description": "; ".join(f"{k}: {v}"
                                             for k, v in sorted(b["changes"].items())),
                })
            elif event.type == "contract.terminated":
                _add_tag(tags, "contractTermination")
                status = "terminated"
        value = {"amount": amount(body["value_fen"]), "currency": CURRENCY}
        award_id = f"{contract_id}-award"
        contract_doc: dict[str, Any] = {
            "id": contract_id, "awardID": award_id, "status": status, "value": value,
            "dateSigned": date_time(body["signed_on"]),
            "documents": [{
                "id": f"{contract_id}-document", "documentType": "contractSigned",
                "title": "Signed contract",
                "description": f"SHA-256 {body['document_sha256']}; recorded at leaf "
                               f"{signed.index} (leaf hash {signed.leaf_hash.hex()})",
                "datePublished": _instant(signed),
            }],
            "milestones": list(milestones.values()),
        }
        if transactions:
            contract_doc["implementation"] = {"transactions": transactions}
        if amendments:
            contract_doc["amendments"] = amendments
        last = contract.events[-1]
        return {
            "ocid": f"{self.ocid_prefix}-{contract_id}",
            "id": f"{contract_id}-v{last.version}",
            "date": _instant(last),
            "tag": tags,
            "initiationType": "tender",
            "language": "zh",
            "parties": [self._organization(pid, r) for pid, r in roles.items()],
            "buyer": self._reference(buyer),
            "awards": [{"id": award_id, "status": "active",
                        "date": date_time(body["signed_on"]), "value": dict(value),
                        "suppliers": [self._reference(supplier)]}],
            "contracts": [contract_doc],
        }


def _add_tag(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


def _instant(event: LoggedEvent) -> str:
    return event.recorded_at


def _met_on(basis: str, event: LoggedEvent) -> str | None:
    """The date a milestone counts as met under the contract's payment basis."""
    b = event.body
    if event.type == "contract.delivered" and basis == "delivery":
        return str(b["delivered_on"])
    if event.type == "contract.accepted" and basis == "acceptance" and b["result"] == "passed":
        return str(b["accepted_on"])
    if event.type == "contract.settlement_confirmed" and basis == "settlement":
        return str(b["confirmed_on"])
    return None


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """JSON text of ``value``; ``Decimal`` s become numbers written digit for digit."""
    return _dump(value, indent, 0)


def _dump(value: Any, indent: int | None, depth: int) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{json.dumps(str(k), ensure_ascii=False)}: {_dump(v, indent, depth + 1)}"
                 for k, v in value.items()]
        return _wrap("{", "}", items, indent, depth)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return _wrap("[", "]", [_dump(v, indent, depth + 1) for v in value], indent, depth)
    if isinstance(value, float):
        raise TypeError("floats are not written; use Decimal or integers")
    return json.dumps(value, ensure_ascii=False)


def _wrap(opening: str, closing: str, items: list[str], indent: int | None, depth: int) -> str:
    if indent is None:
        return opening + ",".join(items) + closing
    pad = " " * (indent * (depth + 1))
    return (opening + "\n" + ",\n".join(pad + item for item in items) + "\n"
            + " " * (indent * depth) + closing)
