"""``ledger export ocds``: the log's contracts as an OCDS 1.1 release package.

Reads the whole log — from a server's entry bundles up to its latest checkpoint (whose
signature and root are checked when ``--log-key`` is given), or from a database — and
writes one release per contract (:mod:`ledger.ocds`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import merkle
from ..application import logged_event
from ..errors import InvalidInput, VerificationError
from ..ocds import DEFAULT_PREFIX, DEFAULT_SCHEME, PackageBuilder, dumps
from ..verify import verify_checkpoint
from .common import (
    EXIT_OK,
    add_log_key_option,
    add_progress_option,
    client_for,
    guarded,
    log_key_from,
    note,
    progress_bar,
)

NAME = "export"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="export contracts as OCDS 1.1 release packages",
                              description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("format", choices=("ocds",))
    source = p.add_mutually_exclusive_group()
    source.add_argument("--server", default=None,
                        help="ledger server URL (LEDGER_SERVER, default http://127.0.0.1:8080)")
    source.add_argument("--database", metavar="URL",
                        help="read a database instead (sqlite:////abs/path or postgresql://...)")
    add_log_key_option(p, required_text="; with it the entries are checked against the "
                                        "signed root")
    p.add_argument("--contract", action="append", metavar="ID",
                   help="only this contract (repeatable)")
    p.add_argument("--ocid-prefix", default=DEFAULT_PREFIX,
                   help=f"registered OCDS ocid prefix (default {DEFAULT_PREFIX}, a placeholder)")
    p.add_argument("--scheme", default=DEFAULT_SCHEME,
                   help=f"organization identifier scheme for credit codes "
                        f"(default {DEFAULT_SCHEME})")
    p.add_argument("--publisher", default="Hami commitment ledger",
                   help="publisher name in the package")
    p.add_argument("--uri", help="package URI (default: derived from the source and tree size)")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    add_progress_option(p)


@guarded
def run(args: argparse.Namespace) -> int:
    builder = PackageBuilder(ocid_prefix=args.ocid_prefix, scheme=args.scheme,
                             contract_ids=args.contract)
    with progress_bar(args, "leaves") as progress:
        if args.database:
            uri = read_database(args.database, builder, progress)
        else:
            uri = read_server(args, builder, progress)
    package = builder.package(uri=args.uri or uri, publisher=args.publisher)
    if not package["releases"]:
        # The release-package schema requires at least one release: write no invalid file.
        wanted = f"contract {', '.join(args.contract)}" if args.contract else "contract"
        raise InvalidInput(f"no {wanted} in the log to export (an OCDS release package "
                           "holds at least one release); nothing written")
    text = dumps(package) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        note(f"{len(package['releases'])} contract release(s) written to {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def read_server(args: argparse.Namespace, builder: PackageBuilder, progress: Any) -> str:
    from .logsource import ServerLog

    log_key = log_key_from(args.log_key)
    with client_for(args) as client:
        note_text = client.checkpoint()
        base_url = client.base_url
    if log_key is not None:
        checkpoint = verify_checkpoint(note_text, log_key)
        size, root = checkpoint.size, checkpoint.root
    else:
        try:
            size, root = int(note_text.split("\n")[1]), None
        except (IndexError, ValueError):
            raise VerificationError(f"{base_url} did not answer a checkpoint "
                                    f"({note_text[:60]!r})") from None
        note("note: entries not checked against the signed root (no --log-key)")
    task = progress.add_task("reading", total=size)
    compact = merkle.CompactRange()
    for batch in ServerLog(base_url).batches(size, with_hashes=False):
        for offset, leaf in enumerate(batch.leaves):
            compact.append(merkle.leaf_hash(leaf))
            builder.apply(logged_event(batch.start + offset, leaf))
        progress.advance(task, len(batch.leaves))
    if root is not None and compact.root() != root:
        raise VerificationError(f"the {size} entries served do not give the signed root; "
                                "run `ledger audit` to find the bad one")
    return f"{base_url}/v1/log/checkpoint#tree-size-{size}"


def read_database(url: str, builder: PackageBuilder, progress: Any) -> str:
    from .logsource import DatabaseLog

    with DatabaseLog(url) as db:
        size = db.size()
        task = progress.add_task("reading", total=size)
        for batch in db.batches(size):
            for offset, leaf in enumerate(batch.leaves):
                builder.apply(logged_event(batch.start + offset, leaf))
            progress.advance(task, len(batch.leaves))
    return f"urn:commitment-ledger:tree-size:{size}"
