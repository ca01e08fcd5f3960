"""Small value helpers shared by the projections: business dates, money, rounding.

Nothing here touches a float. Dates travel through the log as ``"YYYY-MM-DD"``
strings (China Standard Time business dates); instants as RFC 3339 UTC strings.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from functools import lru_cache

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
ONE_DAY = timedelta(days=1)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=8192)
def parse_date(text: str) -> date:
    """Parse a ``"YYYY-MM-DD"`` business date; nothing else is accepted."""
    if not _DATE.fullmatch(text):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text)


def business_date_of(instant: str) -> str:
    """The China Standard Time business date (``"YYYY-MM-DD"``) of an RFC 3339 instant.

    Events that carry no business date of their own (``payment.contested``,
    ``compensation.determined``, ``accountability.recorded``, ``commitment.made``)
    count from the business date on which the log recorded them.
    """
    moment = datetime.fromisoformat(instant)
    if moment.tzinfo is None:
        raise ValueError(f"instant without a time zone: {instant!r}")
    return moment.astimezone(CHINA_STANDARD_TIME).date().isoformat()


def next_day(day: date) -> date:
    return day + ONE_DAY


def round_half_up(value: Fraction | int) -> int:
    """Round an exact amount to the nearest integer, halves away from zero.

    In integers: for n/d with d > 0 and n >= 0 that is floor(n/d + 1/2), which is
    (2n + d) // 2d; the negative side mirrors it.
    """
    n, d = value.numerator, value.denominator
    if n >= 0:
        return (2 * n + d) // (2 * d)
    return -((-2 * n + d) // (2 * d))


def format_yuan(fen: int) -> str:
    """``123456`` -> ``"1234.56"`` (integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"
