"""``ledger post FILE|-``: sign (when needed) and record events in batches, writing receipts.

Input, detected from the file name or its first byte (``--format`` to force):

- **msgpack** or **JSON**: one submission ``{envelope, signature}`` or an array of them
  (posted as they are), and/or unsigned event descriptions ``{type, stream, body
  [, expect_version, signed_at, nonce]}`` signed here with ``--key FILE``;
- **CSV of payments**, one ``payment.made`` per row, signed with ``--key FILE`` (the
  finance department's key): the columns a treasury payment export carries —

  ==================  =========================================================
  ``contract_id``     the contract paid (stream ``contract/<contract_id>``)
  ``payment_id``      the treasury's payment number, unique within the contract
  ``milestone_id``    optional: empty = allocated to the earliest-due milestone
  ``amount`` or       yuan with exactly two decimals (``1480000.00``,
  ``amount_fen``      ``1,480,000.00``) or integer fen (``148000000``); one of them
  ``paid_on``         the value date, ``YYYY-MM-DD``
  ``method``          ``transfer`` | ``bill`` | ``e_voucher``
  ``voucher_ref``     the payment voucher number
  ``purpose``         optional: ``principal`` (default) | ``interest``
  ==================  =========================================================

  Amounts are parsed as text into integer fen; floats never appear. A header with other
  columns is refused unless ``--allow-extra-columns``.

Batches of ``--batch-size`` (default 500) go to ``/v1/events/batch`` (all-or-nothing
each); one receipt per event is written as a JSON line to ``--receipts FILE`` (appended)
or stdout.

Re-running after an interruption records nothing twice. The server answers an identical
envelope with its original receipt, and Ed25519 signatures are deterministic, so a re-run
only has to rebuild byte-identical envelopes:

- the body comes from the row; the nonce is derived from it: SHA-256 over a domain
  string, the signer, the stream and the ``payment_id``, cut to 16 bytes — the payment's
  identity, whatever file it arrives in (a payment re-exported later with other content is
  refused as a reused nonce, never recorded twice). Described events get
  SHA-256(domain, signer, SHA-256 of the canonical encoding of their type, stream, body
  and expect_version, how many identical ones precede them in the input) instead: their
  own content, so that a file corrected and run again keeps the nonces of the items it
  did not change (those already recorded are recognised, not recorded again);
- ``signed_at`` is fixed per input: ``--signed-at``, else the value remembered for this
  file and signer (state dir, ``post/``), else the one in ``--receipts`` of an earlier run
  of this input (a receipt for one of its items by the same signer), else now (then
  remembered). The server refuses a ``signed_at``
  older than its acceptance window (7 days by default) for events it has not recorded
  yet; identical envelopes it already holds are answered before that check. So an
  interrupted run must be finished within the window; after that, finish it with
  ``--signed-at now`` (rows already receipted are skipped by their nonce).

Rows whose (signer, nonce) already has a receipt in ``--receipts`` are skipped, unless
what they say (type, stream, body) differs from what that receipt recorded: such a row is
named as refused and not posted (a recorded event stays as it was), and the run exits 2.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from .. import encoding
from ..catalogue import validate_event
from ..client import LedgerClient, ServerRefused
from ..envelope import Submission, parse_json, parse_msgpack_wire, sign_envelope
from ..errors import InvalidInput, LedgerError
from ..keys import SignerKey
from ..timeutil import looks_like_instant, parse_instant
from .common import (
    EXIT_OK,
    EXIT_USAGE,
    add_json_option,
    add_progress_option,
    add_server_option,
    client_for,
    guarded,
    note,
    now_instant,
    print_json,
    progress_bar,
    signer_key_from,
    wants_json,
)
from .state import SignedAtMemory

NAME = "post"
DEFAULT_BATCH = 500
MAX_BATCH = 1000
CSV_NONCE_DOMAIN = b"commitment-ledger/post/csv-payment-nonce/v1\n"
DESCRIPTION_NONCE_DOMAIN = b"commitment-ledger/post/description-nonce/v2\n"
CSV_REQUIRED = ("contract_id", "payment_id", "paid_on", "method", "voucher_ref")
CSV_OPTIONAL = ("milestone_id", "purpose", "amount", "amount_fen")
DESCRIPTION_FIELDS = {"type", "stream", "body", "expect_version", "signed_at", "nonce"}
_YUAN = re.compile(r"^(?P<whole>\d{1,3}(?:,\d{3})+|\d+)\.(?P<cents>\d{2})$")
_FEN = re.compile(r"^\d+$")
WINDOW_WARNING = timedelta(days=6)


class PostRefused(LedgerError):
    """A batch the server refused; nothing of it was recorded."""

    status = 422
    code = "post_refused"
    title = "Batch refused"


@dataclass
class Item:
    """One event to record, with what identifies it in the input."""

    label: str
    submission: Submission
    signer: str
    nonce: bytes
    signed_at: str
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, label: str, submission: Submission, source: dict[str, Any]) -> Item:
        try:
            envelope = submission.decode()
        except LedgerError as error:
            raise InvalidInput(f"{label}: {error.message}") from error
        return cls(label, submission, envelope.signer, envelope.nonce, envelope.signed_at,
                   source)

    @property
    def content_sha256(self) -> str:
        """What the event says (type, stream, body, expect_version), apart from when it
        was signed: a re-run compares it with what its receipt recorded."""
        envelope = self.submission.decode()
        return hashlib.sha256(event_identity(envelope.type, envelope.stream, envelope.body,
                                             envelope.expect_version)).hexdigest()

    def receipt_line(self, receipt: dict[str, Any]) -> dict[str, Any]:
        return {**self.source, "signer": self.signer, "nonce": self.nonce.hex(),
                "signed_at": self.signed_at,
                "envelope_sha256": self.submission.envelope_sha256.hex(),
                "content_sha256": self.content_sha256, **receipt}


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------
def read_input(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).expanduser().read_bytes()


def detect_format(name: str, data: bytes) -> str:
    suffix = Path(name).suffix.lower() if name != "-" else ""
    if suffix in (".csv", ".json", ".msgpack"):
        return suffix[1:]
    if suffix == ".mpk":
        return "msgpack"
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return "json"
    if data[:1] and (0x80 <= data[0] <= 0x9F or data[0] in (0xDC, 0xDD, 0xDE, 0xDF)):
        return "msgpack"
    return "csv"


def parse_yuan(text: str) -> int:
    """``"1,480,000.00"`` -> 148000000 fen, exactly (text arithmetic, no floats)."""
    match = _YUAN.match(text)
    if match is None:
        raise InvalidInput(f"amount {text!r} must be yuan with exactly two decimals, "
                           "like 1480000.00 or 1,480,000.00")
    return int(match["whole"].replace(",", "")) * 100 + int(match["cents"])


@dataclass(frozen=True, slots=True)
class PaymentRow:
    line: int
    contract_id: str
    body: dict[str, Any]

    @property
    def stream(self) -> str:
        return f"contract/{self.contract_id}"


def parse_payments_csv(data: bytes, *, allow_extra_columns: bool = False) -> list[PaymentRow]:
    """Rows of a treasury payment export, each checked against the event schema."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the CSV is not UTF-8: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV is empty") from None
    columns = [name.strip().lower() for name in header]
    missing = [c for c in CSV_REQUIRED if c not in columns]
    if missing:
        raise InvalidInput(f"CSV header lacks column(s) {', '.join(missing)}; expected "
                           f"{', '.join(CSV_REQUIRED)}, amount or amount_fen, and optionally "
                           "milestone_id, purpose")
    amounts = [c for c in ("amount", "amount_fen") if c in columns]
    if len(amounts) != 1:
        raise InvalidInput("the CSV needs exactly one of the columns amount (yuan, two "
                           "decimals) and amount_fen (integer fen)")
    extra = [c for c in columns if c not in CSV_REQUIRED + CSV_OPTIONAL]
    if extra and not allow_extra_columns:
        raise InvalidInput(f"unknown CSV column(s) {', '.join(extra)}; pass "
                           "--allow-extra-columns to ignore them")
    if len(set(columns)) != len(columns):
        raise InvalidInput("the CSV header repeats a column")
    rows: list[PaymentRow] = []
    seen: dict[tuple[str, str], int] = {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            raise InvalidInput(f"row {line}: {len(record)} cells, the header has "
                               f"{len(columns)}")
        cells = {name: value.strip() for name, value in zip(columns, record, strict=True)}
        row = _payment_row(line, cells, amounts[0])
        key = (row.contract_id, row.body["payment_id"])
        if key in seen:
            raise InvalidInput(f"row {line}: payment {key[1]} of contract {key[0]} already "
                               f"appears in row {seen[key]}")
        seen[key] = line
        rows.append(row)
    if not rows:
        raise InvalidInput("the CSV has a header but no rows")
    return rows


def _payment_row(line: int, cells: dict[str, str], amount_column: str) -> PaymentRow:
    raw_amount = cells[amount_column]
    try:
        if amount_column == "amount":
            amount_fen = parse_yuan(raw_amount)
        elif _FEN.match(raw_amount):
            amount_fen = int(raw_amount)
        else:
            raise InvalidInput(f"amount_fen {raw_amount!r} must be an integer number of fen")
    except InvalidInput as error:
        raise InvalidInput(f"row {line}: {error.message}") from error
    body: dict[str, Any] = {
        "payment_id": cells["payment_id"], "amount_fen": amount_fen,
        "paid_on": cells["paid_on"], "method": cells["method"],
        "voucher_ref": cells["voucher_ref"], "purpose": cells.get("purpose") or "principal",
    }
    if cells.get("milestone_id"):
        body["milestone_id"] = cells["milestone_id"]
    row = PaymentRow(line, cells["contract_id"], body)
    columns = {"body.amount_fen": amount_column, "stream": "contract_id"}
    try:
        _spec, deferred = validate_event("payment.made", row.stream, body)
        if deferred:
            raise deferred[0]
    except LedgerError as error:
        name = str(error.detail.get("field", ""))
        column = columns.get(name, name.removeprefix("body."))
        raise InvalidInput(f"row {line}, column {column or '?'}: {error.message}") from error
    return row


def csv_nonce(signer: str, stream: str, payment_id: str) -> bytes:
    material = "\n".join((signer, stream, payment_id)).encode()
    return hashlib.sha256(CSV_NONCE_DOMAIN + material).digest()[:16]


def description_nonce(signer: str, identity: bytes, occurrence: int) -> bytes:
    """The nonce of a described event: its own content (``identity``: the canonical
    encoding of its type, stream, body and expect_version) and how many identical ones
    come before it in the input, so that editing another item does not change it."""
    material = (signer.encode() + b"\n" + hashlib.sha256(identity).digest()
                + occurrence.to_bytes(8, "big"))
    return hashlib.sha256(DESCRIPTION_NONCE_DOMAIN + material).digest()[:16]


def event_identity(type_: Any, stream: Any, body: Any, expect_version: Any) -> bytes:
    """What an event says, apart from who signed it when: the canonical encoding of its
    type, stream, body and expect_version."""
    return encoding.encode({"type": type_, "stream": stream, "body": body,
                            "expect_version": expect_version})


def description_identity(element: dict[str, Any]) -> bytes:
    """The identity of a described event (b"" for one that cannot be encoded: signing it
    fails with the reason)."""
    try:
        return event_identity(element.get("type"), element.get("stream"), element.get("body"),
                              element.get("expect_version"))
    except LedgerError:
        return b""


def items_from_csv(rows: Sequence[PaymentRow], key: SignerKey, signed_at: str) -> list[Item]:
    items = []
    for row in rows:
        payment_id = row.body["payment_id"]
        submission = sign_envelope(key, "payment.made", row.stream, row.body,
                                   signed_at=signed_at,
                                   nonce=csv_nonce(key.name, row.stream, payment_id))
        items.append(Item(f"row {row.line} ({row.contract_id} {payment_id})", submission,
                          key.name, csv_nonce(key.name, row.stream, payment_id), signed_at,
                          {"row": row.line, "contract_id": row.contract_id,
                           "payment_id": payment_id}))
    return items


def items_from_document(document: Any, key: SignerKey | None, signed_at: str | None,
                        nonces: dict[int, bytes] | None = None) -> list[Item]:
    """Submissions (posted as they are) and descriptions (signed with ``key``, with
    ``nonces`` from :func:`description_nonces`, derived here when not given)."""
    elements = as_elements(document)
    if not elements:
        raise InvalidInput("the input holds no events")
    items = []
    if nonces is None:
        nonces = description_nonces(elements, key.name) if key is not None else {}
    for position, element in enumerate(elements):
        label = f"item {position}"
        if not isinstance(element, dict):
            raise InvalidInput(f"{label}: expected a submission or an event description")
        if "envelope" in element or "signature" in element:
            try:
                submission = Submission.from_wire(element)
            except LedgerError as error:
                raise InvalidInput(f"{label}: {error.message}") from error
        else:
            if key is None:
                raise InvalidInput(f"{label} is an unsigned event description; give --key "
                                   "FILE to sign it")
            assert signed_at is not None
            submission = _sign_description(label, element, key, signed_at, nonces[position])
        items.append(Item.of(label, submission, {"item": position}))
    return items


def description_nonces(elements: Sequence[Any], signer: str) -> dict[int, bytes]:
    """The nonce of each event description, by position: from its own content and how
    many identical ones precede it (submissions, already signed, have none here)."""
    nonces: dict[int, bytes] = {}
    seen: dict[bytes, int] = {}
    for position, element in enumerate(elements):
        if _is_description(element):
            identity = description_identity(element)
            occurrence = seen.get(identity, 0)
            seen[identity] = occurrence + 1
            nonces[position] = description_nonce(signer, identity, occurrence)
    return nonces


def as_elements(document: Any) -> list[Any]:
    return document if isinstance(document, list) else [document]


def nonces_signed(elements: Sequence[Any], derived: dict[int, bytes]) -> set[bytes]:
    """The nonces the descriptions will be signed with: their own ``nonce`` where they
    give one (checked when signed), else the derived one."""
    nonces = set()
    for position, nonce in derived.items():
        own = elements[position].get("nonce")
        try:
            nonces.add(bytes.fromhex(own) if isinstance(own, str) else nonce)
        except ValueError:
            nonces.add(nonce)
    return nonces


def _sign_description(label: str, element: dict[str, Any], key: SignerKey, signed_at: str,
                      derived_nonce: bytes) -> Submission:
    unknown = sorted(set(element) - DESCRIPTION_FIELDS, key=repr)  # keys may mix text, bin
    if unknown:
        raise InvalidInput(f"{label}: unknown field {unknown[0]!r}; a description holds "
                           "type, stream, body and optionally expect_version, signed_at, nonce")
    for name in ("type", "stream", "body"):
        if name not in element:
            raise InvalidInput(f"{label}: field {name!r} is missing")
    own_signed_at = element.get("signed_at", signed_at)
    if not isinstance(own_signed_at, str) or not looks_like_instant(own_signed_at):
        raise InvalidInput(f"{label}: signed_at must be an RFC 3339 UTC instant")
    nonce = derived_nonce
    if "nonce" in element:
        try:
            nonce = bytes.fromhex(element["nonce"])
        except (TypeError, ValueError):
            nonce = b""
        if len(nonce) != 16:
            raise InvalidInput(f"{label}: nonce must be 32 hex digits (16 bytes)")
    expect = element.get("expect_version")
    if expect is not None and (isinstance(expect, bool) or not isinstance(expect, int)):
        raise InvalidInput(f"{label}: expect_version must be an integer")
    try:
        return sign_envelope(key, element["type"], element["stream"], element["body"],
                             signed_at=own_signed_at, nonce=nonce, expect_version=expect)
    except LedgerError as error:
        raise InvalidInput(f"{label}: {error.message}") from error


# ---------------------------------------------------------------------------
# Receipts
# ---------------------------------------------------------------------------
class ReceiptsFile:
    """Receipts as JSON lines; an earlier run's lines tell what is already recorded."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lines: list[dict[str, Any]] = []
        self._handle: IO[str] | None = None
        if path is not None and path.exists():
            self.lines = self._load(path)

    @staticmethod
    def _load(path: Path) -> list[dict[str, Any]]:
        data = path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        tail = data[len(complete):]
        lines = []
        for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number} is not a receipt line: {exc}") from exc
            if isinstance(record, dict):
                lines.append(record)
        if tail:
            # A run killed while writing leaves half a line: drop it (its event, if
            # recorded, is answered again with the same receipt). Only once every whole
            # line has been read as a receipt line, and only what a receipt line starts
            # with: a file that is no receipts file is refused untouched.
            if not tail.startswith(b"{"):
                raise InvalidInput(f"{path}: its last line is not a receipt line")
            with path.open("r+b") as handle:
                handle.truncate(len(complete))
        return lines

    def recorded(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Receipt lines by (signer, nonce hex)."""
        return {(str(r.get("signer")), str(r.get("nonce"))): r for r in self.lines
                if "leaf_index" in r}

    def signed_at_of(self, signer: str, nonces: set[bytes]) -> str | None:
        """The ``signed_at`` of the latest receipt for one of ``nonces`` (the items of
        this input) by this signer: an earlier run of this input. Receipts of other
        inputs in the same file do not count (a new file took an old file's signed_at,
        and was refused once that was older than the server's acceptance window)."""
        wanted = {nonce.hex() for nonce in nonces}
        for record in reversed(self.lines):
            if record.get("signer") == signer and record.get("nonce") in wanted:
                value = record.get("signed_at")
                return value if isinstance(value, str) else None
        return None

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for r in records)
        if self.path is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(text)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


