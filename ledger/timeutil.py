"""Dates and instants as the formats require: ``YYYY-MM-DD`` and RFC 3339 UTC ``...Z``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache

# ASCII digits and no trailing newline: ``\d`` and ``$`` would admit both.
_INSTANT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_instant(moment: datetime) -> str:
    """RFC 3339 UTC (``2026-11-25T08:00:00Z``; microseconds only when present)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: instants must be UTC-aware")
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def looks_like_instant(text: str) -> bool:
    return bool(_INSTANT.fullmatch(text))


# Instants repeat: every leaf of one commit shares its recorded_at, and a replay meets
# each signer's signed_at several times. datetimes are immutable, so sharing is safe.
@lru_cache(maxsize=8192)
def parse_instant(text: str) -> datetime:
    """Parse an RFC 3339 UTC instant; ``ValueError`` when malformed or impossible."""
    match = _INSTANT.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not an RFC 3339 UTC instant like 2026-11-25T08:00:00Z")
    fraction = match.group(7)
    if fraction is None or len(fraction) in (4, 7):  # none, or .fff / .ffffff
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((fraction[1:] + "000000")[:6])
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def looks_like_date(text: str) -> bool:
    return bool(_DATE.fullmatch(text))


def parse_date(text: str) -> date:
    if not _DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date like 2026-11-25")
    return date.fromisoformat(text)


# The business dates the ledger takes: wide enough for any contract or commitment, and
# narrow enough that a period counted from one (at most MAX_PERIOD_DAYS, then the rest
# days after it) is still a date Python can represent: 9999-12-31 plus a day is not.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2999, 12, 31)
MAX_PERIOD_DAYS = 3660


def parse_business_date(text: str) -> date:
    """A ``YYYY-MM-DD`` date from FIRST_DATE to LAST_DATE; ``ValueError`` otherwise."""
    day = parse_date(text)
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"{text} is outside {FIRST_DATE.isoformat()} to "
                         f"{LAST_DATE.isoformat()}")
    return day
