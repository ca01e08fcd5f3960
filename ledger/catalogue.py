"""The event catalogue (DESIGN 4): body schemas, stream binding and who may sign.

Schema violations are 400s naming the field; values that are well-formed but
impossible (a 30 February, a credit code whose check character is wrong, an amount
that is not positive) are 422 rule violations naming the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any

from .errors import (
    MissingField,
    NotInEnumeration,
    RuleViolation,
    UnknownEventType,
    UnknownField,
    WrongStream,
    WrongType,
)
from .keys import VerifierKey
from .timeutil import (
    FIRST_DATE,
    LAST_DATE,
    MAX_PERIOD_DAYS,
    looks_like_date,
    looks_like_instant,
    parse_instant,
)
from .uscc import is_valid_uscc, looks_like_uscc

MAX_TEXT = 4000
# \Z, not $: $ also matches before a final newline ("p1\n" would pass as an identifier).
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}\Z")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}\Z")
STREAM_KINDS = ("contract", "commitment", "party", "complaint", "reference")
REFERENCE_STREAMS = ("reference/lpr", "reference/calendar")

PARTY_KINDS = ("government", "public_institution", "soe", "enterprise", "inspector", "operator")
SCALES = ("large", "medium", "small", "micro")
SME_SCALES = ("medium", "small", "micro")
ROLES = ("issuer", "buyer", "finance", "enterprise", "inspector", "operator")
PUBLIC_BUYER_KINDS = ("government", "public_institution")

Validator = Callable[[Any, str], None]

# Rule violations found while checking the schema wait here until the domain-rule
# step, so that the documented order (schema 400, version 409, authority 403, rules
# 422) holds whatever combination of faults a body has.
_deferred: ContextVar[list[RuleViolation] | None] = ContextVar("_deferred", default=None)


# Field validators ------------------------------------------------------------
def _text(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise WrongType(f"{path} must be text", field=path)
    if not value.strip():
        raise WrongType(f"{path} must not be empty", field=path)
    if len(value) > MAX_TEXT:
        raise WrongType(f"{path} is longer than {MAX_TEXT} characters", field=path)


def _identifier(value: Any, path: str) -> None:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise WrongType(
            f"{path} must be an identifier of 1-128 characters [A-Za-z0-9._:-]", field=path
        )


def _int(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongType(f"{path} must be an integer", field=path)


def _positive(value: Any, path: str) -> None:
    _int(value, path)
    if value <= 0:
        raise RuleViolation("AMOUNT_NOT_POSITIVE", f"{path} must be greater than 0", field=path)


def _non_negative(value: Any, path: str) -> None:
    _int(value, path)
    if value < 0:
        raise RuleViolation("AMOUNT_NEGATIVE", f"{path} must not be negative", field=path)


def _date(value: Any, path: str) -> None:
    if not isinstance(value, str) or not looks_like_date(value):
        raise WrongType(f"{path} must be a date YYYY-MM-DD", field=path)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise RuleViolation("INVALID_DATE", f"{path} {value!r} is not a real date",
                            field=path) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise RuleViolation("DATE_OUT_OF_RANGE", f"{path} {value} is outside "
                            f"{FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}", field=path)


def _period_days(value: Any, path: str) -> None:
    _positive(value, path)
    if value > MAX_PERIOD_DAYS:
        raise RuleViolation("PERIOD_TOO_LONG", f"{path} is {value} days; at most "
                            f"{MAX_PERIOD_DAYS}", field=path)


def _instant(value: Any, path: str) -> None:
    # ASCII without a final newline: the shared pattern's \d and $ admit both.
    if (not isinstance(value, str) or not value.isascii() or value.endswith("\n")
            or not looks_like_instant(value)):
        raise WrongType(f"{path} must be an RFC 3339 UTC instant", field=path)
    try:
        parse_instant(value)
    except ValueError:
        raise RuleViolation("INVALID_DATE", f"{path} {value!r} is not a real instant",
                            field=path) from None


def _uscc(value: Any, path: str) -> None:
    if not isinstance(value, str) or not looks_like_uscc(value):
        raise WrongType(f"{path} must be an 18-character unified social credit code", field=path)
    if not is_valid_uscc(value):
        raise RuleViolation(
            "USCC_CHECK_CHARACTER",
            f"{path} {value!r}: check character does not match (GB 32100-2015)",
            field=path,
        )


def _sha256(value: Any, path: str) -> None:
    if not isinstance(value, str) or not SHA256_PATTERN.match(value):
        raise WrongType(f"{path} must be a SHA-256 in 64 lowercase hex digits", field=path)


def _vkey(value: Any, path: str) -> None:
    _text(value, path)
    try:
        VerifierKey.parse(value)
    except Exception as exc:
        raise WrongType(f"{path} is not a valid vkey: {exc}", field=path) from exc


def _stream_name(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise WrongType(f"{path} must be a stream name", field=path)
    check_stream_name(value, path)


def _enum(*choices: str) -> Validator:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise WrongType(f"{path} must be text", field=path)
        if value not in choices:
            raise NotInEnumeration(
                f"{path} {value!r} is not one of {', '.join(choices)}", field=path
            )

    return check


def _list(item: Validator, *, min_items: int = 0, max_items: int = 1000,
          unique: bool = False) -> Validator:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise WrongType(f"{path} must be a list", field=path)
        if len(value) < min_items:
            raise WrongType(f"{path} needs at least {min_items} item(s)", field=path)
        if len(value) > max_items:
            raise WrongType(f"{path} has more than {max_items} items", field=path)
        for i, element in enumerate(value):
            item(element, f"{path}[{i}]")
        if unique and len({repr(v) for v in value}) != len(value):
            raise RuleViolation("DUPLICATE_ITEM", f"{path} lists an item twice", field=path)

    return check


def _free_map(value: Any, path: str) -> None:
    """A non-empty map of named changes whose values are text, integers or booleans."""
    if not isinstance(value, dict) or not value or len(value) > 100:
        raise WrongType(f"{path} must be a non-empty map of at most 100 entries", field=path)
    for name, item in value.items():
        if not isinstance(item, (str, int)) or (isinstance(item, str) and len(item) > MAX_TEXT):
            raise WrongType(f"{path}.{name} must be text or an integer", field=f"{path}.{name}")


@dataclass(frozen=True)
class Field:
    check: Validator
    required: bool = True


def _opt(check: Validator) -> Field:
    return Field(check, required=False)


def _map(fields: Mapping[str, Field | Validator]) -> Validator:
    spec = {name: f if isinstance(f, Field) else Field(f) for name, f in fields.items()}

    def check(value: Any, path: str) -> None:
        validate_map(value, spec, path)

    return check


def validate_map(value: Any, spec: Mapping[str, Field], path: str) -> None:
    if not isinstance(value, dict):
        raise WrongType(f"{path} must be a map", field=path)
    for name in value:
        if name not in spec:
            raise UnknownField(f"{path}.{name} is not a field of this event",
                               field=f"{path}.{name}")
    for name, field in spec.items():
        if name not in value:
            if field.required:
                raise MissingField(f"{path}.{name} is required", field=f"{path}.{name}")
            continue
        if value[name] is None:
            raise WrongType(f"{path}.{name}: optional fields are omitted, never null",
                            field=f"{path}.{name}")
        try:
            field.check(value[name], f"{path}.{name}")
        except RuleViolation as violation:
            pending = _deferred.get()
            if pending is None:
                raise
            pending.append(violation)


# Shared shapes -------------------------------------------------------------
RESPONSIBLE = _map({"department": _text, "official": _text})
OBLIGATION = _map({
    "obligation_id": _identifier,
    "description": _text,
    "amount_fen": _opt(_positive),
    "due_date": _date,
})
MILESTONE = _map({"milestone_id": _identifier, "description": _text, "amount_fen": _positive})


@dataclass(frozen=True)
class EventSpec:
    """One entry of the catalogue."""

    type: str
    stream_kind: str  # "party", "commitment", "contract", "complaint", "reference", "subject"
    fields: Mapping[str, Field]
    signers: str  # who may sign, in words (the rule itself lives in authority.py)
    id_field: str | None = None  # body field that must equal the stream id
    reference_stream: str | None = None


def _spec(type_: str, kind: str, fields: Mapping[str, Field | Validator], signers: str,
          id_field: str | None = None, reference_stream: str | None = None) -> EventSpec:
    return EventSpec(
        type_, kind,
        {n: f if isinstance(f, Field) else Field(f) for n, f in fields.items()},
        signers, id_field, reference_stream,
    )


CATALOGUE: dict[str, EventSpec] = {s.type: s for s in [
    # Parties and keys ------------------------------------------------------
    _spec("party.registered", "party", {
        "party_id": _uscc, "name": _text, "kind": _enum(*PARTY_KINDS),
        "scale": _opt(_enum(*SCALES)),
        "pays_for": _opt(_list(_uscc, min_items=1, unique=True)),
    }, "operator role", id_field="party_id"),
    _spec("key.registered", "party", {
        "party_id": _uscc, "vkey": _vkey,
        "roles": _list(_enum(*ROLES), min_items=1, unique=True),
    }, "operator role", id_field="party_id"),
    _spec("key.revoked", "party", {
        "key_name": _text, "reason": _text, "effective_at": _instant,
    }, "operator role, or a key of the same party"),
    # Commitments -----------------------------------------------------------
    _spec("commitment.made", "commitment", {
        "commitment_id": _identifier, "issuer": _uscc, "beneficiary": _uscc, "title": _text,
        "kind": _enum("policy", "investment_agreement", "subsidy", "tax", "land", "licence",
                      "other"),
        "document_sha256": _sha256, "legal_basis": _text,
        "obligations": _list(OBLIGATION, min_items=1),
        "responsible": RESPONSIBLE,
    }, "issuer role, party = the commitment's issuer", id_field="commitment_id"),
    _spec("commitment.acknowledged", "commitment", {"party_id": _uscc}, "the beneficiary"),
    _spec("commitment.obligation_fulfilled", "commitment", {
        "obligation_id": _identifier, "fulfilled_on": _date,
        "amount_fen": _opt(_positive), "evidence_sha256": _opt(_sha256),
    }, "the issuer, or a finance key whose party's pays_for holds the issuer"),
    _spec("commitment.changed", "commitment", {
        "action": _enum("amend", "withdraw"), "effective_on": _date,
        "reason": _enum("public_interest", "national_interest", "law_change",
                        "administrative_division_change", "government_change",
                        "institutional_adjustment", "personnel_change", "other"),
        "legal_authority": _opt(_text), "procedure_ref": _opt(_text),
        "consultation": _opt(_map({"held_on": _date, "record_sha256": _sha256})),
        "new_obligations": _opt(_list(OBLIGATION, min_items=1)),
        "compensation_offer": _opt(_map({"amount_fen": _positive,
                                         "description": _opt(_text)})),
    }, "issuer role, party = the commitment's issuer"),
    _spec("compensation.determined", "commitment", {
        "duty_id": _identifier, "beneficiary": _uscc, "amount_fen": _positive,
        "due_date": _date, "basis": _text,
    }, "issuer role, party = the commitment's issuer"),
    _spec("compensation.paid", "commitment", {
        "duty_id": _identifier, "amount_fen": _positive, "paid_on": _date,
        "voucher_ref": _text,
    }, "the issuer, or a finance key whose party's pays_for holds the issuer"),
    # Contracts and payments ------------------------------------------------
    _spec("contract.signed", "contract", {
        "contract_id": _identifier, "buyer": _uscc, "supplier": _uscc,
        "supplier_scale_at_signing": _enum(*SCALES), "value_fen": _positive,
        "signed_on": _date, "document_sha256": _sha256,
        "payment_basis": _enum("delivery", "acceptance", "settlement"),
        "payment_term_days": _opt(_period_days),
        "acceptance_period_days": _opt(_period_days),
        "late_interest_annual_bp": _opt(_non_negative),
        "milestones": _list(MILESTONE, min_items=1),
        "responsible": RESPONSIBLE,
    }, "buyer role, party = the buyer", id_field="contract_id"),
    _spec("contract.countersigned", "contract", {"party_id": _uscc}, "the supplier"),
    _spec("contract.delivered", "contract", {
        "milestone_id": _identifier, "delivered_on": _date}, "the supplier"),
    _spec("contract.accepted", "contract", {
        "milestone_id": _identifier, "accepted_on": _date,
        "result": _enum("passed", "failed")}, "buyer role, party = the buyer"),
    _spec("contract.settlement_confirmed", "contract", {
        "milestone_id": _identifier, "amount_fen": _positive, "confirmed_on": _date,
    }, "buyer role, party = the buyer"),
    _spec("contract.amended", "contract", {
        "changes": _free_map, "reason": _text, "agreed_by_supplier_sha256": _opt(_sha256),
    }, "buyer role, party = the buyer"),
    _spec("contract.terminated", "contract", {"on": _date, "reason": _text},
          "the buyer or the supplier"),
    _spec("payment.made", "contract", {
        "payment_id": _identifier, "milestone_id": _opt(_identifier),
        "amount_fen": _positive, "paid_on": _date,
        "method": _enum("transfer", "bill", "e_voucher"), "voucher_ref": _text,
        "purpose": _enum("principal", "interest"),
    }, "the buyer, or a finance key whose party's pays_for holds the buyer"),
    _spec("milestone.disputed", "contract", {
        "milestone_id": _identifier, "disputed_fen": _positive, "reason": _text,
        "raised_on": _date}, "the buyer or the supplier"),
    _spec("dispute.resolved", "contract", {
        "milestone_id": _identifier, "resolved_on": _date, "owed_fen": _non_negative,
    }, "the buyer or the supplier"),
    _spec("payment.contested", "contract", {"payment_id": _identifier, "reason": _text},
          "the supplier"),
    _spec("receivable.confirmation_requested", "contract", {
        "milestone_id": _identifier, "amount_fen": _positive, "requested_on": _date,
    }, "the supplier"),
    _spec("receivable.confirmed", "contract", {
        "milestone_id": _identifier, "amount_fen": _positive, "confirmed_on": _date,
    }, "buyer role, party = the buyer"),
    # Complaints and accountability -----------------------------------------
    _spec("complaint.filed", "complaint", {
        "complaint_id": _identifier, "against": _uscc, "subject_stream": _stream_name,
        "kind": _enum("arrears", "breach", "other"), "filed_on": _date,
    }, "any party with an active key", id_field="complaint_id"),
    _spec("complaint.answered", "complaint", {"answered_on": _date, "outcome": _text},
          "the party complained against, an inspector or the operator"),
    _spec("accountability.recorded", "subject", {
        "subject_stream": _stream_name, "responsible": RESPONSIBLE, "finding": _text,
        "action": _text,
    }, "inspector role; recorded in the subject's stream"),
    # Reference data --------------------------------------------------------
    _spec("rate.lpr_published", "reference", {"effective_on": _date, "one_year_bp": _positive},
          "operator role", reference_stream="reference/lpr"),
    _spec("calendar.published", "reference", {
        "year": _positive, "holidays": _list(_date, unique=True, max_items=366),
        "workdays": _list(_date, unique=True, max_items=366),
    }, "operator role", reference_stream="reference/calendar"),
]}


def check_stream_name(stream: str, path: str = "stream") -> tuple[str, str]:
    kind, sep, ident = stream.partition("/")
    if not sep or kind not in STREAM_KINDS:
        raise WrongStream(
            f"{path} {stream!r} must be <kind>/<id> with kind one of {', '.join(STREAM_KINDS)}",
            field=path,
        )
    if kind == "reference":
        if stream not in REFERENCE_STREAMS:
            raise WrongStream(f"{path} {stream!r}: reference streams are "
                              f"{', '.join(REFERENCE_STREAMS)}", field=path)
    elif kind == "party":
        if not looks_like_uscc(ident):
            raise WrongStream(f"{path} {stream!r}: party streams are party/<credit code>",
                              field=path)
    elif not ID_PATTERN.match(ident):
        raise WrongStream(f"{path} {stream!r}: the id must be 1-128 characters [A-Za-z0-9._:-]",
                          field=path)
    return kind, ident


def validate_event(type_: str, stream: str, body: Any) -> tuple[EventSpec, list[RuleViolation]]:
    """Schema and stream binding of one event; raises naming the field.

    Returns the spec and the rule violations (422) found in field values, which the
    caller raises after the version and authority checks.
    """
    pending: list[RuleViolation] = []
    token = _deferred.set(pending)
    try:
        spec = _validate_event(type_, stream, body)
    finally:
        _deferred.reset(token)
    return spec, pending


def _validate_event(type_: str, stream: str, body: Any) -> EventSpec:
    spec = CATALOGUE.get(type_)
    if spec is None:
        raise UnknownEventType(f"event type {type_!r} is not in the catalogue", field="type")
    kind, ident = check_stream_name(stream)
    validate_map(body, spec.fields, "body")
    if spec.stream_kind == "subject":
        if kind not in ("contract", "commitment", "complaint"):
            raise WrongStream(f"{type_} is recorded in a contract, commitment or complaint "
                              f"stream, not {stream!r}", field="stream")
        if body["subject_stream"] != stream:
            raise WrongStream(f"{type_} must be recorded in its subject's stream "
                              f"{body['subject_stream']!r}, not {stream!r}", field="stream")
    elif spec.reference_stream is not None:
        if stream != spec.reference_stream:
            raise WrongStream(f"{type_} belongs in {spec.reference_stream!r}, not {stream!r}",
                              field="stream")
    elif kind != spec.stream_kind:
        raise WrongStream(f"{type_} belongs in a {spec.stream_kind}/<id> stream, not {stream!r}",
                          field="stream")
    if spec.id_field is not None and body[spec.id_field] != ident:
        raise WrongStream(
            f"body.{spec.id_field} {body[spec.id_field]!r} does not match the stream {stream!r}",
            field="stream",
        )
    return spec


def is_sme(scale: str | None) -> bool:
    return scale in SME_SCALES


def opens_stream(type_: str) -> bool:
    """Whether an event of this type may be the first of its stream."""
    spec = CATALOGUE[type_]
    return type_ != "key.registered" and (spec.id_field is not None
                                          or spec.reference_stream is not None)
