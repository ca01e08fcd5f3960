"""What the client commands share: exit codes, error mapping, options, output helpers.

Exit codes are the contract of DESIGN 7 (the same numbers as ``ledger.cli``; kept here so
this package never imports ``ledger.cli``, which imports it):
0 verified / done, 1 verification failed or evidence of tampering, 2 usage or input
error, 3 server unreachable (or failing with a 5xx).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from .. import timeutil
from ..client import (
    LedgerClient,
    ServerRefused,
    ServerUnreachable,
    default_server,
    unavailable,
)
from ..errors import InvalidInput, LedgerError, VerificationError
from ..keys import SignerKey, VerifierKey

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

Runner = Callable[[argparse.Namespace], int]


def guarded(run: Runner) -> Runner:
    """Map the errors a command can meet to the documented exit codes, with one clear line."""

    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ServerUnreachable as error:
            fail(error.message)
            return EXIT_UNREACHABLE
        except ServerRefused as error:
            fail(f"server refused: {error.message}")
            return EXIT_UNREACHABLE if unavailable(error) else EXIT_USAGE
        except VerificationError as error:
            fail(f"VERIFICATION FAILED: {error.message}")
            return EXIT_FAILED
        except LedgerError as error:
            fail(error.message)
            return EXIT_USAGE
        except FileNotFoundError as error:
            fail(f"no such file: {error.filename}")
            return EXIT_USAGE
        except (IsADirectoryError, PermissionError) as error:
            fail(f"cannot read {error.filename}: {error.strerror}")
            return EXIT_USAGE
        except UnicodeDecodeError as error:  # a key or receipts file of another encoding
            fail(f"cannot read text that is not UTF-8 ({error.reason} at byte {error.start})")
            return EXIT_USAGE
        except sqlite3.DatabaseError as error:  # --database naming a file of another kind
            fail(f"the database cannot be read: {error}")
            return EXIT_USAGE

    return wrapper


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def note(message: str) -> None:
    print(message, file=sys.stderr)


# Options -------------------------------------------------------------------------
def add_json_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps ``ledger --json <command>`` working: the subparser's default would
    # otherwise overwrite the global flag.
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")


def add_server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=None,
                        help="ledger server URL (LEDGER_SERVER, default http://127.0.0.1:8080)")


def add_log_key_option(parser: argparse.ArgumentParser, *, required_text: str = "") -> None:
    parser.add_argument(
        "--log-key", default=None, metavar="VKEY",
        help="the log's public key: a vkey string, or a file holding one (LEDGER_LOG_KEY)"
             + required_text)


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (it is shown only on a terminal anyway)")


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def client_for(args: argparse.Namespace) -> LedgerClient:
    return LedgerClient(getattr(args, "server", None) or default_server())


def log_key_from(value: str | None) -> VerifierKey | None:
    """``--log-key`` / ``LEDGER_LOG_KEY``: a vkey, a file with a vkey, or a private key file."""
    text = value or os.environ.get("LEDGER_LOG_KEY") or ""
    if not text:
        return None
    candidate = Path(text).expanduser()
    if "+" not in text or candidate.is_file():
        if not candidate.is_file():
            raise InvalidInput(f"--log-key {text!r} is neither a vkey nor a readable file")
        text = candidate.read_text().strip()
        if text.startswith("PRIVATE+KEY+"):
            return SignerKey.read(candidate).verifier
    return VerifierKey.parse(text)


def require_log_key(value: str | None) -> VerifierKey:
    key = log_key_from(value)
    if key is None:
        raise InvalidInput("give the log's public key with --log-key VKEY (or LEDGER_LOG_KEY); "
                           "get it from the operator, not from the server you are checking")
    return key


def signer_key_from(path: str | None, what: str = "--key") -> SignerKey:
    if not path:
        raise InvalidInput(f"{what} FILE is required to sign")
    return SignerKey.read(Path(path).expanduser())


def parse_business_date(text: str | None, what: str = "--as-of") -> date:
    """A business date ``YYYY-MM-DD``; without one, today in China Standard Time."""
    if text is None:
        return datetime.now(CHINA_STANDARD_TIME).date()
    try:
        return timeutil.parse_business_date(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} must be a date YYYY-MM-DD from "
                           f"{timeutil.FIRST_DATE} to {timeutil.LAST_DATE}") from None


def now_instant() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# Output --------------------------------------------------------------------------
def print_json(value: Any, stream: IO[str] | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
    out.flush()


def yuan(fen: int | None) -> str:
    """Integer fen as yuan with two decimals and thousands separators (no floats)."""
    if fen is None:
        return "-"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def progress_bar(args: argparse.Namespace, unit: str) -> Any:
    """A rich progress bar on stderr, or a silent stand-in when it would not be seen."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = stderr_console()
    disabled = bool(getattr(args, "no_progress", False)) or not console.is_terminal
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn(unit), TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=disabled, transient=False,
    )