# ---------------------------------------------------------------------------
# Posting
# ---------------------------------------------------------------------------
@dataclass
class PostResult:
    posted: int = 0
    already: int = 0  # in batches the server answered 200: all of them recorded before
    skipped: int = 0
    batches: int = 0
    rejected: list[tuple[Item, dict[str, Any]]] = field(default_factory=list)


def post_items(client: LedgerClient, items: Sequence[Item], receipts: ReceiptsFile, *,
               batch_size: int, keep_going: bool, progress: Any = None) -> PostResult:
    result = PostResult()
    done = receipts.recorded()
    pending = []
    for item in items:
        receipt = done.get((item.signer, item.nonce.hex()))
        if receipt is None:
            pending.append(item)
        elif receipt.get("content_sha256") not in (None, item.content_sha256):
            # The same payment (its nonce) with other content than was recorded: the
            # server would refuse it as a reused nonce; say so rather than skip it.
            result.rejected.append((item, {
                "title": "changed since recorded",
                "detail": f"recorded before with other content (leaf "
                          f"{receipt.get('leaf_index')}, which stays as recorded); not "
                          "posted"}))
        else:
            result.skipped += 1
    task = progress.add_task("posting", total=len(pending)) if progress is not None else None
    for start in range(0, len(pending), batch_size):
        batch = pending[start:start + batch_size]
        status, accepted = _post_batch(client, batch, keep_going, result)
        receipts.write([item.receipt_line(receipt) for item, receipt in accepted])
        result.posted += len(accepted)
        if status == 200:
            result.already += len(accepted)
        result.batches += 1
        if progress is not None:
            progress.advance(task, len(batch))
    return result


