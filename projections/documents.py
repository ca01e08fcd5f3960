"""Document index: document hash (hex SHA-256) -> the events that name it.

An event names a document through any body field ending in ``_sha256`` holding a
64-digit hex string, at any depth: ``document_sha256`` (contracts, commitments),
``evidence_sha256`` (fulfilments), ``consultation.record_sha256`` (changes),
``agreed_by_supplier_sha256`` (amendments). The index is a global fold in log order;
lookups take ``at`` to answer as known at a tree size.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from ledger.records import LoggedEvent

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class DocumentReference(TypedDict):
    sha256: str
    field: str
    leaf_index: int
    leaf_hash: str
    stream: str
    version: int
    type: str


def named_documents(body: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``(field path, hex digest)`` for every document hash in an event body.

    In key order at each level, depth first (list items by position).
    """
    found: list[tuple[str, str]] = []
    _collect_documents(body, prefix, found)
    return found


def _collect_documents(body: dict[str, Any], prefix: str, found: list[tuple[str, str]]) -> None:
    # Called for every event folded: field paths are only built where one can match.
    for key in sorted(body):
        value = body[key]
        if isinstance(value, str):
            if key.endswith("_sha256"):
                digest = value.lower()
                if _HEX_SHA256.fullmatch(digest):
                    found.append((f"{prefix}{key}", digest))
        elif isinstance(value, dict):
            _collect_documents(value, f"{prefix}{key}.", found)
        elif isinstance(value, list):
            for position, item in enumerate(value):
                if isinstance(item, dict):
                    _collect_documents(item, f"{prefix}{key}.{position}.", found)


def event_documents(event: LoggedEvent) -> list[tuple[str, str]]:
    """:func:`named_documents` of an event's body, without walking a body whose
    envelope bytes show it cannot name one (``LoggedEvent.may_name_documents``)."""
    return named_documents(event.body) if event.may_name_documents else []


class DocumentIndex:
    """Fold of every event into ``sha256 -> [DocumentReference]`` (log order)."""

    def __init__(self) -> None:
        self._by_digest: dict[str, list[DocumentReference]] = {}
        self._last_index = -1

    def apply(self, event: LoggedEvent) -> None:
        """Take in one event (in log order); an already folded index is skipped."""
        if event.index <= self._last_index:
            return
        self._last_index = event.index
        for path, digest in event_documents(event):
            self._by_digest.setdefault(digest, []).append(
                {
                    "sha256": digest,
                    "field": path,
                    "leaf_index": event.index,
                    "leaf_hash": event.leaf_hash.hex(),
                    "stream": event.stream,
                    "version": event.version,
                    "type": event.type,
                }
            )

    def lookup(self, sha256: str, at: int | None = None) -> list[DocumentReference]:
        return [
            DocumentReference(**ref)
            for ref in self._by_digest.get(sha256.lower(), [])
            if at is None or ref["leaf_index"] < at
        ]

    def digests(self, at: int | None = None) -> list[str]:
        return sorted(
            digest
            for digest, refs in self._by_digest.items()
            if any(at is None or ref["leaf_index"] < at for ref in refs)
        )

    def to_dict(self) -> dict[str, list[DocumentReference]]:
        return {digest: list(refs) for digest, refs in sorted(self._by_digest.items())}

    @classmethod
    def from_dict(cls, data: dict[str, list[DocumentReference]]) -> DocumentIndex:
        index = cls()
        index._by_digest = {digest: list(refs) for digest, refs in data.items()}
        index._last_index = max(
            (ref["leaf_index"] for refs in data.values() for ref in refs), default=-1
        )
        return index
