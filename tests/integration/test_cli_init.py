from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.cli import main
from ledger.config import DEFAULT_OPERATOR_ID, Settings
from ledger.errors import InvalidInput
from ledger.keys import SignerKey
from server.app import SERVICES, create_app


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


def test_init_never_makes_new_keys_for_a_log_that_exists(tmp_path: Path, capsys) -> None:
    """Keys lost or swapped beside an existing log are refused (exit 2), not replaced by
    new ones the log never registered and no client holding its key accepts."""
    from ledger.log import Log

    data = tmp_path / "var"
    assert main(["--json", "init", "--data-dir", str(data)]) == 0
    info = json.loads(capsys.readouterr().out)
    keys = {name: (data / "keys" / name).read_bytes() for name in ("operator.key", "log.key")}
    ledger = Ledger(info["database"])
    try:
        Log(ledger, SignerKey.read(data / "keys" / "log.key")).sign_checkpoint()
    finally:
        ledger.close()

    for name in keys:
        (data / "keys" / name).unlink()
    assert main(["init", "--data-dir", str(data)]) == 2
    assert "is missing" in capsys.readouterr().err
    assert not any((data / "keys" / name).exists() for name in keys)

    def restore() -> None:
        for name, raw in keys.items():
            (data / "keys" / name).write_bytes(raw)
            (data / "keys" / name).chmod(0o600)

    def swapped(name: str, other: SignerKey) -> str:
        restore()
        (data / "keys" / name).unlink()
        other.write(data / "keys" / name)
        assert main(["init", "--data-dir", str(data)]) == 2
        return capsys.readouterr().err

    assert "is not the operator key" in swapped(
        "operator.key", SignerKey.generate(f"{DEFAULT_OPERATOR_ID}/operator"))
    assert "did not sign the checkpoints" in swapped(
        "log.key", SignerKey.generate("commitment-ledger.local/log"))

    restore()
    (data / "keys" / "log.key").unlink()
    assert main(["init", "--data-dir", str(data)]) == 2
    assert "has signed checkpoints" in capsys.readouterr().err
    assert not (data / "keys" / "log.key").exists()

    restore()
    assert main(["init", "--data-dir", str(data)]) == 0
    assert "already initialised" in capsys.readouterr().out


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


@pytest.mark.parametrize(("variable", "value"), [
    ("LEDGER_PORT", "abc"), ("LEDGER_PORT", "70000"),
    ("LEDGER_ACCEPTANCE_WINDOW_DAYS", "x"), ("LEDGER_ACCEPTANCE_WINDOW_DAYS", "0"),
    # nan passed every comparison and left an idle server spinning at full CPU
    ("LEDGER_CHECKPOINT_INTERVAL", "nan"), ("LEDGER_CHECKPOINT_INTERVAL", "-1"),
    ("LEDGER_GROUP_LINGER_MS", "nan"),
])
def test_a_bad_setting_is_a_usage_error_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        variable: str, value: str) -> None:
    """Exit 2 (usage) with one line naming the variable, not a traceback and exit 1,
    which scripts read as verification failed."""
    with pytest.raises(InvalidInput, match=variable):
        Settings.from_env({variable: value})
    monkeypatch.setenv(variable, value)
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and variable in err and "Traceback" not in err


async def test_the_served_ledger_takes_the_configured_acceptance_window(
        tmp_path: Path, aiohttp_client: Any) -> None:
    """LEDGER_ACCEPTANCE_WINDOW_DAYS was read into the settings but never given to the
    ledger the server opens (always 7 days)."""
    assert main(["init", "--data-dir", str(tmp_path)]) == 0
    settings = Settings.from_env({"LEDGER_ACCEPTANCE_WINDOW_DAYS": "30"}, data_dir=tmp_path)
    client = await aiohttp_client(create_app(settings))
    assert client.app[SERVICES].ledger.acceptance_window == timedelta(days=30)


@pytest.mark.parametrize("where", ["taken", "--port 99999", "--host 256.1.1.1"])
def test_an_address_that_cannot_be_served_is_a_usage_error(tmp_path: Path, where: str) -> None:
    """A port in use printed 'serving on ...' and then a traceback (exit 1); --port 99999
    and a host that is no address were tracebacks too."""
    assert main(["init", "--data-dir", str(tmp_path)]) == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = {"taken": ["--port", str(taken.getsockname()[1])],
                "--port 99999": ["--port", "99999"],
                "--host 256.1.1.1": ["--host", "256.1.1.1", "--port", "0"]}[where]
        result = subprocess.run([sys.executable, "-m", "ledger.cli", "serve", "--data-dir",
                                 str(tmp_path), *args], capture_output=True, text=True,
                                timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "serving on" not in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