def _post_batch(client: LedgerClient, batch: list[Item], keep_going: bool,
                result: PostResult) -> tuple[int, list[tuple[Item, dict[str, Any]]]]:
    """(HTTP status, receipts) of one batch; refused items dropped with --keep-going."""
    while batch:
        try:
            status, receipts = client.post_batch([item.submission for item in batch])
        except ServerRefused as refused:
            failed = {int(e["index"]): e for e in refused.item_errors
                      if isinstance(e.get("index"), int) and 0 <= e["index"] < len(batch)}
            if not failed or refused.http_status >= 500:
                raise
            if not keep_going:
                lines = "\n".join(f"  {batch[i].label}: {_reason(e)}"
                                  for i, e in sorted(failed.items()))
                raise PostRefused(f"the server refused a batch; nothing of it was recorded:"
                                  f"\n{lines}\nfix these and run the same command again "
                                  "(receipted events are skipped), or pass --keep-going") \
                    from refused
            result.rejected += [(batch[i], e) for i, e in sorted(failed.items())]
            batch = [item for i, item in enumerate(batch) if i not in failed]
            continue
        return status, list(zip(batch, receipts, strict=True))
    return 0, []


def _reason(problem: dict[str, Any]) -> str:
    status = problem.get("status", "")
    return f"{status} {problem.get('detail') or problem.get('title') or problem}".strip()


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME, help="record events from a file: msgpack, JSON or a CSV of payments",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="CSV columns: contract_id, payment_id, [milestone_id], amount (yuan, 2 "
               "decimals) or amount_fen, paid_on, method, voucher_ref, [purpose]. Re-running "
               "after an interruption records nothing twice (see the README).")
    p.add_argument("file", help="input file, or - for stdin")
    p.add_argument("--format", choices=("auto", "json", "msgpack", "csv"), default="auto")
    p.add_argument("--key", metavar="FILE", help="signer key for CSV rows and descriptions")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                   help=f"events per batch request (default {DEFAULT_BATCH}, "
                        f"at most {MAX_BATCH})")
    p.add_argument("--receipts", metavar="FILE",
                   help="append receipts (JSON lines) here instead of stdout; an earlier "
                        "run's receipts make this run skip what is recorded")
    p.add_argument("--signed-at", metavar="INSTANT",
                   help="signed_at for what is signed here (RFC 3339 UTC, or 'now')")
    p.add_argument("--keep-going", action="store_true",
                   help="leave refused events out of their batch and post the rest")
    p.add_argument("--allow-extra-columns", action="store_true",
                   help="ignore CSV columns other than the documented ones")
    p.add_argument("--sign-only", action="store_true",
                   help="print the signed submissions as a JSON array instead of posting")
    add_server_option(p)
    add_progress_option(p)
    add_json_option(p)


