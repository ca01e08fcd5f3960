"""``ledger report`` and ``ledger demo``: the read models of the Hami demo, from the server
and computed offline from its database, as tables, CSV and JSON."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest

from ledger import demo
from ledger.commands import report as report_command
from tests.cli.conftest import Served, cli, init_data_dir
from tests.e2e.served_process import free_port

AS_OF = "2099-12-31"  # after every demo event, whenever the suite runs


def breaches(served: Served, as_of: str) -> set[tuple[str, str]]:
    result = cli("--json", "report", "breaches", "--as-of", as_of, "--server", served.url)
    assert result.code == 0, result.err
    return {(row["rule"], row["subject_stream"]) for row in result.json()["rows"]}


def test_the_demo_fires_every_rule_it_was_built_for(demo_served: Served) -> None:
    # Before the December payment run, three contracts are in arrears.
    assert {r for r in breaches(demo_served, "2025-11-30") if r[0] == "ARREARS"} == {
        ("ARREARS", "contract/HM-2025-ZJ-007"),  # settlement basis, paid in part
        ("ARREARS", "contract/HM-2025-JY-012"), ("ARREARS", "contract/HM-2025-GX-021")}
    # Commitments count from the day they were recorded (they carry no date of their own).
    fired = breaches(demo_served, AS_OF)
    assert {
        ("TERM_OVER_60", "contract/HM-2025-JY-012"),
        ("RATE_BELOW_LPR", "contract/HM-2025-JY-012"),
        ("ACCEPTANCE_LATE", "contract/HM-2025-GX-021"),
        ("CONFIRMATION_LATE", "contract/HM-2025-GX-021"),
        ("COMPLAINT_UNANSWERED", "complaint/HM-TS-2025-031"),
        ("CHANGE_FORBIDDEN_REASON", "commitment/HM-CN-2024-015"),
        ("CHANGE_NO_LEGAL_BASIS", "commitment/HM-CN-2024-015"),
        ("COMPENSATION_OVERDUE", "commitment/HM-CN-2024-022"),
    } <= fired
    # The public-interest change had its consultation and legal basis; the on-time
    # contract and the fulfilled subsidy fire nothing.
    assert not {r for r, s in fired if s == "commitment/HM-CN-2024-022"} & {
        "CHANGE_NO_CONSULTATION", "CHANGE_NO_LEGAL_BASIS", "CHANGE_FORBIDDEN_REASON"}
    assert not {s for _r, s in fired} & {"contract/HM-2025-JY-005", "commitment/HM-CN-2025-003"}


def test_server_and_offline_computation_agree(demo_served: Served) -> None:
    for view, as_of, extra in (("arrears", AS_OF, ()),
                               ("breaches", "2025-11-30", ("--rule", "ARREARS")),
                               ("compensation", AS_OF, ())):
        args = ("--json", "report", view, "--as-of", as_of, *extra)
        served = cli(*args, "--server", demo_served.url)
        offline = cli(*args, "--database", demo_served.database_url)
        assert served.code == offline.code == 0, served.err + offline.err
        assert served.json() == offline.json()
        assert served.json()["rows"], view


def test_the_worked_example_as_a_table_csv_and_json(demo_served: Served) -> None:
    industry = demo.P["industry"].party_id
    table = cli("report", "arrears", "--as-of", "2025-12-31", "--payer", industry,
                "--server", demo_served.url)
    assert table.code == 0, table.err
    assert "哈密天山软件科技有限公司" in table.out and "200,000.00" in table.out
    assert "1,600.00" in table.out and "HM-2025-ZJ-007" not in table.out

    as_csv = cli("report", "arrears", "--as-of", "2025-12-31", "--payer", industry, "--csv",
                 "--server", demo_served.url)
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    worked = next(r for r in rows if (r["contract_id"], r["milestone_id"]) ==
                  ("HM-2025-GX-014", "m2"))
    assert (worked["due_date"], worked["amount_fen"], worked["interest_fen"]) == (
        "2025-08-04", "20000000", "160000")
    assert worked["responsible"] == "哈密市工业和信息化局 / 刘志强"

    before_payments = cli("--json", "report", "compensation", "--as-of", AS_OF, "--at", "40",
                          "--server", demo_served.url)
    assert before_payments.code == 0
    assert before_payments.json()["log_size"] == 40 and before_payments.json()["rows"] == []
    duty = cli("--json", "report", "compensation", "--as-of", AS_OF,
               "--server", demo_served.url).json()["rows"]
    assert [(d["duty_id"], d["outstanding_fen"], d["status"]) for d in duty] == [
        ("HM-CN-2024-022-comp1", 15_000_000, "overdue")]


@pytest.mark.parametrize("view", ["arrears", "breaches", "compensation"])
def test_csv_with_no_rows_still_has_its_header(demo_served: Served, view: str) -> None:
    full = cli("report", view, "--as-of", AS_OF, "--csv", "--server", demo_served.url)
    empty = cli("report", view, "--as-of", AS_OF, "--at", "1", "--csv",
                "--server", demo_served.url)
    assert full.code == 0 and empty.code == 0, (full.err, empty.err)
    full_lines, empty_lines = full.out.splitlines(), empty.out.splitlines()
    assert len(full_lines) > 1, "the demo should have rows for every view"
    assert empty_lines == [full_lines[0]]
    assert list(csv.DictReader(io.StringIO(empty.out))) == []


def test_filters_that_do_not_apply_are_refused(demo_served: Served) -> None:
    refused = cli("report", "breaches", "--payer", demo.P["industry"].party_id,
                  "--server", demo_served.url)
    assert refused.code == 2 and "--payer does not apply to breaches" in refused.err
    bad_date = cli("report", "arrears", "--as-of", "2025-13-01", "--server", demo_served.url)
    assert bad_date.code == 2


def test_demo_loads_once_and_keeps_its_keys(tmp_path: Path) -> None:
    served = Served(tmp_path / "var", free_port())
    no_operator = cli("demo", "--data-dir", str(served.data_dir), "--server", served.url)
    assert no_operator.code == 2 and "run `ledger init` first" in no_operator.err
    init_data_dir(served.data_dir)
    served.start()
    try:
        first = cli("--json", "demo", "--data-dir", str(served.data_dir), "--server",
                    served.url)
        assert first.code == 0, first.err
        size = served.tree_size()
        again = cli("--json", "demo", "--data-dir", str(served.data_dir), "--server",
                    served.url)
        assert again.code == 0 and again.json()["already_loaded"]
        assert served.tree_size() == size
        # Another --out gets new keys the loaded demo never registered: said, not "loaded".
        elsewhere = cli("demo", "--data-dir", str(served.data_dir), "--server", served.url,
                        "--out", str(tmp_path / "demo2"))
        assert elsewhere.code == 2 and "already loaded on this server with other keys" \
            in elsewhere.err
    finally:
        served.stop()
    summary = first.json()
    assert summary["recorded"] == size - 2  # all but the operator's two opening events
    keys = Path(summary["files"]["keys"])
    assert sorted(p.stem for p in keys.glob("*.key")) == sorted(
        [p.label for p in demo.PARTIES] + ["industry-2024"])
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.glob("*.key"))
    export = Path(summary["files"]["treasury_export"]).read_text(encoding="utf-8")
    assert export.splitlines()[0] == ",".join(demo.TREASURY_COLUMNS)


def test_the_arrears_table_shows_contested_payments(capsys: pytest.CaptureFixture[str]) -> None:
    """DESIGN 4: a payment the supplier contests is shown as contested_fen beside the
    arrears row; the CSV had it, the table did not."""
    row = {"contract_id": "C1", "milestone_id": "m1", "payer": "P", "payee": "Q",
           "due_date": "2025-08-04", "amount_fen": 200_000_000, "paid_fen": 123_456_789,
           "contested_fen": 123_456_789, "disputed_fen": 0, "outstanding_fen": 76_543_211,
           "days_overdue": 3, "interest_fen": 0, "interest_paid_fen": 0}
    report_command.print_table("arrears", {"as_of": "2025-08-07", "log_size": 9,
                                           "rows": [row]}, {})
    out = capsys.readouterr().out
    assert "contested" in out and out.count("1,234,567.89") == 2
