"""The README's user journeys, executed line by line, so the documentation cannot rot.

Finance posts a treasury export and gets receipts; an enterprise verifies its contract by
the document's hash; an inspector audits, reports and exports.
"""

from __future__ import annotations

import json
import re
import shlex
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli.conftest import Served, cli
from tests.cli.test_ocds import validate_release_package
from tests.e2e.served_process import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def journey_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## User journeys", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README's User journeys section has no sh block"
    commands = []
    for line in block.group(1).splitlines():
        command = line.split("  #", 1)[0].strip()
        if command and not command.startswith("#"):
            commands.append(command)
    return commands


def test_the_readme_journey_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = journey_commands()
    assert commands[:3] == ["ledger init", "ledger serve &", "ledger demo"]
    port = free_port()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEDGER_SERVER", f"http://127.0.0.1:{port}")
    server = Served(tmp_path / "var", port)
    outputs: dict[str, str] = {}
    try:
        for command in commands:
            argv = shlex.split(command)
            assert argv[0] == "ledger"
            if argv[1:] == ["serve", "&"]:
                server.start()
                continue
            result = cli(*argv[1:])
            assert result.code == 0, f"`{command}` exited {result.code}:\n{result.err}"
            outputs[command] = result.out
            if argv[1] == "post":
                server.wait_for_checkpoint(server.tree_size())
    finally:
        server.stop()

    demo = tmp_path / "var" / "demo"
    receipts = [json.loads(line) for line in
                (demo / "receipts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["payment_id"] for r in receipts] == [
        "HMCZ-2025-12-0031", "HMCZ-2025-12-0032", "HMCZ-2025-12-0040", "HMCZ-2025-12-0057"]
    assert all(len(r["leaf_hash"]) == 64 for r in receipts)

    verified = next(out for cmd, out in outputs.items() if "--document" in cmd)
    assert "history     contract/HM-2025-GX-014: 9 event(s)" in verified
    assert "payment.made" in verified and verified.rstrip().endswith("VERIFIED")
    audited = next(out for cmd, out in outputs.items() if cmd.startswith("ledger audit"))
    assert "OK: every check passed" in audited
    for view in ("arrears", "breaches", "compensation"):
        assert re.search(rf"{view}\s+match \(\d+ rows\)", audited), audited
    breaches = outputs["ledger report breaches"]
    for rule in ("CHANGE_FORBIDDEN_REASON", "COMPENSATION_OVERDUE", "TERM_OVER_60",
                 "RATE_BELOW_LPR", "ACCEPTANCE_LATE", "CONFIRMATION_LATE"):
        assert rule in breaches
    arrears = outputs["ledger report arrears --csv"].splitlines()
    assert arrears[0].startswith("contract_id,milestone_id,payer,payee,due_date")
    worked = next(line for line in arrears if line.startswith("HM-2025-GX-014,m2,"))
    assert ",2025-08-04,20000000,20000000," in worked and ",160000,160000," in worked
    package = json.loads((demo / "ocds.json").read_text(encoding="utf-8"),
                         parse_float=Decimal)
    validate_release_package(package)
    assert len(package["releases"]) == 7