@guarded
def run(args: argparse.Namespace) -> int:
    if not 1 <= args.batch_size <= MAX_BATCH:
        raise InvalidInput(f"--batch-size must be 1..{MAX_BATCH}")
    data = read_input(args.file)
    fmt = detect_format(args.file, data) if args.format == "auto" else args.format
    content_sha256 = hashlib.sha256(data).hexdigest()
    key = signer_key_from(args.key) if args.key else None
    receipts = ReceiptsFile(Path(args.receipts) if args.receipts else None)
    if fmt == "csv":
        rows = parse_payments_csv(data, allow_extra_columns=args.allow_extra_columns)
        if key is None:
            raise InvalidInput("a CSV of payments is signed here: give --key FILE (the "
                               "finance department's key)")
        signed_at = choose_signed_at(
            args.signed_at, key.name, content_sha256, args.file, receipts,
            {csv_nonce(key.name, row.stream, row.body["payment_id"]) for row in rows})
        items = items_from_csv(rows, key, signed_at)
    else:
        document = parse_msgpack_wire(data) if fmt == "msgpack" else parse_json(data)
        signed_at, derived = None, None
        if key is not None and _has_descriptions(document):
            elements = as_elements(document)
            derived = description_nonces(elements, key.name)
            signed_at = choose_signed_at(
                args.signed_at, key.name, content_sha256, args.file, receipts,
                nonces_signed(elements, derived))
        items = items_from_document(document, key, signed_at, derived)
    if args.sign_only:
        print_json([item.submission.to_json_map() for item in items])
        return EXIT_OK
    try:
        with client_for(args) as client, progress_bar(args, "events") as progress:
            result = post_items(client, items, receipts, batch_size=args.batch_size,
                                keep_going=args.keep_going, progress=progress)
    finally:
        receipts.close()
    return _summarise(args, result, len(items))


