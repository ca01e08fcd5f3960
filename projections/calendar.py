"""The business calendar and Civil Code period arithmetic (Arts. 201-203).

Rest days are Saturdays and Sundays plus the published holidays, less the published
make-up workdays. A period counted in days starts the day after its start date (the
start day is not counted) and, when its last day is a rest day, ends on the next
working day. Dates written into events (an obligation's ``due_date``) are not periods
and never move; only periods go through :meth:`BusinessCalendar.period_end`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from projections.values import ONE_DAY, parse_date

SATURDAY = 5


class BusinessCalendar:
    """Working and rest days; immutable once built."""

    __slots__ = ("_holidays", "_workdays")

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)

    @classmethod
    def from_publications(cls, publications: Iterable[Mapping[str, Any]]) -> BusinessCalendar:
        """Build from ``calendar.published`` bodies given in log order.

        A publication covers one ``year``; a later publication for the same year
        replaces the earlier one (a correction), it does not add to it.
        """
        by_year: dict[int, Mapping[str, Any]] = {}
        for publication in publications:
            by_year[int(publication["year"])] = publication
        holidays: set[date] = set()
        workdays: set[date] = set()
        for year in sorted(by_year):
            holidays.update(parse_date(text) for text in by_year[year]["holidays"])
            workdays.update(parse_date(text) for text in by_year[year]["workdays"])
        return cls(holidays, workdays)

    def is_rest_day(self, day: date) -> bool:
        if day in self._workdays:
            return False
        return day.weekday() >= SATURDAY or day in self._holidays

    def is_working_day(self, day: date) -> bool:
        return not self.is_rest_day(day)

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while self.is_rest_day(day):
            day += ONE_DAY
        return day

    def period_end(self, start: date, days: int) -> date:
        """Last day of a period of ``days`` days counted from ``start`` (not counted)."""
        if days < 0:
            raise ValueError(f"a period cannot be negative: {days} days")
        return self.next_working_day(start + timedelta(days=days))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._holidays == other._holidays and self._workdays == other._workdays

    def __hash__(self) -> int:
        return hash((self._holidays, self._workdays))

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar({len(self._holidays)} holidays, "
            f"{len(self._workdays)} make-up workdays)"
        )


WEEKENDS_ONLY = BusinessCalendar()


def period_end(start: date, days: int, calendar: BusinessCalendar = WEEKENDS_ONLY) -> date:
    """Civil Code period end: ``start + days``, moved to the next working day if needed."""
    return calendar.period_end(start, days)
