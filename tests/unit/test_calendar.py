"""Business calendar and Civil Code period arithmetic (Arts. 201-203)."""

from __future__ import annotations

from datetime import date

import pytest

from projections.calendar import WEEKENDS_ONLY, BusinessCalendar, period_end
from tests.unit.test_projection_support import HOLIDAYS_2025, WORKDAYS_2025, d

CALENDAR_2025 = BusinessCalendar.from_publications(
    [{"year": 2025, "holidays": HOLIDAYS_2025, "workdays": WORKDAYS_2025}]
)


def test_start_day_is_not_counted() -> None:
    # 2025-07-05 + 30 days = 2025-08-04, a Monday: the DESIGN worked example.
    assert period_end(d("2025-07-05"), 30) == d("2025-08-04")
    assert period_end(d("2025-07-01"), 1) == d("2025-07-02")


def test_period_ending_on_a_weekend_moves_to_monday() -> None:
    assert period_end(d("2025-07-11"), 30) == d("2025-08-11")  # 08-10 is a Sunday
    assert WEEKENDS_ONLY.next_working_day(d("2025-08-09")) == d("2025-08-11")


def test_period_ending_in_national_day_week_moves_past_the_holiday() -> None:
    # 2025-09-01 + 30 = 2025-10-01: holidays run to 10-08, so the period ends 10-09.
    assert period_end(d("2025-09-01"), 30, CALENDAR_2025) == d("2025-10-09")
    # Without the published calendar only weekends rest.
    assert period_end(d("2025-09-01"), 30) == d("2025-10-01")


def test_make_up_workday_on_a_weekend_is_a_working_day() -> None:
    # 2025-09-28 is a Sunday worked in exchange for the National Day holiday.
    assert CALENDAR_2025.is_working_day(d("2025-09-28"))
    assert period_end(d("2025-09-14"), 14, CALENDAR_2025) == d("2025-09-28")
    assert period_end(d("2025-09-14"), 14) == d("2025-09-29")
    # 2025-10-11, a Saturday, likewise.
    assert period_end(d("2025-10-01"), 10, CALENDAR_2025) == d("2025-10-11")


def test_rest_days() -> None:
    assert CALENDAR_2025.is_rest_day(d("2025-10-08"))  # a Wednesday holiday
    assert CALENDAR_2025.is_rest_day(d("2025-07-05"))  # an ordinary Saturday
    assert CALENDAR_2025.is_working_day(d("2025-10-09"))


def test_later_publication_for_a_year_replaces_the_earlier() -> None:
    first = {"year": 2026, "holidays": ["2026-01-01", "2026-01-02"], "workdays": []}
    corrected = {"year": 2026, "holidays": ["2026-01-01"], "workdays": ["2026-01-04"]}
    calendar = BusinessCalendar.from_publications([first, corrected])
    assert calendar.is_working_day(d("2026-01-02"))
    assert calendar.is_working_day(d("2026-01-04"))  # a Sunday made a workday
    assert calendar.is_rest_day(d("2026-01-01"))


def test_publications_of_different_years_add_up() -> None:
    y2025 = {"year": 2025, "holidays": HOLIDAYS_2025, "workdays": WORKDAYS_2025}
    y2026 = {"year": 2026, "holidays": ["2026-01-01"], "workdays": []}
    calendar = BusinessCalendar.from_publications([y2025, y2026])
    assert calendar.is_rest_day(d("2025-10-03"))
    assert calendar.is_rest_day(d("2026-01-01"))


def test_zero_day_period_still_ends_on_a_working_day() -> None:
    assert period_end(d("2025-10-01"), 0, CALENDAR_2025) == d("2025-10-09")
    assert period_end(d("2025-07-01"), 0) == d("2025-07-01")


def test_negative_period_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        period_end(date(2025, 1, 1), -1)


def test_calendar_equality() -> None:
    again = BusinessCalendar.from_publications(
        [{"year": 2025, "holidays": HOLIDAYS_2025, "workdays": WORKDAYS_2025}]
    )
    assert again == CALENDAR_2025
    assert hash(again) == hash(CALENDAR_2025)
    assert again != WEEKENDS_ONLY
