"""Compensation duties opened by changes for public or national interest."""

from __future__ import annotations

from typing import Any

from projections.engine import Projector
from tests.unit.test_projection_support import LARGE, SMALL, LogBuilder, d


def duties(log: LogBuilder, as_of: str) -> list[dict[str, Any]]:
    projector = Projector()
    projector.extend(log.events)
    report = projector.compensation(d(as_of))
    assert report["log_size"] == len(log.events)
    return list(report["rows"])


def changed_commitment() -> LogBuilder:
    log = LogBuilder()
    log.standard_parties()
    log.calendar()
    log.commitment()  # version 1
    log.lawful_change("2025-03-01")  # version 2
    return log


def test_change_for_public_interest_opens_a_duty_awaiting_determination() -> None:
    [row] = duties(changed_commitment(), "2025-03-01")
    assert row == {
        "duty_id": "K1/change-2",
        "cause": "commitment/K1",
        "beneficiary": SMALL,
        "amount_fen": None,
        "due_date": None,
        "paid_fen": 0,
        "outstanding_fen": None,
        "days_overdue": 0,
        "status": "awaiting_determination",
    }


def test_duty_becomes_undetermined_after_the_90_day_period() -> None:
    log = changed_commitment()
    # 03-01 + 90 = 05-30, a Friday and a working day.
    assert duties(log, "2025-05-30")[0]["status"] == "awaiting_determination"
    assert duties(log, "2025-05-31")[0]["status"] == "undetermined"


def test_determination_period_end_moves_past_rest_days() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.calendar()
    log.commitment()
    log.lawful_change("2025-07-03")  # + 90 = 10-01 -> 10-09
    assert duties(log, "2025-10-09")[0]["status"] == "awaiting_determination"
    assert duties(log, "2025-10-10")[0]["status"] == "undetermined"


def test_no_duty_before_the_change_is_effective_or_for_other_reasons() -> None:
    assert duties(changed_commitment(), "2025-02-28") == []
    log = LogBuilder()
    log.standard_parties()
    log.commitment()
    log.change("2025-03-01", reason="law_change", legal_authority="x", procedure_ref="y")
    log.change("2025-03-02", reason="personnel_change")
    assert duties(log, "2025-12-31") == []


def test_determination_binds_and_renames_the_duty() -> None:
    log = changed_commitment()
    log.clock = "2025-04-01"
    log.determine("D1", 500_000, "2025-07-01")
    assert duties(log, "2025-03-31")[0]["duty_id"] == "K1/change-2"  # not yet recorded
    [row] = duties(log, "2025-06-30")
    assert row["duty_id"] == "D1"
    assert row["amount_fen"] == 500_000
    assert row["due_date"] == "2025-07-01"
    assert row["outstanding_fen"] == 500_000
    assert row["status"] == "open"


def test_determined_duty_statuses_open_overdue_paid() -> None:
    log = changed_commitment()
    log.clock = "2025-04-01"
    log.determine("D1", 500_000, "2025-07-01")
    log.compensate("D1", 200_000, "2025-07-05")
    row = duties(log, "2025-07-03")[0]
    assert (row["status"], row["days_overdue"], row["paid_fen"]) == ("overdue", 2, 0)
    row = duties(log, "2025-07-06")[0]
    assert (row["status"], row["outstanding_fen"], row["paid_fen"]) == ("overdue", 300_000, 200_000)
    log.compensate("D1", 300_000, "2025-07-10")
    row = duties(log, "2025-07-10")[0]
    assert (row["status"], row["outstanding_fen"], row["days_overdue"]) == ("paid", 0, 0)


def test_determination_binds_the_earliest_pending_duty() -> None:
    log = changed_commitment()  # duty K1/change-2
    log.lawful_change("2025-04-01")  # duty K1/change-3
    log.clock = "2025-05-01"
    log.determine("D-A", 100, "2025-08-01")
    log.determine("D-B", 200, "2025-09-01")
    rows = duties(log, "2025-06-01")
    assert [(r["duty_id"], r["amount_fen"]) for r in rows] == [("D-A", 100), ("D-B", 200)]


def test_second_determination_leaves_the_later_duty_pending_until_bound() -> None:
    log = changed_commitment()
    log.clock = "2025-03-10"
    log.determine("D-A", 100, "2025-08-01")
    log.lawful_change("2025-04-01")  # opened after the first determination
    rows = duties(log, "2025-04-02")
    assert [(r["duty_id"], r["status"]) for r in rows] == [
        ("D-A", "open"),
        ("K1/change-4", "awaiting_determination"),
    ]


def test_determination_for_another_beneficiary_is_a_duty_of_its_own() -> None:
    log = changed_commitment()
    log.clock = "2025-04-01"
    log.determine("D-X", 700, "2025-08-01", beneficiary=LARGE)
    rows = duties(log, "2025-05-01")
    assert [(r["duty_id"], r["beneficiary"]) for r in rows] == [
        ("K1/change-2", SMALL),
        ("D-X", LARGE),
    ]


def test_payment_under_the_provisional_name_counts() -> None:
    log = changed_commitment()
    log.compensate("K1/change-2", 100, "2025-03-05")
    log.clock = "2025-04-01"
    log.determine("D1", 500, "2025-07-01")
    [row] = duties(log, "2025-04-02")
    assert (row["duty_id"], row["paid_fen"], row["outstanding_fen"]) == ("D1", 100, 400)
