"""``ledger report arrears|breaches|compensation``: the read models, as a table, CSV or JSON.

From a server (``GET /v1/arrears`` etc., DESIGN 6) or, with ``--database``, computed here
from the log with the same projection code the server uses. Amounts in the table are
yuan with two decimals; ``--csv`` and ``--json`` keep the integer ``*_fen`` fields.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from typing import Any

from ..client import LedgerClient, ServerRefused
from ..errors import InvalidInput
from .common import (
    EXIT_OK,
    add_json_option,
    client_for,
    guarded,
    parse_business_date,
    print_json,
    wants_json,
    yuan,
)

NAME = "report"
VIEWS = ("arrears", "breaches", "compensation")

# (heading, row -> cell) per view; money cells shown in yuan.
Column = tuple[str, Callable[[dict[str, Any]], str], bool]  # heading, cell, right-aligned


def _fen(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: yuan(row.get(name))


def _text(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: "" if row.get(name) is None else str(row.get(name))


def _responsible(row: dict[str, Any]) -> str:
    person = row.get("responsible")
    if not isinstance(person, dict):
        return ""
    return f"{person.get('department', '')} / {person.get('official', '')}"


TABLES: dict[str, list[Column]] = {
    "arrears": [
        ("contract", _text("contract_id"), False), ("milestone", _text("milestone_id"), False),
        ("payer", _text("payer"), False), ("payee", _text("payee"), False),
        ("due", _text("due_date"), False), ("amount", _fen("amount_fen"), True),
        ("paid", _fen("paid_fen"), True),
        # DESIGN 4: a payment the supplier says did not arrive is shown beside the row.
        ("contested", _fen("contested_fen"), True), ("disputed", _fen("disputed_fen"), True),
        ("outstanding", _fen("outstanding_fen"), True),
        ("days overdue", _text("days_overdue"), True), ("interest", _fen("interest_fen"), True),
        ("interest paid", _fen("interest_paid_fen"), True),
    ],
    "breaches": [
        ("detected", _text("detected_on"), False), ("rule", _text("rule"), False),
        ("article", _text("article"), False), ("subject", _text("subject_stream"), False),
        ("party", _text("party"), False), ("responsible", _responsible, False),
        ("detail", _text("detail"), False),
    ],
    "compensation": [
        ("duty", _text("duty_id"), False), ("cause", _text("cause"), False),
        ("beneficiary", _text("beneficiary"), False), ("amount", _fen("amount_fen"), True),
        ("due", _text("due_date"), False), ("paid", _fen("paid_fen"), True),
        ("outstanding", _fen("outstanding_fen"), True),
        ("days overdue", _text("days_overdue"), True), ("status", _text("status"), False),
    ],
}
PARTY_COLUMNS = {"payer", "payee", "party", "beneficiary"}
WRAPPED = {"responsible", "detail"}  # the others stay on one line


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="arrears, breaches or compensation duties",
                              description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("view", choices=VIEWS)
    p.add_argument("--as-of", default=None, metavar="DATE",
                   help="business date (default today, China Standard Time)")
    p.add_argument("--at", type=int, default=None, metavar="N",
                   help="as known at tree size N (default: the whole log)")
    p.add_argument("--payer", help="arrears: only this payer (credit code)")
    p.add_argument("--payee", help="arrears: only this payee (credit code)")
    p.add_argument("--rule", help="breaches: only this rule id, e.g. ARREARS")
    p.add_argument("--party", help="breaches: only this party (credit code)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--server", default=None,
                        help="ledger server URL (LEDGER_SERVER, default http://127.0.0.1:8080)")
    source.add_argument("--database", metavar="URL",
                        help="compute from a database instead (sqlite:////abs/path or "
                             "postgresql://...)")
    p.add_argument("--csv", action="store_true", help="CSV on stdout (amounts in fen)")
    add_json_option(p)


def query_of(args: argparse.Namespace) -> dict[str, Any]:
    filters = {"arrears": ("payer", "payee"), "breaches": ("rule", "party"),
               "compensation": ()}[args.view]
    for name in ("payer", "payee", "rule", "party"):
        if getattr(args, name) is not None and name not in filters:
            raise InvalidInput(f"--{name} does not apply to {args.view}")
    query = {name: getattr(args, name) for name in filters if getattr(args, name) is not None}
    query["as_of"] = parse_business_date(args.as_of).isoformat()
    if args.at is not None:
        if args.at < 0:
            raise InvalidInput("--at must be a tree size (>= 0)")
        query["at"] = args.at
    return query


@guarded
def run(args: argparse.Namespace) -> int:
    query = query_of(args)
    names: dict[str, str] = {}
    if args.database:
        document, names = compute_locally(args.database, args.view, query)
    else:
        with client_for(args) as client:
            document = client.projection(args.view, **query)
            if not (args.csv or wants_json(args)):
                names = party_names(client, document.get("rows", []))
    if wants_json(args):
        print_json(document)
    elif args.csv:
        write_csv(args.view, document.get("rows", []))
    else:
        print_table(args.view, document, names)
    return EXIT_OK


def compute_locally(url: str, view: str, query: dict[str, Any]) -> tuple[dict[str, Any],
                                                                          dict[str, str]]:
    from datetime import date

    from projections.engine import Projector

    from ..application import logged_event
    from .logsource import DatabaseLog

    projector = Projector()
    names: dict[str, str] = {}
    with DatabaseLog(url) as db:
        size = db.size()
        for batch in db.batches(size):
            for offset, leaf in enumerate(batch.leaves):
                event = logged_event(batch.start + offset, leaf)
                if event.type == "party.registered":
                    names[event.body["party_id"]] = event.body["name"]
                projector.apply(event)
    as_of = date.fromisoformat(query["as_of"])
    at = query.get("at")
    if at is not None and at > projector.size:
        raise InvalidInput(f"--at {at} is beyond the log (size {projector.size})")
    if view == "arrears":
        return projector.arrears(as_of, at, query.get("payer"), query.get("payee")), names
    if view == "breaches":
        return projector.breaches(as_of, at, query.get("rule"), query.get("party")), names
    return projector.compensation(as_of, at), names


def party_names(client: LedgerClient, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Registered names of the parties in ``rows`` (best effort: ids where unknown)."""
    names: dict[str, str] = {}
    for party in sorted({str(r[c]) for r in rows for c in PARTY_COLUMNS if r.get(c)}):
        try:
            events = client.stream(f"party/{party}").get("events", [])
        except ServerRefused:
            continue
        for event in events:
            if event.get("type") == "party.registered":
                names[party] = str(event["body"].get("name", party))
    return names


