"""Web pages for enterprises and inspectors (DESIGN 6): routes and handlers.

``GET /ui/verify``, ``/ui/arrears``, ``/ui/breaches`` and ``/ui/streams/{kind}/{id}``
answer server-rendered HTML (:mod:`server.templates.pages`); ``/ui/static/`` serves the
page's stylesheet and the verifier script. The handlers ask the same read models as the
JSON endpoints (the projection store, the ledger's streams) with the same parameter
checks, and only regroup their rows for display: sums per payer and per ageing bucket
add the rows' integer fen. Errors come back as an HTML page with the problem's status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ledger.application import Ledger
from ledger.errors import InvalidInput, LedgerError
from projections.rules import RULES, Rule

from .projection_routes import as_of_param, caught_up, party_param
from .templates import pages
from .templates.markup import Html

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Days overdue: (key, first day, last day or None for no end). A milestone paid in full
# but late has 0 days overdue and is in no bucket; its interest is in the table.
AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    (">180", 181, None),
)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _svc(request: web.Request) -> Any:
    from .app import SERVICES

    return request.app[SERVICES]


def html_response(page: Html, status: int = 200) -> web.Response:
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


def html_page(handler: Handler) -> Handler:
    """Answer the handler's refusals as an HTML page with the problem's status, and
    send a form's empty fields away (``?payer=`` means "any")."""

    @wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        blank = [name for name, value in request.query.items() if value == ""]
        if blank:
            kept = [(name, value) for name, value in request.query.items() if value != ""]
            raise web.HTTPFound(request.path + ("?" + urlencode(kept) if kept else ""))
        try:
            return await handler(request)
        except LedgerError as error:
            problem = error.to_problem()
            page = pages.error_page(error.status, str(problem["title"]),
                                    str(problem["detail"]))
            return html_response(page, status=error.status)

    return wrapper


# Lookups shared by the pages -----------------------------------------------------------
def party_names(ledger: Ledger, party_ids: Iterable[str], at: int | None) -> dict[str, str]:
    """Registered names of parties, from their ``party.registered`` events."""
    names: dict[str, str] = {}
    for party_id in sorted(set(party_ids)):
        for event in ledger.stream_events(f"party/{party_id}", at):
            if event.type == "party.registered":
                names[party_id] = str(event.body.get("name", party_id))
                break
    return names


def locate_leaves(ledger: Ledger, leaf_hashes: Iterable[str]) -> dict[str, pages.Evidence]:
    """Where each evidence leaf is: its index and stream (None when not in the log)."""
    found: dict[str, pages.Evidence] = {}
    for digest in sorted(set(leaf_hashes)):
        try:
            index = ledger.index_of(bytes.fromhex(digest))
        except ValueError:
            index = None
        events = ledger.events(index, index + 1) if index is not None else []
        stream = events[0].stream if events else None
        found[digest] = pages.Evidence(digest, index, stream)
    return found


def _evidence_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return [digest for row in rows for digest in row.get("evidence", [])]


# Regrouping rows for the charts --------------------------------------------------------
def bars_by_payer(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> list[pages.Bar]:
    sums: dict[str, list[int]] = {}
    for row in rows:
        entry = sums.setdefault(row["payer"], [0, 0, 0])
        entry[0] += row["outstanding_fen"]
        entry[1] += row["interest_fen"]
        entry[2] += 1
    bars = [pages.Bar(payer, Html(pages.party(payer, names)), o, i, n)
            for payer, (o, i, n) in sums.items()]
    bars.sort(key=lambda bar: (-(bar.outstanding_fen + bar.interest_fen), bar.key))
    return bars


def ageing_bucket(days_overdue: int) -> str | None:
    for key, first, last in AGEING_BUCKETS:
        if days_overdue >= first and (last is None or days_overdue <= last):
            return key
    return None


def bars_by_age(rows: Sequence[Mapping[str, Any]]) -> list[pages.Bar]:
    sums = {key: [0, 0, 0] for key, _, _ in AGEING_BUCKETS}
    for row in rows:
        key = ageing_bucket(row["days_overdue"])
        if key is not None:
            sums[key][0] += row["outstanding_fen"]
            sums[key][1] += row["interest_fen"]
            sums[key][2] += 1
    labels = {">180": pages.bi("180天以上", "over 180 days")}
    return [pages.Bar(key, labels.get(key, pages.bi(f"{key}天", f"{key} days")), o, i, n)
            for key, (o, i, n) in sums.items()]


def breach_groups(rows: Sequence[Mapping[str, Any]]) -> list[pages.BreachGroup]:
    """Rows grouped by (rule, article), rules in the rule table's order."""
    order = {rule_id: position for position, rule_id in enumerate(RULES)}
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["rule"], row["article"]), []).append(row)
    groups = []
    for (rule_id, article), members in sorted(
            grouped.items(), key=lambda item: (order.get(item[0][0], len(order)), item[0])):
        known = RULES.get(rule_id)
        rule = Rule(rule_id, article, known.fires_when if known else "")
        groups.append(pages.BreachGroup(rule, members))
    return groups


