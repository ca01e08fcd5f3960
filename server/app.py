"""The aiohttp application: factory, typed state, route table, error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import psycopg
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from eventsourcing import persistence
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ledger.application import Ledger
from ledger.catalogue import check_stream_name
from ledger.config import Settings
from ledger.envelope import Submission, parse_json, parse_msgpack_wire
from ledger.errors import (
    BatchRejected,
    InvalidInput,
    LedgerError,
    NotFound,
    RequestTimeout,
    ServiceUnavailable,
    StreamNotFound,
    TooLarge,
    WrongType,
)
from ledger.keys import SignerKey
from ledger.log import Log
from ledger.records import LoggedEvent
from projections.runner import ProjectionRunner
from projections.store import ProjectionStore

from . import projection_routes, ui
from .committer import GroupCommitter
from .metrics import Metrics

log = logging.getLogger("ledger.server")

MSGPACK = "application/msgpack"
PROBLEM = "application/problem+json"


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    log: Log
    committer: GroupCommitter
    metrics: Metrics
    started: float
    projections: ProjectionStore
    runner: ProjectionRunner
    # The signing under way, if any: callers that want a fresh checkpoint join it
    # rather than each re-checking the grown tree on a thread of its own.
    signing: asyncio.Future[Any] | None = None

    async def sign_checkpoint(self) -> bool:
        """Sign a checkpoint over the log as it is now (True), or join the signing under
        way (False: it covers at least what was recorded before it started)."""
        started = self.signing is None or self.signing.done()
        if started:
            self.signing = asyncio.ensure_future(asyncio.to_thread(self.log.sign_checkpoint))
        assert self.signing is not None
        # Shielded: a caller that goes away does not cancel the others' signing.
        await asyncio.shield(self.signing)
        return started


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


# ---------------------------------------------------------------------------
# Errors as RFC 9457 problem+json, and request metrics
# ---------------------------------------------------------------------------
def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return web.json_response(body, status=status, content_type=PROBLEM)


def ledger_problem(error: LedgerError) -> web.Response:
    body = error.to_problem()
    return web.json_response(body, status=error.status, content_type=PROBLEM)


# The database unreachable, full or locked (on either backend, raw or as the event
# store wraps it): the service is unavailable for now, not broken. Errors of the
# statements themselves (ProgrammingError and the like) stay 500s.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sqlite3.OperationalError, psycopg.OperationalError, psycopg.InterfaceError,
    persistence.OperationalError, persistence.InterfaceError,
)


@web.middleware
async def error_middleware(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    try:
        return await handler(request)
    except LedgerError as error:
        if error.status >= 500:
            log.warning("service error on %s: %s", request.path, error)
        response = ledger_problem(error)
        if isinstance(error, RequestTimeout):
            response.force_close()  # what is left of the body is not waited for
        return response
    except web.HTTPRequestEntityTooLarge as exc:
        return ledger_problem(TooLarge(f"request body exceeds {exc.text or 'the limit'}"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason, exc.text or exc.reason)
    except asyncio.CancelledError:
        raise
    except DATABASE_UNAVAILABLE as exc:
        log.warning("database unavailable on %s %s: %r", request.method, request.path, exc)
        return ledger_problem(ServiceUnavailable(
            f"the database is unavailable ({type(exc).__name__}); nothing was recorded by "
            "this request unless a receipt was sent; retry later (an identical submission "
            "is recognised, not recorded twice)"))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal Server Error", "an unexpected error occurred; "
                       "nothing was recorded by this request unless a receipt was sent")


@web.middleware
async def metrics_middleware(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        route = "unmatched"
        info = request.match_info
        if info.route.resource is not None:
            route = info.route.resource.canonical
        metrics = request.app[SERVICES].metrics
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.latency.labels(request.method, route).observe(time.perf_counter() - start)


# ---------------------------------------------------------------------------
# Request helpers
# ---------------------------------------------------------------------------
# ASCII digits only: str.isdigit() also accepts other scripts' digits and superscripts.
_ASCII_INT = re.compile(r"[0-9]{1,18}")
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")


def int_param(request: web.Request, name: str, *, minimum: int = 0) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not _ASCII_INT.fullmatch(raw):
        raise InvalidInput(f"query parameter {name} must be a non-negative integer",
                           field=name)
    value = int(raw)
    if value < minimum:
        raise InvalidInput(f"query parameter {name} must be at least {minimum}", field=name)
    return value


async def check_at(request: web.Request, name: str = "at") -> int | None:
    at = int_param(request, name)
    if at is not None:
        # Off the event loop: with the database away, waiting for a connection here
        # stalled every other request of the process for the pool's timeout.
        size = await asyncio.to_thread(services(request).ledger.size)
        if at > size:
            raise InvalidInput(f"{name}={at} is beyond the log (size {size})", field=name)
    return at


def hex32(value: str | None, name: str) -> bytes:
    # fullmatch, not bytes.fromhex alone: fromhex skips spaces, so 64 characters with
    # spaces in them decoded to fewer bytes and were looked up as a hash.
    if value is None or not _HEX32.fullmatch(value):
        raise InvalidInput(f"{name} must be 64 hex digits", field=name)
    return bytes.fromhex(value)


def _is_msgpack(request: web.Request) -> bool:
    return request.content_type in (MSGPACK, "application/x-msgpack")


async def read_document(request: web.Request) -> Any:
    if request.content_type not in (MSGPACK, "application/x-msgpack", "application/json"):
        raise web.HTTPUnsupportedMediaType(
            text="send application/json or application/msgpack")
    settings = services(request).settings
    declared = request.content_length
    if declared is not None and declared > settings.max_body_bytes:
        # Answered at once, instead of after receiving up to the limit.
        raise TooLarge(f"request body of {declared} bytes exceeds the limit of "
                       f"{settings.max_body_bytes}")
    try:
        if request.content.is_eof():  # all here already (the usual small POST): no timer
            data = await request.read()
        else:
            async with asyncio.timeout(settings.body_timeout):
                data = await request.read()
    except TimeoutError:
        # A client that stops sending its body would otherwise hold the connection and
        # its handler for as long as it likes (the answer closes the connection).
        raise RequestTimeout(f"the request body was not received within "
                             f"{settings.body_timeout:g} s") from None
    if _is_msgpack(request):
        return parse_msgpack_wire(data)
    return parse_json(data)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------
async def post_event(request: web.Request) -> web.Response:
    svc = services(request)
    wait = request.query.get("wait")
    if wait not in (None, "checkpoint"):
        raise InvalidInput("wait must be 'checkpoint'", field="wait")
    submission = Submission.from_wire(await read_document(request))
    try:
        outcome = await svc.committer.submit(submission)
    except LedgerError as error:
        svc.metrics.submissions_refused.labels(error.code).inc()
        raise
    body: dict[str, Any] = outcome.receipt.to_json()
    if wait == "checkpoint":
        # Recorded and committed whatever happens now: a checkpoint that cannot be had
        # (none signed in time, the database busy) must not turn the receipt into an
        # error saying nothing was recorded. The receipt comes without it, saying why.
        try:
            body.update(await checkpoint_with_inclusion(svc, outcome.receipt.leaf_index))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            reason = error.message if isinstance(error, LedgerError) else type(error).__name__
            log.warning("recorded leaf %d, but no checkpoint for it: %s",
                        outcome.receipt.leaf_index, reason)
            body["checkpoint_unavailable"] = (
                f"recorded; no checkpoint covering it could be had ({reason}): fetch "
                "GET /v1/log/checkpoint and the inclusion proof later")
    return json_response(body, status=201 if outcome.created else 200)


async def checkpoint_with_inclusion(svc: Services, leaf_index: int) -> dict[str, Any]:
    note = await checkpoint_note_covering(svc, leaf_index + 1)
    size = int(note.split("\n")[1])
    proof = await asyncio.to_thread(svc.log.inclusion, leaf_index, size)
    return {"checkpoint": note, "inclusion": proof.to_json()}


async def checkpoint_note_covering(svc: Services, size: int, timeout: float = 10.0) -> str:
    """The latest signed checkpoint once one covers ``size`` leaves."""
    deadline = time.monotonic() + timeout
    while True:
        latest = await asyncio.to_thread(svc.log.latest_checkpoint)
        if latest is not None and latest.size >= size:
            return latest.note
        if time.monotonic() > deadline:
            raise ServiceUnavailable("no checkpoint covers the log yet; try again shortly")
        if svc.log.checkpointer is None:
            await asyncio.sleep(0.05)  # another process signs
        elif await svc.sign_checkpoint():
            latest = await asyncio.to_thread(svc.log.latest_checkpoint)
            if latest is not None and latest.size >= size:
                return latest.note
            await asyncio.sleep(0.05)
        # else: joined a signing that may have begun before this leaf; look, then sign afresh


async def post_batch(request: web.Request) -> web.Response:
    svc = services(request)
    document = await read_document(request)
    if not isinstance(document, list):
        raise WrongType("a batch is an array of submissions")
    if not document:
        raise InvalidInput("a batch holds at least one submission")
    if len(document) > svc.settings.max_batch:
        raise TooLarge(f"a batch holds at most {svc.settings.max_batch} submissions")
    submissions: list[Submission] = []
    failures: list[tuple[int, LedgerError]] = []
    for i, item in enumerate(document):
        try:
            submissions.append(Submission.from_wire(item))
        except LedgerError as error:
            failures.append((i, error))
    if failures:
        # Name every failing item (DESIGN 6), not only those whose wire form is bad: the
        # others are decided as record_batch would, without them, and nothing is saved.
        if submissions:
            malformed = {i for i, _ in failures}
            positions = [i for i in range(len(document)) if i not in malformed]
            checked = await asyncio.to_thread(svc.ledger.check_batch, submissions)
            failures += [(positions[i], error) for i, error in checked]
        raise BatchRejected(sorted(failures, key=lambda failure: failure[0]))
    outcomes = await asyncio.to_thread(svc.ledger.record_batch, submissions)
    created = sum(1 for o in outcomes if o.created)
    svc.metrics.events_recorded.inc(created)
    return json_response([o.receipt.to_json() for o in outcomes],
                         status=201 if created else 200)


# ---------------------------------------------------------------------------
# The log
# ---------------------------------------------------------------------------
async def get_checkpoint(request: web.Request) -> web.Response:
    svc = services(request)
    latest = await asyncio.to_thread(svc.log.latest_checkpoint)
    if latest is None:
        if svc.log.checkpointer is None:
            raise ServiceUnavailable("no checkpoint has been signed yet")
        await svc.sign_checkpoint()
        latest = await asyncio.to_thread(svc.log.latest_checkpoint)
    assert latest is not None
    # C2SP tlog-tiles: the checkpoint is mutable, so no caching beyond a few seconds.
    return web.Response(text=latest.note, content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


async def get_log_key(request: web.Request) -> web.Response:
    vkey = services(request).log.vkey
    if vkey is None:
        raise NotFound("no log key configured")
    return web.Response(text=vkey.vkey + "\n", content_type="text/plain", charset="utf-8")


async def get_entry(request: web.Request) -> web.Response:
    raw = request.match_info["index"]
    if not _ASCII_INT.fullmatch(raw):
        raise InvalidInput("index must be a non-negative integer", field="index")
    leaf = await asyncio.to_thread(services(request).log.entry, int(raw))
    return web.Response(body=leaf, content_type=MSGPACK)


async def get_inclusion(request: web.Request) -> web.Response:
    svc = services(request)
    tree_size = int_param(request, "tree_size")
    index = int_param(request, "index")
    leaf_hash = request.query.get("leaf_hash")
    if (index is None) == (leaf_hash is None):
        raise InvalidInput("give exactly one of leaf_hash or index", field="leaf_hash")
    if leaf_hash is not None:
        proof = await asyncio.to_thread(svc.log.inclusion_by_hash,
                                        hex32(leaf_hash, "leaf_hash"), tree_size)
    else:
        assert index is not None
        proof = await asyncio.to_thread(svc.log.inclusion, index, tree_size)
    return json_response(proof.to_json())


async def get_consistency(request: web.Request) -> web.Response:
    svc = services(request)
    first = int_param(request, "from")
    if first is None:
        raise InvalidInput("from is required", field="from")
    proof = await asyncio.to_thread(svc.log.consistency, first, int_param(request, "to"))
    return json_response(proof.to_json())


async def get_tile(request: web.Request) -> web.Response:
    path = "tile/" + request.match_info["path"]
    data = await asyncio.to_thread(services(request).log.tile, path)
    # C2SP tlog-tiles: what a tile path names never changes (a partial tile is another
    # path), so caches may keep it; entry bundles should be compressed over HTTP.
    response = web.Response(body=data, content_type="application/octet-stream",
                            headers={"Cache-Control": "public, max-age=31536000, immutable"})
    if path.startswith("tile/entries/"):
        response.enable_compression()
    return response


# ---------------------------------------------------------------------------
# Streams
# ---------------------------------------------------------------------------
def event_json(e: Any) -> dict[str, Any]:
    return {
        "version": e.version, "type": e.type, "leaf_index": e.index,
        "leaf_hash": e.leaf_hash.hex(), "prev": e.prev.hex() if e.prev else None,
        "recorded_at": e.recorded_at, "signer": e.signer, "body": e.body,
    }


async def stream_history(request: web.Request) -> tuple[str, int | None, list[LoggedEvent]]:
    """The ``{kind}/{id}`` stream's events as known at ``?at=N``; 404 when it has none."""
    stream = f"{request.match_info['kind']}/{request.match_info['id']}"
    check_stream_name(stream)
    at = await check_at(request)
    events = await asyncio.to_thread(services(request).ledger.stream_events, stream, at)
    if not events:
        raise StreamNotFound(f"{stream} has no events"
                             + (f" at tree size {at}" if at is not None else ""))
    return stream, at, events