def row_fields(view: str) -> list[str]:
    """The columns of a view's rows, in the order the read models write them."""
    from projections.arrears import ArrearsRow
    from projections.breaches import BreachRow
    from projections.compensation import CompensationRow

    row_type = {"arrears": ArrearsRow, "breaches": BreachRow,
                "compensation": CompensationRow}[view]
    return list(row_type.__annotations__)


def write_csv(view: str, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV under a header line; the header alone when nothing matched, so a
    script reading the file sees the same columns either way."""
    fields = list(rows[0]) if rows else row_fields(view)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in fields])


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " / ".join(str(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def print_table(view: str, document: dict[str, Any], names: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = document.get("rows", [])
    title = (f"{view} as of {document.get('as_of')} — log size {document.get('log_size')}, "
             f"{len(rows)} row(s)")
    table = Table(title=title, title_justify="left")
    columns = TABLES[view]
    for heading, _cell, right in columns:
        wraps = heading in WRAPPED
        table.add_column(heading, justify="right" if right else "left",
                         overflow="fold" if wraps else "ignore", no_wrap=not wraps)
    for row in rows:
        table.add_row(*[_named(heading, cell(row), names) for heading, cell, _ in columns])
    totals = document.get("totals")
    if view == "arrears" and isinstance(totals, dict):
        table.add_section()
        cells = {"amount": "amount_fen", "paid": "paid_fen", "disputed": "disputed_fen",
                 "outstanding": "outstanding_fen", "interest": "interest_fen",
                 "interest paid": "interest_paid_fen"}
        table.add_row(*[("total" if i == 0 else
                         yuan(totals.get(cells[h])) if h in cells else "")
                        for i, (h, _c, _r) in enumerate(columns)])
    console = Console()
    if not console.is_terminal:  # a file or pipe: no terminal width to fit, keep rows whole
        console = Console(width=240)
    console.print(table)


def _named(heading: str, value: str, names: dict[str, str]) -> str:
    if heading in PARTY_COLUMNS:
        return names.get(value, value)
    return value
