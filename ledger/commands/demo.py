"""``ledger demo``: load the Hami demo dataset (:mod:`ledger.demo`) into a server.

Needs the operator key from the data dir (``ledger init`` wrote it) to register the
parties and their keys. Writes into ``--out`` (default ``<data dir>/demo``):

- ``keys/<party>.key`` — a signing key per party (generated once, reused after);
- ``documents/`` — the contract and commitment documents whose SHA-256 the events name;
- ``treasury-export.csv`` — the finance bureau's next payment run, for ``ledger post``;
- ``log.vkey`` — the log's public key, for ``--log-key``.

All events go in one all-or-nothing batch; a server that already holds the demo parties
is left as it is.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import demo
from ..client import LedgerClient, ServerRefused
from ..config import Settings
from ..envelope import sign_envelope
from ..errors import InvalidInput
from ..keys import SignerKey
from .common import (
    EXIT_OK,
    add_json_option,
    add_server_option,
    client_for,
    guarded,
    now_instant,
    print_json,
    wants_json,
)

NAME = "demo"
OLD_KEY_FILE = "industry-2024.key"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="load a realistic Hami demo dataset into a server",
                              description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--data-dir", help="data directory holding keys/operator.key "
                                      "(LEDGER_DATA_DIR, default ./var)")
    p.add_argument("--operator-key", metavar="FILE", help="operator key (default from the "
                                                          "data dir)")
    p.add_argument("--out", metavar="DIR", help="where keys, documents and the treasury "
                                                "export go (default <data dir>/demo)")
    add_server_option(p)
    add_json_option(p)


def party_keys(keys_dir: Path) -> dict[str, SignerKey]:
    """One key per demo party, generated once into ``keys_dir`` and reused after."""
    keys: dict[str, SignerKey] = {}
    for party in demo.PARTIES:
        keys[party.label] = _key(keys_dir / f"{party.label}.key", demo.key_name(party.label))
    keys[demo.OLD_KEY] = _key(keys_dir / OLD_KEY_FILE,
                                 f"{demo.P['industry'].party_id}/procurement-2024")
    return keys


def _key(path: Path, name: str) -> SignerKey:
    if path.exists():
        key = SignerKey.read(path)
        if key.name != name:
            raise InvalidInput(f"{path} holds key {key.name}, expected {name}")
        return key
    key = SignerKey.generate(name)
    key.write(path)
    return key


def write_files(out: Path, log_vkey: str) -> dict[str, str]:
    documents = out / "documents"
    documents.mkdir(parents=True, exist_ok=True)
    for document in demo.documents():
        (documents / document.file_name).write_bytes(document.data)
    (out / "treasury-export.csv").write_text(demo.treasury_export(), encoding="utf-8")
    (out / "log.vkey").write_text(log_vkey + "\n", encoding="utf-8")
    return {"keys": str(out / "keys"), "documents": str(documents),
            "treasury_export": str(out / "treasury-export.csv"),
            "log_key": str(out / "log.vkey")}


def load(client: LedgerClient, operator: SignerKey, keys: dict[str, SignerKey]) -> int:
    """Post every demo event in one batch; the number recorded (0 when already loaded)."""
    finance = demo.P["finance"].party_id
    try:
        history = client.stream(f"party/{finance}")
    except ServerRefused as refused:
        if refused.http_status != 404:
            raise
    else:
        # Already loaded: with these keys, or the files written are of no use (every
        # event signed with them would be refused).
        mine = keys["finance"].verifier.vkey
        registered = [e.get("body", {}).get("vkey") for e in history.get("events", [])
                      if e.get("type") == "key.registered"]
        if mine not in registered:
            raise InvalidInput("the demo is already loaded on this server with other keys "
                               "than those in this --out directory; use the --out directory "
                               "of the run that loaded it")
        return 0
    signed_at = now_instant()
    events = demo.demo_events({label: key.verifier.vkey for label, key in keys.items()})
    batch = [sign_envelope(operator if signer == demo.OPERATOR else keys[signer], type_,
                           stream, body, signed_at=signed_at)
             for signer, type_, stream, body in events]
    labels = [f"{type_} {stream}" for _signer, type_, stream, _body in events]
    try:
        client.post_batch(batch)
    except ServerRefused as refused:
        details = "; ".join(f"{labels[e['index']]}: {e.get('detail')}"
                            for e in refused.item_errors if isinstance(e.get("index"), int))
        if details:
            raise InvalidInput(f"the server refused the demo: {details}") from refused
        raise
    return len(batch)


@guarded
def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(data_dir=Path(args.data_dir) if args.data_dir else None)
    operator_path = Path(args.operator_key) if args.operator_key else settings.operator_key_path
    if not operator_path.exists():
        raise InvalidInput(f"no operator key at {operator_path}; run `ledger init` first or "
                           "give --operator-key")
    operator = SignerKey.read(operator_path)
    out = Path(args.out) if args.out else settings.data_dir / "demo"
    keys = party_keys(out / "keys")
    with client_for(args) as client:
        if settings.log_key_path.exists():
            log_vkey = SignerKey.read(settings.log_key_path).verifier.vkey
        else:
            log_vkey = client.log_key()
        files = write_files(out, log_vkey)
        recorded = load(client, operator, keys)
        size = int(client.checkpoint().split("\n")[1])
    summary = {"recorded": recorded, "already_loaded": recorded == 0, "files": files,
               "server": client.base_url, "checkpoint_size": size}
    if wants_json(args):
        print_json(summary)
        return EXIT_OK
    if recorded:
        print(f"demo loaded: {recorded} events recorded at {client.base_url}")
    else:
        print(f"demo already loaded at {client.base_url}; files refreshed")
    print(f"  party keys        {files['keys']}")
    print(f"  documents         {files['documents']}")
    print(f"  treasury export   {files['treasury_export']}")
    print(f"  log key           {files['log_key']}")
    print("try: ledger report breaches")
    return EXIT_OK
