from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from ledger.application import Ledger
from ledger.cli import main
from ledger.config import DEFAULT_OPERATOR_ID
from ledger.keys import SignerKey


def test_init_creates_keys_database_and_operator_idempotently(tmp_path: Path, capsys) -> None:
    data = tmp_path / "var"
    assert main(["--json", "init", "--data-dir", str(data)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["created"] == {"operator_key": True, "log_key": True, "log": True}
    for name in ("operator.key", "log.key"):
        assert stat.S_IMODE((data / "keys" / name).stat().st_mode) == 0o600
    operator = SignerKey.read(data / "keys" / "operator.key")
    assert operator.name == f"{DEFAULT_OPERATOR_ID}/operator"
    assert SignerKey.read(data / "keys" / "log.key").name == "commitment-ledger.local/log"

    assert main(["--json", "init", "--data-dir", str(data)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["created"] == {"operator_key": False, "log_key": False, "log": False}
    assert second["operator_vkey"] == first["operator_vkey"]

    ledger = Ledger(first["database"])
    try:
        assert ledger.size() == 2
        events = ledger.stream_events(f"party/{DEFAULT_OPERATOR_ID}")
        assert [e.type for e in events] == ["party.registered", "key.registered"]
        assert events[1].body["vkey"] == operator.verifier.vkey
        assert events[1].prev == events[0].leaf_hash
    finally:
        ledger.close()


def test_init_refuses_an_invalid_operator_id(tmp_path: Path, capsys) -> None:
    code = main(["init", "--data-dir", str(tmp_path), "--operator-id", "91350100M000100Y44"])
    assert code == 2
    assert "not a valid unified social credit code" in capsys.readouterr().err


def test_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "ledger.cli", "keygen",
                             "91350100M000100Y43/finance", "--out", str(tmp_path / "f.key")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("91350100M000100Y43/finance+")
