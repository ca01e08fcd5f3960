"""Normalized facts: what a subject's fold keeps of each event.

Every fact is a plain dict (msgpack-friendly) with at least

- ``index``: the leaf index of the event it came from,
- ``hash``: that leaf's hash, hex,
- ``type``: the event type,
- ``on``: the business date (``"YYYY-MM-DD"``) from which the fact counts.

``on`` is the event's own date where it has one (``paid_on``, ``delivered_on``,
``raised_on``, ...) and otherwise the China Standard Time date on which the log
recorded it. A query for ``(as_of, at)`` sees a fact when ``index < at`` and
``on <= as_of``; ISO dates compare correctly as strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from ledger.records import LoggedEvent
from projections.values import business_date_of

Fact = dict[str, Any]


class Responsible(TypedDict):
    department: str
    official: str


def responsible_of(body: dict[str, Any]) -> Responsible:
    person = body["responsible"]
    return {"department": str(person["department"]), "official": str(person["official"])}


def copy_responsible(person: Responsible) -> Responsible:
    return {"department": person["department"], "official": person["official"]}


def new_fact(event: LoggedEvent, on: str | None = None, **fields: Any) -> Fact:
    fact: Fact = {
        "index": event.index,
        "hash": event.leaf_hash.hex(),
        "type": event.type,
        "on": on if on is not None else business_date_of(event.recorded_at),
    }
    fact.update(fields)
    return fact


def plain_fact(event: LoggedEvent, date_field: str | None, names: tuple[str, ...]) -> Fact:
    """A fact copying ``names`` from the body as they are (strs and ints), dated by
    ``date_field`` (or by the recording date when None)."""
    on = None if date_field is None else str(event.body[date_field])
    return new_fact(event, on, **{name: event.body[name] for name in names})


def accountability_fact(event: LoggedEvent) -> Fact:
    body = event.body
    return new_fact(
        event,
        subject_stream=str(body.get("subject_stream", event.stream)),
        responsible=responsible_of(body),
        finding=str(body["finding"]),
        action=str(body["action"]),
    )


def in_prefix(index: int, at: int | None) -> bool:
    return at is None or index < at


def visible(facts: Iterable[Fact], as_of: str, at: int | None) -> list[Fact]:
    """Facts known at tree size ``at`` and dated on or before ``as_of`` (ISO string)."""
    return [f for f in facts if (at is None or f["index"] < at) and f["on"] <= as_of]


def evidence(facts: Iterable[Fact | None], *extra: tuple[int, str]) -> list[str]:
    """Leaf hashes (hex) of the given facts, unique, in log order."""
    seen: dict[int, str] = {}
    for fact in facts:
        if fact is not None:
            seen[fact["index"]] = fact["hash"]
    for index, leaf in extra:
        seen[index] = leaf
    return [seen[index] for index in sorted(seen)]
