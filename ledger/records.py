"""Plain records read back from the log: what projections and verifiers consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One leaf of the log, decoded.

    ``body`` is the envelope's type-specific map exactly as signed (dates as
    ``"YYYY-MM-DD"`` strings, money as integer fen).
    """

    index: int
    leaf_hash: bytes
    stream: str
    version: int
    type: str
    recorded_at: str
    signer: str
    body: dict[str, Any] = field(hash=False)
    prev: bytes | None = None
    # False only when the body cannot name a document: no key in it ends in
    # ``_sha256`` (read off the envelope bytes, where every key is spelled out).
    may_name_documents: bool = field(default=True, compare=False)


@dataclass(frozen=True, slots=True)
class Receipt:
    leaf_index: int
    leaf_hash: bytes
    stream: str
    version: int
    recorded_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash.hex(),
            "stream": self.stream,
            "version": self.version,
            "recorded_at": self.recorded_at,
        }
