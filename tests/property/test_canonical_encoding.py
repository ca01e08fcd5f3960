"""Canonical msgpack: round trips, and every other encoding of a value is refused."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.encoding import decode, encode
from ledger.errors import NonCanonical

scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=40) | st.binary(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=25,
)
maps = st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=2, max_size=6)


@given(values)
def test_round_trip(value: Any) -> None:
    data = encode(value)
    assert decode(data) == value
    assert encode(decode(data)) == data


@given(maps)
def test_unsorted_keys_are_refused(value: dict[str, Any]) -> None:
    ordered = sorted(value.items(), key=lambda kv: kv[0].encode())
    reversed_bytes = msgpack.packb(dict(reversed(ordered)), use_bin_type=True)
    if list(reversed(ordered)) == ordered:
        return
    with pytest.raises(NonCanonical):
        decode(reversed_bytes)


def test_keys_sort_by_utf8_bytes() -> None:
    # "Z" (0x5a) < "a" (0x61) < "é" (0xc3 0xa9) < "中" (0xe4 0xb8 0xad)
    data = encode({"中": 1, "a": 2, "é": 3, "Z": 4})
    assert list(msgpack.unpackb(data)) == ["Z", "a", "é", "中"]


@given(st.integers(min_value=0, max_value=127))
def test_non_minimal_integers_are_refused(n: int) -> None:
    for wide in (b"\xcc" + bytes([n]), b"\xcd" + struct.pack(">H", n),
                 b"\xce" + struct.pack(">I", n), b"\xcf" + struct.pack(">Q", n),
                 b"\xd0" + struct.pack(">b", n), b"\xd1" + struct.pack(">h", n)):
        with pytest.raises(NonCanonical):
            decode(wide)
    assert decode(encode(n)) == n


@given(st.text(max_size=31))
def test_non_minimal_strings_are_refused(text: str) -> None:
    raw = text.encode()
    if len(raw) > 31:
        return
    with pytest.raises(NonCanonical):
        decode(b"\xd9" + bytes([len(raw)]) + raw)  # str8 where fixstr fits


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(NonCanonical, match="duplicate"):
        decode(b"\x82\xa1a\x01\xa1a\x02")


@given(st.floats(allow_nan=False))
def test_floats_are_refused(x: float) -> None:
    with pytest.raises(NonCanonical, match="float"):
        decode(msgpack.packb(x))
    with pytest.raises(NonCanonical, match="float"):
        decode(msgpack.packb({"amount": [x]}))
    with pytest.raises(NonCanonical):
        encode({"amount": x})


@given(st.integers(min_value=-128, max_value=127), st.binary(min_size=1, max_size=16))
def test_ext_types_are_refused(code: int, payload: bytes) -> None:
    raw = b"\xc7" + bytes([len(payload)]) + struct.pack(">b", code) + payload  # ext8
    with pytest.raises(NonCanonical):
        decode(raw)
    if len(payload) in (1, 2, 4, 8, 16):  # fixext forms, the timestamp type -1 included
        fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}[len(payload)]
        with pytest.raises(NonCanonical):
            decode(bytes([fixed]) + struct.pack(">b", code) + payload)


@given(values, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_are_refused(value: Any, tail: bytes) -> None:
    with pytest.raises(NonCanonical):
        decode(encode(value) + tail)


@given(values)
@settings(max_examples=200)
def test_truncation_is_refused(value: Any) -> None:
    data = encode(value)
    for cut in range(len(data)):
        with pytest.raises(NonCanonical):
            decode(data[:cut])


def test_bytes_as_str_and_text_as_bin_are_different_values() -> None:
    assert decode(encode(b"abc")) == b"abc"
    assert decode(encode("abc")) == "abc"
    assert encode(b"abc") != encode("abc")


def test_non_text_map_keys_are_refused() -> None:
    with pytest.raises(NonCanonical, match="not text"):
        decode(msgpack.packb({1: 2}))
    with pytest.raises(NonCanonical, match="not text"):
        encode({1: 2})


def test_deep_nesting_is_refused() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(NonCanonical, match="nesting"):
        encode(deep)
    with pytest.raises(NonCanonical, match="nesting"):
        decode(b"\x91" * 100_000 + b"\x01")


def test_garbage_is_refused() -> None:
    for junk in (b"", b"\xc1", b"\x92\x01"):
        with pytest.raises(NonCanonical):
            decode(junk)


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(NonCanonical):
        decode(b"\xa2\xff\xfe")
