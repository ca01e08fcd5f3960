"""The rule table: every breach rule id with the articles it rests on (DESIGN 5).

This is the only place that names rules and articles; projections refer to the
constants below. Article strings are part of the result contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    article: str
    fires_when: str


ARREARS = "ARREARS"
TERM_OVER_60 = "TERM_OVER_60"
RATE_BELOW_LPR = "RATE_BELOW_LPR"
ACCEPTANCE_LATE = "ACCEPTANCE_LATE"
CONFIRMATION_LATE = "CONFIRMATION_LATE"
CHANGE_FORBIDDEN_REASON = "CHANGE_FORBIDDEN_REASON"
CHANGE_NO_CONSULTATION = "CHANGE_NO_CONSULTATION"
CHANGE_NO_LEGAL_BASIS = "CHANGE_NO_LEGAL_BASIS"
OBLIGATION_MISSED = "OBLIGATION_MISSED"
COMPENSATION_OVERDUE = "COMPENSATION_OVERDUE"
COMPLAINT_UNANSWERED = "COMPLAINT_UNANSWERED"

_TABLE = (
    Rule(ARREARS, "Hami 22, 64; SME 9", "a milestone has days_overdue > 0"),
    Rule(
        TERM_OVER_60,
        "Hami 22; SME 9",
        "government/public buyer, SME supplier, agreed term > 60 days",
    ),
    Rule(
        RATE_BELOW_LPR,
        "SME 17",
        "SME supplier, agreed late-interest rate below one-year LPR at signing",
    ),
    Rule(
        ACCEPTANCE_LATE,
        "SME 10",
        "delivered, no acceptance within the agreed acceptance period",
    ),
    Rule(
        CONFIRMATION_LATE,
        "Hami 14(6); SME 16",
        "receivable confirmation not given within 30 days of request",
    ),
    Rule(
        CHANGE_FORBIDDEN_REASON,
        "Hami 20; BER 31",
        "commitment changed citing government_change, institutional_adjustment, "
        "personnel_change or administrative_division_change",
    ),
    Rule(
        CHANGE_NO_CONSULTATION,
        "Hami 20",
        "change for public/national interest without a consultation record",
    ),
    Rule(CHANGE_NO_LEGAL_BASIS, "Hami 20", "change without legal_authority and procedure_ref"),
    Rule(OBLIGATION_MISSED, "Hami 20", "a commitment obligation past due_date, not fulfilled"),
    Rule(
        COMPENSATION_OVERDUE,
        "Hami 9, 20",
        "a compensation duty past its due date, not fully paid",
    ),
    Rule(
        COMPLAINT_UNANSWERED,
        "Hami 26; SME 25",
        "complaint without answer within 30 days of filing",
    ),
)

RULES: MappingProxyType[str, Rule] = MappingProxyType({rule.id: rule for rule in _TABLE})


def article(rule_id: str) -> str:
    """The article string of a rule id; ``KeyError`` for an unknown id."""
    return RULES[rule_id].article


# Windows and thresholds that the rules count with (DESIGN 5, 5.1).
DEFAULT_PAYMENT_TERM_DAYS = 30
SME_PUBLIC_BUYER_TERM_CAP_DAYS = 60
CONFIRMATION_WINDOW_DAYS = 30
COMPLAINT_WINDOW_DAYS = 30
DETERMINATION_WINDOW_DAYS = 90
DAYS_PER_YEAR = 365
BASIS_POINTS = 10_000
SME_DEFAULT_DAILY_RATE_PER_10000 = 5

SME_SCALES = frozenset({"medium", "small", "micro"})
PUBLIC_BUYER_KINDS = frozenset({"government", "public_institution"})
FORBIDDEN_CHANGE_REASONS = frozenset(
    {
        "government_change",
        "institutional_adjustment",
        "personnel_change",
        "administrative_division_change",
    }
)
COMPENSABLE_CHANGE_REASONS = frozenset({"public_interest", "national_interest"})