# Handlers ----------------------------------------------------------------------------
async def start(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/verify")


@html_page
async def verify(request: web.Request) -> web.StreamResponse:
    vkey = _svc(request).log.vkey
    return html_response(pages.verify_page(vkey.vkey if vkey is not None else None))


@html_page
async def arrears(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    as_of = as_of_param(request)
    payer = party_param(request, "payer")
    store, at = await caught_up(request)
    every = await asyncio.to_thread(store.arrears, as_of, at)
    shown = every
    if payer is not None:  # at the same tree size as the list of payers
        shown = await asyncio.to_thread(store.arrears, as_of, every["log_size"], payer)
    rows = shown["rows"]
    parties = [r["payer"] for r in every["rows"]] + [r["payee"] for r in rows]
    if payer is not None:
        parties.append(payer)
    names = await asyncio.to_thread(party_names, svc.ledger, parties, at)
    found = await asyncio.to_thread(locate_leaves, svc.ledger, _evidence_of(rows))
    options = sorted({(r["payer"], names.get(r["payer"], r["payer"])) for r in every["rows"]}
                     | ({(payer, names.get(payer, payer))} if payer else set()),
                     key=lambda option: (option[1], option[0]))
    view = pages.ArrearsView(
        as_of=shown["as_of"], log_size=shown["log_size"], at=at, payer=payer,
        payer_options=options, rows=rows, totals=shown["totals"],
        by_payer=bars_by_payer(rows, names), by_bucket=bars_by_age(rows), names=names,
        evidence=found)
    return html_response(pages.arrears_page(view))


@html_page
async def breaches(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    as_of = as_of_param(request)
    rule = request.query.get("rule")
    if rule is not None and rule not in RULES:
        raise InvalidInput(f"rule must be one of {', '.join(RULES)}", field="rule")
    store, at = await caught_up(request)
    result = await asyncio.to_thread(store.breaches, as_of, at, rule, None)
    rows = result["rows"]
    names = await asyncio.to_thread(party_names, svc.ledger,
                                    [r["party"] for r in rows if r.get("party")], at)
    found = await asyncio.to_thread(locate_leaves, svc.ledger, _evidence_of(rows))
    view = pages.BreachesView(
        as_of=result["as_of"], log_size=result["log_size"], at=at, rule=rule,
        rules=list(RULES.values()), groups=breach_groups(rows), names=names, evidence=found)
    return html_response(pages.breaches_page(view))


@html_page
async def stream(request: web.Request) -> web.StreamResponse:
    from .app import stream_history

    svc = _svc(request)
    name, at, events = await stream_history(request)
    size = await asyncio.to_thread(svc.ledger.size)  # the log now, beside the `at` shown
    signers = [event.signer.split("/", 1)[0] for event in events]
    names = await asyncio.to_thread(party_names, svc.ledger, signers, at)
    timeline = [pages.TimelineEvent(
        version=e.version, type=e.type, signer=e.signer, recorded_at=e.recorded_at,
        leaf_index=e.index, leaf_hash=e.leaf_hash.hex(),
        prev=e.prev.hex() if e.prev else None, body=e.body) for e in events]
    return html_response(pages.stream_page(pages.StreamView(name, at, size, timeline, names)))


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Pages load nothing from elsewhere and run no inline script."""
    if request.path == "/ui" or request.path.startswith("/ui/"):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.content_type == "text/html":
            response.headers.setdefault("Cache-Control", "no-cache")


def add_routes(app: web.Application) -> None:
    app.add_routes([
        web.get("/ui", start),
        web.get("/ui/", start),
        web.get("/ui/verify", verify),
        web.get("/ui/arrears", arrears),
        web.get("/ui/breaches", breaches),
        web.get("/ui/streams/{kind}/{id}", stream),
        web.static("/ui/static", STATIC_DIR, follow_symlinks=False),
    ])
    app.on_response_prepare.append(security_headers)
