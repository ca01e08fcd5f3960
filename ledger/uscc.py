"""Unified social credit codes (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

import re
from functools import lru_cache

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SHAPE = re.compile(rf"[{CHARSET}]{{18}}")


def looks_like_uscc(code: str) -> bool:
    """18 characters from the code's alphabet (the check character not yet verified)."""
    return bool(_SHAPE.fullmatch(code))


def check_character(first17: str) -> str:
    total = sum(CHARSET.index(ch) * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


@lru_cache(maxsize=4096)  # the same parties' codes recur in every event naming them
def is_valid_uscc(code: str) -> bool:
    return looks_like_uscc(code) and check_character(code[:17]) == code[17]


def complete_uscc(first17: str) -> str:
    """Append the check character (for fixtures and demo data)."""
    return first17 + check_character(first17)
