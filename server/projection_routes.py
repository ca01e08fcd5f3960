"""Read models over HTTP: arrears, breaches, compensation, accountability, documents,
contracts and commitments (DESIGN 5-6). Queries run on the tracked projection store; a
query first lets the store catch up with the log, so answers reflect the current tree
(or exactly tree size ``at`` when given)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from ledger.catalogue import ID_PATTERN
from ledger.errors import InvalidInput, NotFound, ServiceUnavailable, StreamNotFound
from ledger.timeutil import FIRST_DATE, LAST_DATE, parse_business_date
from ledger.uscc import looks_like_uscc
from projections.rules import RULES
from projections.store import ProjectionMismatch

CHINA = timezone(timedelta(hours=8))


def _svc(request: web.Request) -> Any:
    from .app import SERVICES

    return request.app[SERVICES]


def as_of_param(request: web.Request) -> date:
    raw = request.query.get("as_of")
    if raw is None:
        return datetime.now(CHINA).date()
    try:
        return parse_business_date(raw)
    except ValueError:
        raise InvalidInput(f"as_of must be a date YYYY-MM-DD from {FIRST_DATE} to "
                           f"{LAST_DATE}", field="as_of") from None


def party_param(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is not None and not looks_like_uscc(raw):
        raise InvalidInput(f"{name} must be a unified social credit code", field=name)
    return raw


async def caught_up(request: web.Request) -> tuple[Any, int | None]:
    """The store, caught up with the log; and the validated ``at``."""
    from .app import check_at

    svc = _svc(request)
    at = await check_at(request)
    try:
        await asyncio.to_thread(svc.runner.catch_up)
    except ProjectionMismatch as mismatch:  # the operator's to repair, not the caller's
        raise ServiceUnavailable(f"the read models do not follow this log: {mismatch}") \
            from mismatch
    return svc.projections, at


async def get_arrears(request: web.Request) -> web.Response:
    from .app import json_response

    as_of = as_of_param(request)
    payer, payee = party_param(request, "payer"), party_param(request, "payee")
    store, at = await caught_up(request)
    result = await asyncio.to_thread(store.arrears, as_of, at, payer, payee)
    return json_response(result)


async def get_breaches(request: web.Request) -> web.Response:
    from .app import json_response

    as_of = as_of_param(request)
    rule = request.query.get("rule")
    if rule is not None and rule not in RULES:
        raise InvalidInput(f"rule must be one of {', '.join(RULES)}", field="rule")
    party = party_param(request, "party")
    store, at = await caught_up(request)
    return json_response(await asyncio.to_thread(store.breaches, as_of, at, rule, party))


async def get_compensation(request: web.Request) -> web.Response:
    from .app import json_response

    as_of = as_of_param(request)
    store, at = await caught_up(request)
    return json_response(await asyncio.to_thread(store.compensation, as_of, at))


async def get_accountability(request: web.Request) -> web.Response:
    from .app import json_response

    as_of = as_of_param(request)
    store, at = await caught_up(request)
    return json_response(await asyncio.to_thread(store.accountability, as_of, at))


async def get_document(request: web.Request) -> web.Response:
    """Every event naming the document, each with an inclusion proof against one
    signed checkpoint, so the holder verifies without trusting the server."""
    from .app import checkpoint_note_covering, json_response

    sha = request.match_info["sha256"].lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise InvalidInput("the document hash must be 64 hex digits (SHA-256)", field="sha256")
    svc = _svc(request)
    store, _ = await caught_up(request)
    checkpoint = await checkpoint_note_covering(svc, await asyncio.to_thread(store.position))
    size = int(checkpoint.split("\n")[1])
    if await asyncio.to_thread(store.position) < size:
        # The checkpoint covers leaves recorded since the catch-up: fold them too, so
        # that every event naming the document up to its size is listed.
        store, _ = await caught_up(request)
    found = await asyncio.to_thread(store.documents_named, sha, size)
    if not found["rows"]:
        raise NotFound(f"no recorded event names document {sha}")
    events = []
    for row in found["rows"]:
        proof = await asyncio.to_thread(svc.log.inclusion, row["leaf_index"], size)
        events.append({**row, "inclusion": proof.to_json()})
    return json_response({"sha256": sha, "log_size": size, "checkpoint": checkpoint,
                          "events": events})


def _subject_handler(kind: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        from .app import json_response

        ident = request.match_info["id"]
        if not ID_PATTERN.match(ident):
            raise InvalidInput(f"{kind} id must be 1-128 characters [A-Za-z0-9._:-]",
                               field="id")
        stream = f"{kind}/{ident}"
        store, at = await caught_up(request)
        view = await asyncio.to_thread(store.subject_state, stream, at)
        if view is None:
            raise StreamNotFound(f"{stream} has no events"
                                 + (f" at tree size {at}" if at is not None else ""))
        svc = _svc(request)
        events = await asyncio.to_thread(svc.ledger.stream_events, stream, at)
        return json_response({
            "stream": stream,
            "log_size": view["log_size"],
            "state": view["state"],
            "events": [{"version": e.version, "type": e.type, "leaf_index": e.index,
                        "leaf_hash": e.leaf_hash.hex(), "recorded_at": e.recorded_at}
                       for e in events],
        })

    return handler


def add_routes(app: web.Application) -> None:
    app.add_routes([
        web.get("/v1/arrears", get_arrears),
        web.get("/v1/breaches", get_breaches),
        web.get("/v1/compensation", get_compensation),
        web.get("/v1/accountability", get_accountability),
        web.get("/v1/documents/{sha256}", get_document),
        web.get("/v1/contracts/{id}", _subject_handler("contract")),
        web.get("/v1/commitments/{id}", _subject_handler("commitment")),
    ])

