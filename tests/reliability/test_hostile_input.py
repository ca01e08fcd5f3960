"""Hostile input against a real ``ledger serve`` process: more than 10,000 malformed or
hostile requests, none answered with a 5xx, every refusal an application/problem+json
document, and the log unchanged afterwards (same tree size, same checkpoint root).

Sources: schemathesis in negative mode over the OpenAPI document; Hypothesis-driven raw
HTTP requests (broken and non-canonical msgpack and JSON, huge integers, deep nesting,
wrong types, unknown fields, bad paths, queries, methods and content types); envelopes
that are validly signed by a registered key but non-canonical or semantically wrong;
oversize bodies; and broken HTTP framing sent over a raw socket. Every test counts the
requests it sent and asserts the count; together they send more than 10,000.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import msgpack
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from ledger.encoding import encode
from ledger.envelope import Submission, signing_message
from server.openapi import openapi_document
from tests.e2e.served_process import ServerProcess, start_server
from tests.reliability.harness import Site, now_utc, payment_body, prepare_site

pytestmark = pytest.mark.timeout(600)

PROBLEM = "application/problem+json"
SCHEMATHESIS_CASES = 1500
RAW_EXAMPLES = 400          # each example sends RAW_PER_EXAMPLE requests or more
RAW_PER_EXAMPLE = 16
SIGNED_EXAMPLES = 700       # four validly signed hostile envelopes each


@schemathesis.serializer("application/msgpack")
def _msgpack(ctx: object, value: object) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return msgpack.packb(value, use_bin_type=True)


SCHEMA = schemathesis.openapi.from_dict(openapi_document())


# ---------------------------------------------------------------------------
# The server and what it answered
# ---------------------------------------------------------------------------
@dataclass
class Tally:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def check(self, what: str, status: int, content_type: str, body: bytes, *,
              page: bool = False) -> None:
        """The invariants every answer keeps, whatever was sent. Web pages (``page``)
        answer people with an HTML error page instead of problem+json."""
        self.sent += 1
        self.statuses[status] += 1
        media = content_type.split(";", maxsplit=1)[0].strip()
        if status >= 500:
            self.violations.append(f"{status} for {what}: {body[:300]!r}")
        elif status >= 400 and page and media == "text/html":
            return
        elif status >= 400:
            if media != PROBLEM:
                self.violations.append(f"{status} as {content_type!r} for {what}")
            elif body:
                problem = json.loads(body)
                if problem.get("status") != status or "title" not in problem:
                    self.violations.append(f"problem without its status for {what}: {problem}")


@dataclass
class Hostile:
    server: ServerProcess
    site: Site
    tally: Tally
    before: tuple[int, str]

    @property
    def port(self) -> int:
        return int(self.server.base_url.rsplit(":", 1)[1])


class Client:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, method: str, target: str, body: bytes | None = None,
             content_type: str | None = None) -> tuple[int, str, bytes]:
        headers = {} if content_type is None else {"Content-Type": content_type}
        for attempt in (1, 2):
            try:
                self.conn.request(method, target, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return response.status, response.getheader("Content-Type", ""), data
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def log_state(port: int) -> tuple[int, str]:
    client = Client(port)
    try:
        status, _, body = client.send("GET", "/healthz")
        assert status == 200
        size = json.loads(body)["tree_size"]
        status, _, note = client.send("GET", "/v1/log/checkpoint")
        assert status == 200
    finally:
        client.close()
    lines = note.decode().split("\n", 3)
    assert int(lines[1]) == size, "the checkpoint does not cover the log"
    return size, lines[2]  # tree size and root


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    data = tmp_path_factory.mktemp("hostile")
    site = prepare_site(data / "data", f"sqlite:///{(data / 'data' / 'ledger.sqlite3')}")
    server = start_server(site.data_dir)
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        before = log_state(port)
        yield Hostile(server, site, Tally(), before)
    finally:
        server.stop()


def finish(hostile: Hostile, tally: Tally, minimum: int) -> None:
    assert tally.sent >= minimum, f"only {tally.sent} requests were sent"
    assert not tally.violations, f"{len(tally.violations)} violations: {tally.violations[:5]}"
    assert log_state(hostile.port) == hostile.before, "hostile input changed the log"
    assert hostile.server.process.poll() is None, "the server died"
    hostile.tally.sent += tally.sent
    hostile.tally.statuses.update(tally.statuses)
    print(f"{tally.sent} requests, statuses {dict(sorted(tally.statuses.items()))}; "
          f"{hostile.tally.sent} in this module so far")


def test_the_minimums_add_up_to_10000_requests() -> None:
    """Each test below asserts it sent at least its minimum; together, over 10,000."""
    minimums = [SCHEMATHESIS_CASES, RAW_EXAMPLES * RAW_PER_EXAMPLE, SIGNED_EXAMPLES * 4,
                12, len(FRAMING)]
    assert sum(minimums) > 10_000, minimums


# ---------------------------------------------------------------------------
# 1. schemathesis, negative mode
# ---------------------------------------------------------------------------
def test_schemathesis_negative_mode(hostile: Hostile) -> None:
    tally = Tally()
    session = requests.Session()

    @settings(max_examples=SCHEMATHESIS_CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=SCHEMA.as_strategy(GenerationMode.NEGATIVE))
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=hostile.server.base_url, session=session)
        content_type = (response.headers.get("content-type") or [""])[0]
        tally.check(f"{case.operation.label} {case.path_parameters} {case.query}",
                    response.status_code, content_type, response.content)
        if case.method.upper() == "POST":
            assert response.status_code >= 400, f"a fuzzed {case.operation.label} was accepted"

    try:
        run()
    finally:
        session.close()
    finish(hostile, tally, SCHEMATHESIS_CASES)


# ---------------------------------------------------------------------------
# 2. Raw HTTP requests built by Hypothesis
# ---------------------------------------------------------------------------
TEXT = st.text(max_size=40)
INTEGER_TEXT = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "-0", "+1", "0x10", "1e3", "1.0", " 1", "1 ", "00", "0" * 30,
                     "9" * 19, "9" * 400, "NaN", "-", "%00", "1%00"]),
    TEXT,
)
HEX_TEXT = st.one_of(st.binary(min_size=0, max_size=40).map(bytes.hex),
                     st.text("0123456789abcdefABCDEF", min_size=60, max_size=70), TEXT)
# Sent as written (already escaped, or deliberately broken escapes); all else is quoted.
RAW_SEGMENTS = ("%2e%2e", "%00", "%", "%%", "%zz", "a%2Fb", "000.p/0", "000.p/256",
                "x000/000", "x001/x234/067")
SEGMENT = st.one_of(INTEGER_TEXT, TEXT, st.sampled_from(
    ["..", ".", "contract", "party", "reference", "lpr", "R0", "x001", "000", "entries", "-1",
     *RAW_SEGMENTS]))
QUERY_NAMES = ["leaf_hash", "index", "tree_size", "from", "to", "at", "wait", "as_of", "payer",
               "payee", "rule", "party"]
DATE_TEXT = st.one_of(st.dates().map(str), st.sampled_from(
    ["2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31", "2026-1-1", "20260101",
     "2026-01-01\n", "\u0662\u0660\u0662\u0666-01-01"]))
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
              st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
MSGPACK_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),
              st.floats(), TEXT, st.binary(max_size=40)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def segment_path(segment: str) -> str:
    return segment if segment in RAW_SEGMENTS else quote(segment, safe="")


@st.composite
def paths(draw: st.DrawFn) -> str:
    template = draw(st.sampled_from([
        "/v1/log/entries/{}", "/v1/log/tile/{}", "/v1/log/tile/0/{}",
        "/v1/log/tile/entries/{}", "/v1/streams/{}/{}", "/v1/streams/contract/{}",
        "/v1/log/proof/inclusion", "/v1/log/proof/consistency", "/v1/log/checkpoint",
        "/v1/log/key", "/v1/openapi.json", "/healthz", "/metrics", "/v1/events",
        "/v1/events/batch", "/{}", "/v1/{}", "/v1/log/{}/{}", "/v2/events", "//v1//events",
        "/v1/arrears", "/v1/breaches", "/v1/compensation", "/v1/accountability",
        "/v1/contracts/{}", "/v1/commitments/{}", "/v1/documents/{}", "/ui/verify",
        "/ui/arrears", "/ui/breaches", "/ui/streams/{}/{}", "/ui/{}",
    ]))
    while "{}" in template:
        template = template.replace("{}", segment_path(draw(SEGMENT)), 1)
    pairs = draw(st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), TEXT),
                                    st.one_of(INTEGER_TEXT, HEX_TEXT, DATE_TEXT)),
                          max_size=4))
    return template + ("?" + urlencode(pairs) if pairs else "")


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def submission_documents(draw: st.DrawFn) -> Any:
    """Submission-shaped documents whose fields are wrong."""
    envelope = draw(st.one_of(st.binary(max_size=200), JSON_VALUES,
                              st.text(max_size=200).map(lambda t: t.encode().hex())))
    signature = draw(st.one_of(st.binary(min_size=64, max_size=64), st.binary(max_size=80),
                               JSON_VALUES))
    document: dict[str, Any] = {"envelope": envelope, "signature": signature}
    extra = draw(st.dictionaries(TEXT.filter(lambda k: k not in document), JSON_VALUES,
                                 max_size=2))
    return {**document, **extra}


def deep(open_: bytes, close: bytes, depth: int) -> bytes:
    return open_ * depth + close * depth


BODIES = st.one_of(
    st.binary(max_size=600),
    JSON_VALUES.map(json_bytes),
    MSGPACK_VALUES.map(lambda v: msgpack.packb(v, use_bin_type=True)),
    submission_documents().map(lambda d: msgpack.packb(
        d, use_bin_type=True, default=str)),
    submission_documents().map(lambda d: json.dumps(d, default=lambda b: b.hex()).encode()),
    st.lists(submission_documents(), max_size=3).map(
        lambda items: json.dumps(items, default=lambda b: b.hex()).encode()),
    st.integers(min_value=1, max_value=100_000).map(lambda n: deep(b"[", b"]", n)),
    st.integers(min_value=1, max_value=100_000).map(lambda n: b"\x91" * n + b"\xc0"),
    st.integers(min_value=1, max_value=6000).map(
        lambda n: b'{"envelope": ' + b"7" * n + b', "signature": 1}'),
    st.sampled_from([b"", b"null", b"[]", b"{}", b"\xc1", b"\xd4\xff\x00", b"\xc7\x00\x05",
                     b'{"envelope": NaN, "signature": Infinity}', b"\xef\xbb\xbf{}",
                     b'{"envelope": "AA==", "signature": "AA==", "envelope": "AA=="}']),
)
CONTENT_TYPES = st.sampled_from([
    "application/json", "application/msgpack", "application/x-msgpack", "text/plain",
    "application/json; charset=utf-16", "application/msgpack; charset=binary",
    "multipart/form-data; boundary=x", "application/problem+json", "", "*/*", None])
METHODS = st.sampled_from(["GET", "GET", "GET", "POST", "POST", "POST", "PUT", "DELETE",
                           "PATCH", "HEAD", "OPTIONS"])


@st.composite
def requests_(draw: st.DrawFn) -> tuple[str, str, bytes | None, str | None]:
    method = draw(METHODS)
    if method == "POST" and draw(st.booleans()):
        path = draw(st.sampled_from(["/v1/events", "/v1/events/batch",
                                     "/v1/events?wait=checkpoint"]))
    else:
        path = draw(paths())
    body = draw(BODIES) if method in ("POST", "PUT", "PATCH") else None
    return method, path, body, draw(CONTENT_TYPES)


def test_hypothesis_raw_requests(hostile: Hostile) -> None:
    tally = Tally()
    client = Client(hostile.port)

    @settings(max_examples=RAW_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(requests_(), min_size=RAW_PER_EXAMPLE, max_size=24))
    def run(batch: list[tuple[str, str, bytes | None, str | None]]) -> None:
        for method, path, body, content_type in batch:
            status, got_type, data = client.send(method, path, body, content_type)
            tally.check(f"{method} {path} {content_type} {(body or b'')[:80]!r}", status,
                        got_type, b"" if method == "HEAD" else data,
                        page=path.startswith("/ui/"))
            if method == "POST" and path.startswith("/v1/events"):
                assert status >= 400, f"hostile {path} accepted: {data[:200]!r}"

    try:
        run()
    finally:
        client.close()
    finish(hostile, tally, RAW_EXAMPLES * RAW_PER_EXAMPLE)


# ---------------------------------------------------------------------------
# 3. Envelopes validly signed by a registered key, yet non-canonical or wrong
# ---------------------------------------------------------------------------
def _int_forms(v: int) -> list[bytes]:
    forms = [msgpack.packb(v)]
    unsigned = [(0xCC, ">B", 2**8), (0xCD, ">H", 2**16), (0xCE, ">I", 2**32),
                (0xCF, ">Q", 2**64)]
    signed = [(0xD0, ">b", 2**7), (0xD1, ">h", 2**15), (0xD2, ">i", 2**31), (0xD3, ">q", 2**63)]
    if v >= 0:
        forms += [bytes([tag]) + struct.pack(fmt, v) for tag, fmt, end in unsigned if v < end]
    forms += [bytes([tag]) + struct.pack(fmt, v) for tag, fmt, end in signed
              if -end <= v < end]
    return list(dict.fromkeys(forms))


def _sized_forms(length: int, fix_base: int | None, fix_max: int,
                 tags: tuple[int, int, int]) -> list[bytes]:
    forms = []
    if fix_base is not None and length <= fix_max:
        forms.append(bytes([fix_base | length]))
    for tag, fmt, end in zip(tags, (">B", ">H", ">I"), (2**8, 2**16, 2**32), strict=True):
        if tag is not None and length < end:
            forms.append(bytes([tag]) + struct.pack(fmt, length))
    return forms


@st.composite
def loose_encoding(draw: st.DrawFn, value: Any) -> bytes:
    """Any msgpack encoding of ``value``: wider headers, other key orders."""
    if value is None or isinstance(value, bool):
        return msgpack.packb(value)
    if isinstance(value, int):
        return draw(st.sampled_from(_int_forms(value)))
    if isinstance(value, str):
        raw = value.encode()
        return draw(st.sampled_from(_sized_forms(len(raw), 0xA0, 31, (0xD9, 0xDA, 0xDB)))) + raw
    if isinstance(value, bytes):
        return draw(st.sampled_from(_sized_forms(len(value), None, 0, (0xC4, 0xC5, 0xC6)))) + value
    if isinstance(value, list):
        header = draw(st.sampled_from(_sized_forms(len(value), 0x90, 15, (None, 0xDC, 0xDD))))
        return header + b"".join(draw(loose_encoding(item)) for item in value)
    assert isinstance(value, dict)
    header = draw(st.sampled_from(_sized_forms(len(value), 0x80, 15, (None, 0xDE, 0xDF))))
    keys = sorted(value, key=lambda k: k.encode())
    if draw(st.booleans()):
        keys = draw(st.permutations(keys))
    return header + b"".join(draw(loose_encoding(k)) + draw(loose_encoding(value[k]))
                             for k in keys)


def _with_float(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


REQUIRED_BODY = ["payment_id", "amount_fen", "paid_on", "method", "voucher_ref", "purpose"]
# What an envelope can hold at all: msgpack has no integers beyond 64 bits (an unbounded
# draw, e.g. [2**64], made the test's own encoder fail, not the server).
INTEGERS = st.integers(min_value=-(2**63), max_value=2**64 - 1)
NOT_TEXT = st.one_of(st.none(), st.booleans(), INTEGERS, st.binary(max_size=8),
                     st.lists(INTEGERS, max_size=2), st.floats(allow_nan=False))
NOT_INT = st.one_of(st.none(), st.booleans(), TEXT, st.binary(max_size=8),
                    st.lists(INTEGERS, max_size=2), st.floats(allow_nan=False))


@st.composite
def wrong_envelopes(draw: st.DrawFn, base: dict[str, Any]
                    ) -> tuple[str, dict[str, Any]]:
    """A canonical envelope map with one defect the server must refuse."""
    env = {**base, "body": dict(base["body"])}
    body = env["body"]
    defect = draw(st.sampled_from([
        "unknown envelope field", "unknown body field", "missing body field",
        "missing envelope field", "body text field not text", "amount not an integer",
        "amount out of range", "enumeration", "date", "version", "type", "stream", "nonce",
        "signed_at", "expect_version", "body not a map", "deep nesting"]))
    if defect == "unknown envelope field":
        env[draw(TEXT.filter(lambda k: k not in env))] = draw(MSGPACK_VALUES.filter(
            lambda v: not isinstance(v, float)))
    elif defect == "unknown body field":
        body[draw(TEXT.filter(lambda k: k not in body and k != "milestone_id"))] = 1
    elif defect == "missing body field":
        del body[draw(st.sampled_from(REQUIRED_BODY))]
    elif defect == "missing envelope field":
        del env[draw(st.sampled_from(["v", "type", "stream", "body", "signed_at", "nonce"]))]
    elif defect == "body text field not text":
        body[draw(st.sampled_from(["payment_id", "paid_on", "method", "voucher_ref",
                                   "purpose", "milestone_id"]))] = draw(
            NOT_TEXT.filter(lambda v: not isinstance(v, float)))
    elif defect == "amount not an integer":
        body["amount_fen"] = draw(NOT_INT.filter(lambda v: not isinstance(v, float)))
    elif defect == "amount out of range":
        body["amount_fen"] = draw(st.sampled_from(
            [0, -1, -(2**63), 2**63, 2**64 - 1, 10**18, 2 * 20_000_000_000]))
    elif defect == "enumeration":
        body[draw(st.sampled_from(["method", "purpose"]))] = draw(
            TEXT.filter(lambda t: t not in ("transfer", "bill", "e_voucher", "principal",
                                            "interest")))
    elif defect == "date":
        body["paid_on"] = draw(st.one_of(TEXT, st.sampled_from(
            ["2026-02-30", "2026-13-01", "0000-00-00", "2026-8-1", "2026-08-01\n",
             "2026-08-01T00:00:00Z", "\u0662\u0660\u0662\u0666-08-01"])))
    elif defect == "version":
        env["v"] = draw(st.one_of(INTEGERS.filter(lambda v: v != 1), st.just(True),
                                  TEXT, st.none()))
    elif defect == "type":
        env["type"] = draw(st.one_of(TEXT, st.sampled_from(
            ["payment.refunded", "contract.signed", "PAYMENT.MADE", "payment.made "])))
    elif defect == "stream":
        env["stream"] = draw(st.one_of(TEXT, st.sampled_from(
            ["contract/R0\n", "contract/", "contract/R0/x", "commitment/R0", "reference/x",
             "party/R0", "contract/NOPE", "contract/../R0"])))
    elif defect == "nonce":
        env["nonce"] = draw(st.one_of(st.binary(max_size=32).filter(lambda b: len(b) != 16),
                                      TEXT, INTEGERS))
    elif defect == "signed_at":
        env["signed_at"] = draw(st.one_of(TEXT, st.sampled_from(
            ["2026-02-30T00:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
             "2026-11-25T08:00:00+08:00", "2026-11-25T08:00:00Z\n"])))
    elif defect == "expect_version":
        env["expect_version"] = draw(st.one_of(
            st.integers(min_value=-(2**63), max_value=2**64 - 1).filter(lambda v: v != 1),
            st.booleans(), TEXT))
    elif defect == "body not a map":
        env["body"] = draw(NOT_TEXT.filter(lambda v: not isinstance(v, float)))
    else:
        nested: Any = "x"
        for _ in range(draw(st.integers(min_value=2, max_value=40))):
            nested = [nested]
        body["voucher_ref"] = nested
    return defect, env


def canonical_unbounded(value: Any) -> bytes:
    """Canonical msgpack without the encoder's depth limit (keys sorted, smallest forms)."""
    def sort(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: sort(v[k]) for k in sorted(v, key=lambda k: k.encode())}
        if isinstance(v, list):
            return [sort(x) for x in v]
        return v
    return msgpack.packb(sort(value), use_bin_type=True)