def _has_descriptions(document: Any) -> bool:
    return any(_is_description(e) for e in as_elements(document))


def _is_description(element: Any) -> bool:
    """An event to sign here, not a submission signed already."""
    return isinstance(element, dict) and "envelope" not in element \
        and "signature" not in element


def choose_signed_at(flag: str | None, signer: str, content_sha256: str, source: str,
                     receipts: ReceiptsFile | None, nonces: set[bytes]) -> str:
    """The run's ``signed_at`` (see the module docstring for the order)."""
    memory = SignedAtMemory(signer, content_sha256)
    if flag is not None:
        chosen = now_instant() if flag == "now" else flag
        if not looks_like_instant(chosen):
            raise InvalidInput(f"--signed-at {flag!r} must be an RFC 3339 UTC instant like "
                               "2026-11-25T08:00:00Z, or 'now'")
        memory.put(chosen, source)
        return chosen
    remembered = memory.get()
    if remembered is None and receipts is not None:
        remembered = receipts.signed_at_of(signer, nonces)
        if remembered is not None:
            memory.put(remembered, source)  # this input keeps it, receipts or not
    if remembered is None:
        chosen = now_instant()
        memory.put(chosen, source)
        return chosen
    chosen = remembered
    age = datetime.now(UTC) - parse_instant(chosen)
    if age > WINDOW_WARNING:
        note(f"warning: signing with signed_at {chosen} from the first run, {age.days} days "
             "ago; the server refuses events it has not recorded yet once signed_at is older "
             "than its acceptance window (7 days by default). If it does, run again with "
             "--signed-at now.")
    return chosen


def _summarise(args: argparse.Namespace, result: PostResult, total: int) -> int:
    where = args.receipts or "stdout"
    summary = {"events": total, "posted": result.posted, "already_recorded": result.already,
               "skipped": result.skipped, "batches": result.batches,
               "rejected": len(result.rejected), "receipts": where}
    again = (f" ({result.already} of them recorded before: answered with their original "
             "receipts)" if result.already else "")
    note(f"{result.posted} event(s) posted in {result.batches} batch(es){again}; "
         f"{result.skipped} already had receipts; receipts: {where}")
    for item, problem in result.rejected:
        note(f"  refused {item.label}: {_reason(problem)}")
    if wants_json(args) and args.receipts:
        print_json(summary)
    return EXIT_USAGE if result.rejected else EXIT_OK

