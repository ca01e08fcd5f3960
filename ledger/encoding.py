"""Canonical msgpack: the only module that turns values into signed bytes and back.

Rules (DESIGN 3.1): maps have text keys sorted by their UTF-8 bytes; every value uses
its smallest encoding (as msgpack-python writes it); ``bin`` for bytes and ``str`` for
text; integers only (no floats) and no ext types. Decoding rejects duplicate keys,
trailing bytes and anything whose re-encoding differs from the input. Nesting is bounded
by the msgpack unpacker's stack when decoding and by ``MAX_DEPTH`` when encoding, and
every free-form field of the catalogue holds scalars only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from .errors import NonCanonical

MAX_DEPTH = 32
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def _canonical(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise NonCanonical(f"nesting deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise NonCanonical(f"integer {value} does not fit msgpack's 64-bit range")
        return value
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise NonCanonical(f"map key {key!r} is not text")
            items.append((key.encode("utf-8"), key, _canonical(item, depth + 1)))
        items.sort(key=lambda entry: entry[0])
        return {key: item for _, key, item in items}
    if isinstance(value, (list, tuple)):
        return [_canonical(item, depth + 1) for item in value]
    if isinstance(value, float):
        raise NonCanonical("floats are not allowed; use integers (fen, basis points)")
    raise NonCanonical(f"values of type {type(value).__name__} cannot be encoded")


def encode(value: Any) -> bytes:
    """Canonical msgpack bytes of ``value``."""
    data: bytes = msgpack.packb(_canonical(value, 0), use_bin_type=True)
    return data


def _no_ext(code: int, data: bytes) -> Any:
    raise NonCanonical(f"ext type {code} is not allowed")


def _pairs(pairs: Sequence[tuple[Any, Any]]) -> dict[Any, Any]:
    """Map hook: text keys, strictly increasing by UTF-8 bytes (so no duplicates)."""
    result: dict[Any, Any] = {}
    previous: bytes | None = None
    for key, value in pairs:
        if not isinstance(key, str):
            raise NonCanonical(f"map key {key!r} is not text")
        raw = key.encode("utf-8")
        if previous is not None and raw <= previous:
            if raw == previous:
                raise NonCanonical(f"duplicate map key {key!r}")
            raise NonCanonical(f"not canonical: map key {key!r} is out of order")
        previous = raw
        if type(value) in _REFUSED:
            _refuse(value)
        result[key] = value
    return result


def _list(items: list[Any]) -> list[Any]:
    for item in items:
        if type(item) in _REFUSED:
            _refuse(item)
    return items


# The unpacker turns ext type -1 into a Timestamp without calling ``ext_hook``.
_REFUSED = (float, msgpack.Timestamp)


def _refuse(value: Any) -> None:
    if isinstance(value, float):
        raise NonCanonical("floats are not allowed; use integers (fen, basis points)")
    raise NonCanonical("ext type -1 (timestamp) is not allowed")


def decode(data: bytes, *, max_size: int | None = None) -> Any:
    """Decode canonical msgpack, refusing every other form of the same value."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise NonCanonical("expected bytes")
    data = bytes(data)
    if max_size is not None and len(data) > max_size:
        raise NonCanonical(f"{len(data)} bytes exceed the limit of {max_size}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,
            object_pairs_hook=_pairs,
            list_hook=_list,
            ext_hook=_no_ext,
            use_list=True,
        )
    except NonCanonical:
        raise
    except msgpack.ExtraData as exc:
        raise NonCanonical("trailing bytes after the msgpack value") from exc
    except msgpack.StackError as exc:
        raise NonCanonical("nesting too deep") from exc
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise NonCanonical(f"not valid msgpack: {exc}") from exc
    if type(value) in _REFUSED:
        _refuse(value)
    # Keys were checked in order by the hook, so packing in that order reproduces the
    # canonical form exactly when every value used its smallest encoding.
    if msgpack.packb(value, use_bin_type=True) != data:
        raise NonCanonical("not canonical: re-encoding differs (non-minimal encoding)")
    return value
