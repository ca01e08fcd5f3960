"""The segment-wise interest sum equals a plain day-by-day sum."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.contracts import overdue_fen_days

START = date(2025, 8, 5)

deltas = st.lists(
    st.tuples(st.integers(min_value=-20, max_value=60), st.integers(-500_000, 500_000)),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=2_000_000),
    changes=deltas,
    length=st.integers(min_value=1, max_value=45),
)
def test_segment_sum_matches_daily_sum(
    amount: int, changes: list[tuple[int, int]], length: int
) -> None:
    dated = [(START + timedelta(days=offset), change) for offset, change in changes]
    last = START + timedelta(days=length - 1)
    dated = [(day, change) for day, change in dated if day <= last + timedelta(days=1)]
    total, first_positive = overdue_fen_days(amount, dated, START, last)
    expected = 0
    expected_first = None
    for n in range(length):
        day = START + timedelta(days=n)
        level = amount + sum(change for when, change in dated if when <= day)
        if level > 0:
            expected += level
            expected_first = expected_first or day
    assert total == expected
    assert first_positive == expected_first
