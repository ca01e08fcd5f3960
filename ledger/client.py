"""A small HTTP client for the ledger's API (DESIGN 6), used by the command line.

One persistent connection per client; every failure is one of two errors:

- :class:`ServerUnreachable` — no answer at all (refused, name unknown, timed out,
  connection dropped twice); the command line exits with 3.
- :class:`ServerRefused` — an HTTP error status, with the RFC 9457 problem document
  when the server sent one (``problem``), so callers can name the field or rule.

Retrying is safe for every request this client makes: reads are idempotent, and the
server answers an identical submission with its original receipt (DESIGN 6).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import msgpack

from .envelope import Submission
from .errors import InvalidInput, LedgerError

DEFAULT_SERVER = "http://127.0.0.1:8080"
MSGPACK = "application/msgpack"
USER_AGENT = "commitment-ledger-cli/1"


def default_server() -> str:
    """``LEDGER_SERVER``, else http://127.0.0.1:8080 (DESIGN 7)."""
    return os.environ.get("LEDGER_SERVER") or DEFAULT_SERVER


class ServerUnreachable(LedgerError):
    status = 503
    code = "server_unreachable"
    title = "Server unreachable"


class ServerRefused(LedgerError):
    """The server answered with an error status."""

    code = "server_refused"
    title = "Server refused the request"

    def __init__(self, http_status: int, message: str, problem: dict[str, Any] | None,
                 url: str) -> None:
        super().__init__(message, http_status=http_status, url=url)
        self.status = http_status
        self.http_status = http_status
        self.problem = problem or {}
        self.url = url

    @property
    def item_errors(self) -> list[dict[str, Any]]:
        """Per-item errors of a refused batch (``errors: [{index, ...}]``)."""
        errors = self.problem.get("errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` is the server (or a proxy before it) not serving: unreachable, or
    an answer of 500 or more. That says nothing about the log; a caller deciding what an
    answer proves must pass it on (exit 3), not take it as a refused proof."""
    return isinstance(error, ServerUnreachable) or (
        isinstance(error, ServerRefused) and error.http_status >= 500)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"server sent malformed JSON: {exc}") from exc

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"server sent text that is not UTF-8: {exc}") from exc


class LedgerClient:
    """Blocking client for one server base URL (``http://host:port[/prefix]``)."""

    def __init__(self, base_url: str, *, timeout: float = 120.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"server URL {base_url!r} must look like http://host:port")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    # Connection --------------------------------------------------------------
    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (http.client.HTTPSConnection if self._scheme == "https"
                   else http.client.HTTPConnection)
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: bytes | None = None, content_type: str | None = None,
                accept: str = "application/json") -> Response:
        """Send one request; raise ``ServerRefused`` for any status >= 400."""
        target = self._prefix + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            target += "?" + urlencode(query)
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if content_type is not None:
            headers["Content-Type"] = content_type
        last: Exception | None = None
        for _attempt in range(2):
            conn = self._connection()
            try:
                conn.request(method, target, body=body, headers=headers)
                raw = conn.getresponse()
                data = raw.read()
            except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                # A dropped keep-alive connection is retried once on a fresh one.
                self.close()
                last = exc
                continue
            response = Response(raw.status, raw.getheader("Content-Type") or "", data)
            if raw.getheader("Connection", "").lower() == "close":
                self.close()
            if response.status >= 400:
                raise _refused(response, self.base_url + target)
            return response
        raise ServerUnreachable(f"cannot reach the ledger server at {self.base_url}: "
                                f"{_describe(last)}", server=self.base_url)

    def get_json(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def get_text(self, path: str, **params: Any) -> str:
        return self.request("GET", path, params=params, accept="text/plain").text()

    def get_bytes(self, path: str, *, accept: str = "application/octet-stream") -> bytes:
        return self.request("GET", path, accept=accept).body

    # The API -----------------------------------------------------------------
    def checkpoint(self) -> str:
        return self.get_text("/v1/log/checkpoint")

    def log_key(self) -> str:
        return self.get_text("/v1/log/key").strip()

    def entry(self, index: int) -> bytes:
        return self.get_bytes(f"/v1/log/entries/{int(index)}", accept=MSGPACK)

    def tile(self, path: str) -> bytes:
        return self.get_bytes(f"/v1/log/{path}")

    def inclusion(self, *, tree_size: int, index: int | None = None,
                  leaf_hash: bytes | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"tree_size": tree_size}
        if leaf_hash is not None:
            params["leaf_hash"] = leaf_hash.hex()
        else:
            params["index"] = index
        document: dict[str, Any] = self.get_json("/v1/log/proof/inclusion", **params)
        return document

    def consistency(self, first: int, second: int) -> list[bytes]:
        from .verify import hashes_from_json

        document = self.get_json("/v1/log/proof/consistency", **{"from": first, "to": second})
        if not isinstance(document, dict):
            raise InvalidInput("consistency proof must be a JSON object")
        return hashes_from_json(document.get("hashes"))

    def stream(self, stream: str, at: int | None = None) -> dict[str, Any]:
        kind, _, ident = stream.partition("/")
        document: dict[str, Any] = self.get_json(
            f"/v1/streams/{quote(kind, safe='')}/{quote(ident, safe='')}", at=at)
        return document

    def documents(self, sha256_hex: str) -> dict[str, Any]:
        document: dict[str, Any] = self.get_json(f"/v1/documents/{sha256_hex}")
        return document

    def projection(self, name: str, **params: Any) -> dict[str, Any]:
        document: dict[str, Any] = self.get_json(f"/v1/{name}", **params)
        return document

    def post_batch(self, submissions: Sequence[Submission]) -> tuple[int, list[dict[str, Any]]]:
        """POST /v1/events/batch as msgpack; (status, receipts) — 201 when any was new."""
        body = msgpack.packb([s.to_msgpack_map() for s in submissions], use_bin_type=True)
        response = self.request("POST", "/v1/events/batch", body=body, content_type=MSGPACK)
        receipts = response.json()
        if not isinstance(receipts, list) or len(receipts) != len(submissions):
            raise InvalidInput(f"server answered a batch of {len(submissions)} with "
                               f"{type(receipts).__name__} instead of as many receipts")
        return response.status, receipts

    def post_event(self, submission: Submission) -> tuple[int, dict[str, Any]]:
        body = msgpack.packb(submission.to_msgpack_map(), use_bin_type=True)
        response = self.request("POST", "/v1/events", body=body, content_type=MSGPACK)
        receipt: dict[str, Any] = response.json()
        return response.status, receipt


def _refused(response: Response, url: str) -> ServerRefused:
    problem: dict[str, Any] | None = None
    if "json" in response.content_type:
        try:
            parsed = json.loads(response.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            parsed = None
        if isinstance(parsed, dict):
            problem = parsed
    if problem is not None:
        detail = problem.get("detail") or problem.get("title") or ""
        message = f"{response.status} {problem.get('title', '')}: {detail}".strip()
    else:
        text = response.body[:300].decode("utf-8", "replace").strip()
        message = f"{response.status}: {text or 'no detail'}"
    return ServerRefused(response.status, message, problem, url)


def _describe(error: Exception | None) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is `ledger serve` running?)"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error})"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(error) or type(error).__name__
