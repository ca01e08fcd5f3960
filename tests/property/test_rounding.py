"""Rounding of exact amounts: the integer form equals the definition in Fractions."""

from __future__ import annotations

from fractions import Fraction
from math import floor

from hypothesis import given
from hypothesis import strategies as st

from projections.values import round_half_up


def by_definition(value: Fraction) -> int:
    if value >= 0:
        return floor(value + Fraction(1, 2))
    return -floor(-value + Fraction(1, 2))


@given(st.fractions(max_denominator=10**12))
def test_round_half_up_matches_its_definition(value: Fraction) -> None:
    assert round_half_up(value) == by_definition(value)


def test_halves_go_away_from_zero() -> None:
    assert [round_half_up(Fraction(n, 2)) for n in (-3, -1, 1, 3, 5)] == [-2, -1, 1, 2, 3]
    assert round_half_up(Fraction(160000, 100)) == 1600
    assert round_half_up(7) == 7 and round_half_up(Fraction(-149, 100)) == -1