async def get_stream(request: web.Request) -> web.Response:
    stream, _, events = await stream_history(request)
    return json_response({"stream": stream, "events": [event_json(e) for e in events]})


# ---------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------
async def healthz(request: web.Request) -> web.Response:
    svc = services(request)
    size = await asyncio.to_thread(svc.ledger.size)
    return json_response({"status": "ok", "tree_size": size,
                          "uptime_seconds": round(time.monotonic() - svc.started, 3)})


async def metrics_handler(request: web.Request) -> web.Response:
    svc = services(request)
    await asyncio.to_thread(refresh_gauges, svc)
    return web.Response(body=generate_latest(svc.metrics.registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def refresh_gauges(svc: Services) -> None:
    size = svc.ledger.size()
    svc.metrics.tree_size.set(size)
    svc.metrics.projection_lag.set(max(size - svc.projections.position(), 0))
    latest = svc.log.latest_checkpoint() if svc.log.checkpointer else None
    if latest is not None:
        svc.metrics.checkpoint_size.set(latest.size)
        signed = datetime.fromisoformat(latest.signed_at.replace("Z", "+00:00"))
        svc.metrics.checkpoint_age.set((datetime.now(UTC) - signed).total_seconds())


async def openapi(request: web.Request) -> web.Response:
    from .openapi import openapi_document

    return json_response(openapi_document())


# ---------------------------------------------------------------------------
# Errors found by the HTTP parser itself, before any route or middleware runs
# ---------------------------------------------------------------------------
class _ProblemRequestHandler(RequestHandler):
    """Answers malformed HTTP (bad framing, bad method, oversize headers) as problem+json,
    like every other refusal, instead of aiohttp's text/plain."""

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; may refuse to answer
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        detail = message if message and status != 500 else phrase
        body = {"type": "about:blank", "title": phrase or "Error", "status": status,
                "detail": detail}
        response = web.Response(status=status, body=_dumps(body).encode(),
                                content_type=PROBLEM)
        response.force_close()
        return response


class _ProblemServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class LedgerRunner(web.AppRunner):
    """An AppRunner whose connections answer parser-level errors as problem+json."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _ProblemServer
        return server


async def serve(app: web.Application, host: str, port: int,
                on_listening: Callable[[], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully. ``on_listening`` runs once
    the socket is bound; an address that cannot be bound is InvalidInput."""
    import signal

    runner = LedgerRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:  # in use, not an address of this host, no permission
            raise InvalidInput(f"cannot listen on {host}:{port}: {error}") from None
        if on_listening is not None:
            on_listening()
        await stop.wait()
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------
ROUTES = [
    web.post("/v1/events", post_event),
    web.post("/v1/events/batch", post_batch),
    web.get("/v1/log/checkpoint", get_checkpoint),
    web.get("/v1/log/key", get_log_key),
    web.get("/v1/log/entries/{index}", get_entry),
    web.get("/v1/log/proof/inclusion", get_inclusion),
    web.get("/v1/log/proof/consistency", get_consistency),
    web.get("/v1/log/tile/{path:.+}", get_tile),
    web.get("/v1/streams/{kind}/{id}", get_stream),
    web.get("/v1/openapi.json", openapi),
    web.get("/healthz", healthz),
    web.get("/metrics", metrics_handler),
]

def create_app(settings: Settings, *, ledger: Ledger | None = None,
               log_key: SignerKey | None = None) -> web.Application:
    """The application. Resources open in ``cleanup_ctx`` and close with it."""
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[metrics_middleware, error_middleware])
    app.add_routes(ROUTES)
    projection_routes.add_routes(app)
    ui.add_routes(app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        own = ledger is None
        the_ledger: Ledger = ledger if ledger is not None else await asyncio.to_thread(
            Ledger, settings.resolved_database_url,
            acceptance_window=timedelta(days=settings.acceptance_window_days))
        if own:
            # Signature workers start now, not in the middle of the first large batch.
            await asyncio.to_thread(the_ledger.start_workers)
        key = log_key
        if key is None and settings.log_key_path.exists():
            key = SignerKey.read(settings.log_key_path)
        the_log = await asyncio.to_thread(Log, the_ledger, key)
        metrics = Metrics()
        committer = GroupCommitter(the_ledger, metrics, linger=settings.group_linger)
        committer.start()
        store = await asyncio.to_thread(ProjectionStore, the_ledger.url_text)
        runner = ProjectionRunner(the_ledger, store)
        svc = Services(settings, the_ledger, the_log, committer, metrics, time.monotonic(),
                       store, runner)
        app[SERVICES] = svc
        stopping = asyncio.Event()
        tasks = [asyncio.create_task(_checkpoint_loop(svc, stopping), name="checkpointer"),
                 asyncio.create_task(_projection_loop(svc, stopping), name="projections")]
        try:
            yield
        finally:
            # Let the loops finish the work they have on worker threads before the
            # connections they use are closed (cancelling would not stop a thread).
            stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await committer.stop()
            await asyncio.to_thread(store.close)
            if own:
                await asyncio.to_thread(the_ledger.close)

    app.cleanup_ctx.append(resources)
    return app


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)


async def _projection_loop(svc: Services, stopping: asyncio.Event) -> None:
    """Keep the read models following the log (queries also catch up on demand)."""
    interval = max(svc.settings.checkpoint_interval, 0.2)
    while not stopping.is_set():
        try:
            folded = await asyncio.to_thread(svc.runner.run_once)
        except Exception:
            log.exception("projection runner failed; retrying")
            folded = 0
        if not folded:
            await _pause(stopping, interval)


async def _checkpoint_loop(svc: Services, stopping: asyncio.Event) -> None:
    if svc.log.checkpointer is None or svc.settings.checkpoint_interval <= 0:
        return
    while not stopping.is_set():
        try:
            await svc.sign_checkpoint()
        except LedgerError as error:
            log.error("checkpoint refused: %s", error)
        except Exception:
            log.exception("checkpoint signing failed")
        await _pause(stopping, svc.settings.checkpoint_interval)



