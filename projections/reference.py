"""Global reference data the subject projections consult: calendar, LPR, parties.

:class:`Reference` is a fold of the reference events (``calendar.published``,
``rate.lpr_published``, ``party.registered``). Every entry keeps the leaf index it
came from, so :meth:`Reference.view` can answer "as known at tree size N": a query for
``at=N`` only sees entries with ``index < N``. The fold is small and serializable
(:meth:`to_dict` / :meth:`from_dict` use only ints, strs, lists, dicts and None).
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date
from typing import Any, TypedDict, cast

from ledger.records import LoggedEvent
from projections.calendar import BusinessCalendar

REFERENCE_EVENT_TYPES = frozenset({"calendar.published", "rate.lpr_published", "party.registered"})


class CalendarEntry(TypedDict):
    index: int
    hash: str
    year: int
    holidays: list[str]
    workdays: list[str]


class LprEntry(TypedDict):
    index: int
    hash: str
    effective_on: str
    one_year_bp: int


class PartyEntry(TypedDict):
    index: int
    hash: str
    party_id: str
    name: str
    kind: str
    scale: str | None
    pays_for: list[str]


class Reference:
    """Fold of the reference events, in log order."""

    def __init__(self) -> None:
        self._calendars: list[CalendarEntry] = []
        self._lpr: list[LprEntry] = []
        self._parties: dict[str, list[PartyEntry]] = {}
        self._last_index = -1
        self._calendar_cache: dict[int, BusinessCalendar] = {}

    @classmethod
    def from_events(cls, events: list[LoggedEvent]) -> Reference:
        reference = cls()
        for event in events:
            reference.apply(event)
        return reference

    def apply(self, event: LoggedEvent) -> bool:
        """Take in one event (in log order); returns whether it was reference data.

        An event at or below the last folded index is taken as already folded.
        """
        if event.type not in REFERENCE_EVENT_TYPES:
            return False
        if event.index <= self._last_index:
            return True  # already folded: applying is idempotent
        self._last_index = event.index
        body = event.body
        leaf = event.leaf_hash.hex()
        if event.type == "calendar.published":
            self._calendars.append(
                {
                    "index": event.index,
                    "hash": leaf,
                    "year": int(body["year"]),
                    "holidays": [str(day) for day in body["holidays"]],
                    "workdays": [str(day) for day in body["workdays"]],
                }
            )
        elif event.type == "rate.lpr_published":
            self._lpr.append(
                {
                    "index": event.index,
                    "hash": leaf,
                    "effective_on": str(body["effective_on"]),
                    "one_year_bp": int(body["one_year_bp"]),
                }
            )
        else:
            party_id = str(body["party_id"])
            self._parties.setdefault(party_id, []).append(
                {
                    "index": event.index,
                    "hash": leaf,
                    "party_id": party_id,
                    "name": str(body.get("name", "")),
                    "kind": str(body["kind"]),
                    "scale": str(body["scale"]) if "scale" in body else None,
                    "pays_for": [str(p) for p in body.get("pays_for", [])],
                }
            )
        return True

    def view(self, at: int | None = None) -> ReferenceView:
        """The reference data as known at tree size ``at`` (``None``: all folded so far)."""
        return ReferenceView(self, at)

    # -- serialization -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "calendars": [dict(entry) for entry in self._calendars],
            "lpr": [dict(entry) for entry in self._lpr],
            "parties": {
                party_id: [dict(entry) for entry in entries]
                for party_id, entries in sorted(self._parties.items())
            },
            "last_index": self._last_index,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        reference = cls()
        reference._calendars = [cast(CalendarEntry, dict(e)) for e in data["calendars"]]
        reference._lpr = [cast(LprEntry, dict(e)) for e in data["lpr"]]
        reference._parties = {
            party_id: [cast(PartyEntry, dict(e)) for e in entries]
            for party_id, entries in data["parties"].items()
        }
        reference._last_index = int(data["last_index"])
        return reference

    # -- used by views -----------------------------------------------------
    def _calendar(self, at: int | None) -> BusinessCalendar:
        indices = [entry["index"] for entry in self._calendars]
        cut = len(indices) if at is None else bisect_left(indices, at)
        calendar = self._calendar_cache.get(cut)
        if calendar is None:
            calendar = BusinessCalendar.from_publications(self._calendars[:cut])
            self._calendar_cache[cut] = calendar
        return calendar

    def _lpr_entries(self, at: int | None) -> list[LprEntry]:
        return [e for e in self._lpr if at is None or e["index"] < at]

    def _party(self, party_id: str, at: int | None) -> PartyEntry | None:
        found: PartyEntry | None = None
        for entry in self._parties.get(party_id, []):
            if at is None or entry["index"] < at:
                found = entry
        return found


class ReferenceView:
    """Reference data restricted to leaf indices below ``at``."""

    __slots__ = ("_reference", "at")

    def __init__(self, reference: Reference, at: int | None) -> None:
        self._reference = reference
        self.at = at

    @property
    def calendar(self) -> BusinessCalendar:
        return self._reference._calendar(self.at)

    def lpr_on(self, day: date) -> LprEntry | None:
        """The one-year LPR in force on ``day``: the latest ``effective_on <= day``.

        Two publications with the same ``effective_on``: the later one (a correction).
        """
        best: LprEntry | None = None
        key = day.isoformat()
        for entry in self._reference._lpr_entries(self.at):
            if entry["effective_on"] <= key and (
                best is None or entry["effective_on"] >= best["effective_on"]
            ):
                best = entry
        return best

    def party(self, party_id: str) -> PartyEntry | None:
        """The latest registration of a party (``None`` when not registered)."""
        return self._reference._party(party_id, self.at)

    def party_kind(self, party_id: str) -> str | None:
        entry = self.party(party_id)
        return None if entry is None else entry["kind"]

    def payers_for(self, party_id: str) -> list[str]:
        """Parties whose ``pays_for`` mandate holds ``party_id`` (finance departments)."""
        payers = []
        for entries in self._reference._parties.values():
            latest = None
            for entry in entries:
                if self.at is None or entry["index"] < self.at:
                    latest = entry
            if latest is not None and party_id in latest["pays_for"]:
                payers.append(latest["party_id"])
        return sorted(payers)