def signed(site: Site, envelope: bytes) -> Submission:
    return Submission(envelope, site.finance.sign(signing_message(envelope)))


def base_envelope(site: Site, n: int) -> dict[str, Any]:
    return {"v": 1, "type": "payment.made", "stream": "contract/R0",
            "body": payment_body(f"hostile-{n}"), "signer": site.finance.name,
            "signed_at": now_utc().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": n.to_bytes(16, "big")}


def test_signed_hostile_envelopes(hostile: Hostile) -> None:
    """Validly signed by the finance bureau's registered key: non-canonical encodings of
    a valid payment (400 non_canonical) and canonical envelopes with one defect each."""
    tally, client, site = Tally(), Client(hostile.port), hostile.site
    defects: Counter[str] = Counter()
    counter = iter(range(10**6, 10**7))

    @settings(max_examples=SIGNED_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data(), as_msgpack=st.booleans())
    def run(data: st.DataObject, as_msgpack: bool) -> None:
        env = base_envelope(site, next(counter))
        canonical = encode(env)
        loose = data.draw(loose_encoding(env))
        if loose == canonical:  # make sure at least the key order deviates
            loose = msgpack.packb(dict(reversed(list(env.items()))), use_bin_type=True)
        defect, wrong = data.draw(wrong_envelopes(base_envelope(site, next(counter))))
        cases = [("non-canonical", loose, "non_canonical"),
                 (defect, canonical_unbounded(wrong), None),
                 ("float", _with_float({**env, "v": 1.0}), "non_canonical"),
                 ("trailing byte", canonical + b"\x00", "non_canonical")]
        for name, envelope, code in cases:
            sub = signed(site, envelope)
            if as_msgpack:
                payload = msgpack.packb(sub.to_msgpack_map(), use_bin_type=True)
                content_type = "application/msgpack"
            else:
                payload, content_type = json.dumps(sub.to_json_map()).encode(), "application/json"
            status, got_type, answer = client.send("POST", "/v1/events", payload, content_type)
            tally.check(f"{name}: {envelope[:120]!r}", status, got_type, answer)
            defects[name] += 1
            assert 400 <= status < 500, f"{name} answered {status}: {answer[:200]!r}"
            if code is not None:
                assert json.loads(answer)["code"] == code, (name, answer[:200])

    try:
        run()
    finally:
        client.close()
    finish(hostile, tally, SIGNED_EXAMPLES * 4)
    assert len(defects) >= 15, defects


# ---------------------------------------------------------------------------
# 4. Oversize bodies, broken framing, known gaps
# ---------------------------------------------------------------------------
def test_oversize_bodies(hostile: Hostile) -> None:
    tally, client = Tally(), Client(hostile.port)
    try:
        for path in ("/v1/events", "/v1/events/batch"):
            for content_type in ("application/json", "application/msgpack", "text/plain"):
                for size in ((1 << 20) + 1, 3 << 20):
                    status, got_type, data = client.send("POST", path, b"[" * size,
                                                         content_type)
                    tally.check(f"{size} bytes to {path}", status, got_type, data)
                    assert status in (413, 415), status
    finally:
        client.close()
    finish(hostile, tally, 12)


FRAMING = [
    b"GARBAGE\r\n\r\n",
    b"GET /v1/\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
    b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 3\r\n\r\n0\r\n\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
    b"GET /v1/log/entries/\xd9\xa3 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
]


def raw_exchange(port: int, request: bytes) -> tuple[int, str]:
    """Send bytes, read one response's status line and Content-Type."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert head[0].startswith("HTTP/"), f"no HTTP answer to {request[:60]!r}: {data[:100]!r}"
    status = int(head[0].split(" ", 2)[1])
    content_type = next((line.split(":", 1)[1].strip() for line in head[1:]
                         if line.lower().startswith("content-type:")), "")
    return status, content_type


def test_broken_http_framing_never_5xx(hostile: Hostile) -> None:
    tally = Tally()
    for request in FRAMING:
        status, _ = raw_exchange(hostile.port, request)
        tally.sent += 1
        tally.statuses[status] += 1
        assert 400 <= status < 500, (request[:60], status)
    finish(hostile, tally, len(FRAMING))


def test_broken_http_framing_answered_as_problem_json(hostile: Hostile) -> None:
    answers = [raw_exchange(hostile.port, request) for request in FRAMING]
    assert all(content_type.startswith(PROBLEM) for _, content_type in answers), answers


@pytest.mark.parametrize("digit", ["\u0663", "\u00b2", "\u2463", "\uff13", "\U0001d7d1"])
def test_non_ascii_digits_in_integer_parameters(hostile: Hostile, digit: str) -> None:
    client = Client(hostile.port)
    try:
        for target in (f"/v1/log/entries/{quote(digit)}",
                       f"/v1/log/proof/inclusion?index={quote(digit)}",
                       f"/v1/log/proof/consistency?from={quote(digit)}",
                       f"/v1/streams/contract/R0?at={quote(digit)}"):
            status, content_type, _ = client.send("GET", target)
            assert (status, content_type.split(";")[0]) == (400, PROBLEM), (target, status)
    finally:
        client.close()
