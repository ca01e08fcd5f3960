"""Breach rules: each fires when it should and stays silent when it should not."""

from __future__ import annotations

from typing import Any

from projections import rules
from projections.engine import Projector
from tests.unit.test_projection_support import (
    GOV,
    LARGE,
    RESPONSIBLE,
    SMALL,
    SOE,
    LogBuilder,
    d,
)


def breaches(log: LogBuilder, as_of: str, **filters: Any) -> list[dict[str, Any]]:
    projector = Projector()
    projector.extend(log.events)
    return list(projector.breaches(d(as_of), **filters)["rows"])


def fired(log: LogBuilder, as_of: str, rule: str) -> list[dict[str, Any]]:
    return breaches(log, as_of, rule=rule)


def contract_log(**terms: Any) -> LogBuilder:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], **terms)
    return log


def test_rule_table_matches_the_design() -> None:
    assert {rule: r.article for rule, r in rules.RULES.items()} == {
        "ARREARS": "Hami 22, 64; SME 9",
        "TERM_OVER_60": "Hami 22; SME 9",
        "RATE_BELOW_LPR": "SME 17",
        "ACCEPTANCE_LATE": "SME 10",
        "CONFIRMATION_LATE": "Hami 14(6); SME 16",
        "CHANGE_FORBIDDEN_REASON": "Hami 20; BER 31",
        "CHANGE_NO_CONSULTATION": "Hami 20",
        "CHANGE_NO_LEGAL_BASIS": "Hami 20",
        "OBLIGATION_MISSED": "Hami 20",
        "COMPENSATION_OVERDUE": "Hami 9, 20",
        "COMPLAINT_UNANSWERED": "Hami 26; SME 25",
    }


# -- ARREARS ----------------------------------------------------------------


def test_arrears_fires_from_the_day_after_due() -> None:
    log = contract_log()
    log.accept("2025-07-05")
    [row] = fired(log, "2025-08-05", rules.ARREARS)
    assert set(row) == {
        "rule",
        "article",
        "subject_stream",
        "party",
        "responsible",
        "detected_on",
        "detail",
        "evidence",
    }
    assert row["article"] == "Hami 22, 64; SME 9"
    assert row["subject_stream"] == "contract/C1"
    assert row["party"] == GOV
    assert row["responsible"] == RESPONSIBLE
    assert row["detected_on"] == "2025-08-05"
    assert "M1" in row["detail"]


def test_arrears_silent_before_due_and_after_full_payment() -> None:
    log = contract_log()
    log.accept("2025-07-05")
    assert fired(log, "2025-08-04", rules.ARREARS) == []
    log.pay("2025-08-20", 1_000_000)
    assert fired(log, "2025-08-20", rules.ARREARS) == []
    assert len(fired(log, "2025-08-19", rules.ARREARS)) == 1


def test_arrears_detected_when_a_disputed_amount_comes_back_owed() -> None:
    log = contract_log()
    log.accept("2025-07-05")
    log.dispute("2025-07-20", 1_000_000)
    assert fired(log, "2025-08-20", rules.ARREARS) == []
    log.resolve("2025-08-24", 400_000)
    [row] = fired(log, "2025-09-01", rules.ARREARS)
    assert row["detected_on"] == "2025-08-25"


# -- TERM_OVER_60 -----------------------------------------------------------


def test_term_over_60_fires_on_signing_for_public_buyer_and_sme() -> None:
    log = contract_log(payment_term_days=61)
    [row] = fired(log, "2025-06-01", rules.TERM_OVER_60)
    assert row["detected_on"] == "2025-06-01"
    assert row["party"] == GOV


def test_term_over_60_silent_for_60_default_large_supplier_or_soe_buyer() -> None:
    assert fired(contract_log(payment_term_days=60), "2025-12-31", rules.TERM_OVER_60) == []
    assert fired(contract_log(), "2025-12-31", rules.TERM_OVER_60) == []
    large = contract_log(payment_term_days=90, supplier=LARGE, scale="large")
    assert fired(large, "2025-12-31", rules.TERM_OVER_60) == []
    soe = contract_log(payment_term_days=90, buyer=SOE)
    assert fired(soe, "2025-12-31", rules.TERM_OVER_60) == []


def test_term_over_60_not_before_signing() -> None:
    assert fired(contract_log(payment_term_days=90), "2025-05-31", rules.TERM_OVER_60) == []


# -- RATE_BELOW_LPR ---------------------------------------------------------


def test_rate_below_lpr_fires_for_sme() -> None:
    log = LogBuilder()
    log.standard_parties()
    lpr = log.lpr("2025-05-20", 300)
    log.contract(late_interest_annual_bp=200)
    [row] = fired(log, "2025-06-01", rules.RATE_BELOW_LPR)
    assert row["detected_on"] == "2025-06-01"
    assert lpr.leaf_hash.hex() in row["evidence"]


def test_rate_below_lpr_silent_when_equal_or_above_large_or_lpr_unknown() -> None:
    for rate in (300, 400):
        log = LogBuilder()
        log.standard_parties()
        log.lpr("2025-05-20", 300)
        log.contract(late_interest_annual_bp=rate)
        assert fired(log, "2025-12-31", rules.RATE_BELOW_LPR) == []
    large = LogBuilder()
    large.standard_parties()
    large.lpr("2025-05-20", 300)
    large.contract(late_interest_annual_bp=200, supplier=LARGE, scale="large")
    assert fired(large, "2025-12-31", rules.RATE_BELOW_LPR) == []
    unknown = contract_log(late_interest_annual_bp=200)
    assert fired(unknown, "2025-12-31", rules.RATE_BELOW_LPR) == []
    later = LogBuilder()
    later.standard_parties()
    later.lpr("2025-06-02", 300)  # effective after signing
    later.contract(late_interest_annual_bp=200)
    assert fired(later, "2025-12-31", rules.RATE_BELOW_LPR) == []


# -- ACCEPTANCE_LATE --------------------------------------------------------


def test_acceptance_late_fires_the_day_after_the_period_and_stays() -> None:
    log = contract_log(acceptance_period_days=10)
    log.deliver("2025-07-01")  # period ends 07-11
    assert fired(log, "2025-07-11", rules.ACCEPTANCE_LATE) == []
    [row] = fired(log, "2025-07-12", rules.ACCEPTANCE_LATE)
    assert row["detected_on"] == "2025-07-12"
    late = log.accept("2025-07-20")
    [row] = fired(log, "2025-08-01", rules.ACCEPTANCE_LATE)
    assert row["detected_on"] == "2025-07-12"
    assert late.leaf_hash.hex() in row["evidence"]


def test_acceptance_late_silent_in_time_without_period_or_after_failed_in_time() -> None:
    timely = contract_log(acceptance_period_days=10)
    timely.deliver("2025-07-01")
    timely.accept("2025-07-11")
    assert fired(timely, "2025-12-31", rules.ACCEPTANCE_LATE) == []
    no_period = contract_log()
    no_period.deliver("2025-07-01")
    assert fired(no_period, "2025-12-31", rules.ACCEPTANCE_LATE) == []
    failed = contract_log(acceptance_period_days=10)
    failed.deliver("2025-07-01")
    failed.accept("2025-07-05", result="failed")
    assert fired(failed, "2025-12-31", rules.ACCEPTANCE_LATE) == []


def test_acceptance_late_on_a_redelivery() -> None:
    log = contract_log(acceptance_period_days=10)
    log.deliver("2025-07-01")
    log.accept("2025-07-05", result="failed")
    log.deliver("2025-07-15")  # period ends 07-25
    [row] = fired(log, "2025-07-26", rules.ACCEPTANCE_LATE)
    assert row["detected_on"] == "2025-07-26"


def test_acceptance_late_counts_the_period_in_working_days_at_its_end() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.calendar()
    log.contract(acceptance_period_days=10)
    log.deliver("2025-09-21")  # + 10 = 10-01 -> 10-09
    assert fired(log, "2025-10-09", rules.ACCEPTANCE_LATE) == []
    [row] = fired(log, "2025-10-10", rules.ACCEPTANCE_LATE)
    assert row["detected_on"] == "2025-10-10"


# -- CONFIRMATION_LATE ------------------------------------------------------


def test_confirmation_late_fires_after_30_days_and_stays() -> None:
    log = contract_log()
    log.request_confirmation("2025-07-01", 1_000_000)  # window ends 07-31
    assert fired(log, "2025-07-31", rules.CONFIRMATION_LATE) == []
    [row] = fired(log, "2025-08-01", rules.CONFIRMATION_LATE)
    assert row["detected_on"] == "2025-08-01"
    log.confirm("2025-08-05", 1_000_000)
    [row] = fired(log, "2025-08-10", rules.CONFIRMATION_LATE)
    assert "confirmed late on 2025-08-05" in row["detail"]


def test_confirmation_in_time_is_silent() -> None:
    log = contract_log()
    log.request_confirmation("2025-07-01", 1_000_000)
    log.confirm("2025-07-31", 1_000_000)
    assert fired(log, "2025-12-31", rules.CONFIRMATION_LATE) == []


def test_confirmation_of_another_milestone_does_not_answer() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 100), ("M2", 100)])
    log.request_confirmation("2025-07-01", 100, "M1")
    log.confirm("2025-07-02", 100, "M2")
    assert len(fired(log, "2025-08-01", rules.CONFIRMATION_LATE)) == 1


# -- commitment changes -----------------------------------------------------


def commitment_log() -> LogBuilder:
    log = LogBuilder()
    log.standard_parties()
    log.commitment()
    return log


def test_change_for_forbidden_reason_fires_on_effective_on() -> None:
    for reason in sorted(rules.FORBIDDEN_CHANGE_REASONS):
        log = commitment_log()
        log.change("2025-03-01", reason=reason, legal_authority="x", procedure_ref="y")
        [row] = fired(log, "2025-03-01", rules.CHANGE_FORBIDDEN_REASON)
        assert row["detected_on"] == "2025-03-01"
        assert row["party"] == GOV
        assert row["article"] == "Hami 20; BER 31"
        assert breaches(log, "2025-02-28") == []


def test_lawful_change_fires_nothing() -> None:
    for reason in ("public_interest", "national_interest", "law_change", "other"):
        log = commitment_log()
        log.lawful_change("2025-03-01")
        log.change(
            "2025-03-02",
            reason=reason,
            legal_authority="x",
            procedure_ref="y",
            consultation={"held_on": "2025-03-01", "record_sha256": "cd" * 32},
        )
        assert breaches(log, "2025-03-10") == []


def test_change_for_public_interest_without_consultation() -> None:
    log = commitment_log()
    log.change("2025-03-01", reason="national_interest", legal_authority="x", procedure_ref="y")
    [row] = fired(log, "2025-03-01", rules.CHANGE_NO_CONSULTATION)
    assert row["detected_on"] == "2025-03-01"
    other = commitment_log()
    other.change("2025-03-01", reason="law_change", legal_authority="x", procedure_ref="y")
    assert fired(other, "2025-03-01", rules.CHANGE_NO_CONSULTATION) == []


def test_change_without_legal_basis_fires_when_either_part_is_missing() -> None:
    for extra in ({}, {"legal_authority": "x"}, {"procedure_ref": "y"}):
        log = commitment_log()
        log.change("2025-03-01", reason="law_change", **extra)
        [row] = fired(log, "2025-03-01", rules.CHANGE_NO_LEGAL_BASIS)
        assert "missing" in row["detail"]
    log = commitment_log()
    log.change("2025-03-01", reason="law_change", legal_authority="x", procedure_ref="y")
    assert fired(log, "2025-03-01", rules.CHANGE_NO_LEGAL_BASIS) == []


def test_change_effective_after_as_of_does_not_count_yet() -> None:
    log = commitment_log()
    log.change("2025-03-01", reason="personnel_change")
    assert breaches(log, "2025-02-28") == []


# -- OBLIGATION_MISSED ------------------------------------------------------


def obligation_log(amount: int | None = 1_000_000, due: str = "2025-06-30") -> LogBuilder:
    obligation: dict[str, Any] = {
        "obligation_id": "O1",
        "description": "subsidy",
        "due_date": due,
    }
    if amount is not None:
        obligation["amount_fen"] = amount
    log = LogBuilder()
    log.standard_parties()
    log.commitment(obligations=[obligation])
    return log


def test_obligation_partial_fulfilments_that_add_up_are_silent() -> None:
    log = obligation_log()
    log.fulfil("O1", "2025-06-10", 600_000)
    log.fulfil("O1", "2025-06-30", 400_000)
    assert fired(log, "2025-12-31", rules.OBLIGATION_MISSED) == []


def test_obligation_partially_fulfilled_is_missed_the_day_after_due() -> None:
    log = obligation_log()
    log.fulfil("O1", "2025-06-10", 600_000)
    assert fired(log, "2025-06-30", rules.OBLIGATION_MISSED) == []
    [row] = fired(log, "2025-07-01", rules.OBLIGATION_MISSED)
    assert row["detected_on"] == "2025-07-01"
    assert "6000.00 of 10000.00" in row["detail"]


def test_obligation_fulfilled_late_stays_missed() -> None:
    log = obligation_log()
    log.fulfil("O1", "2025-07-05", 1_000_000)
    [row] = fired(log, "2025-08-01", rules.OBLIGATION_MISSED)
    assert row["detected_on"] == "2025-07-01"


def test_obligation_due_date_never_moves() -> None:
    log = obligation_log(due="2025-06-29")  # a Sunday
    log.fulfil("O1", "2025-06-30", 1_000_000)
    assert len(fired(log, "2025-07-01", rules.OBLIGATION_MISSED)) == 1


def test_obligation_without_amount_needs_any_fulfilment() -> None:
    log = obligation_log(amount=None)
    assert len(fired(log, "2025-07-01", rules.OBLIGATION_MISSED)) == 1
    log.fulfil("O1", "2025-06-01")
    assert fired(log, "2025-07-01", rules.OBLIGATION_MISSED) == []


def test_fulfilment_without_amount_fulfils_the_whole_obligation() -> None:
    log = obligation_log()
    log.fulfil("O1", "2025-06-01")
    assert fired(log, "2025-07-01", rules.OBLIGATION_MISSED) == []


def test_withdrawal_on_or_before_due_cancels_the_obligation() -> None:
    log = obligation_log()
    log.change(
        "2025-06-30", action="withdraw", reason="law_change", legal_authority="x", procedure_ref="y"
    )
    assert fired(log, "2025-12-31", rules.OBLIGATION_MISSED) == []


def test_withdrawal_after_due_does_not_cancel() -> None:
    log = obligation_log()
    log.change(
        "2025-07-01", action="withdraw", reason="law_change", legal_authority="x", procedure_ref="y"
    )
    assert len(fired(log, "2025-12-31", rules.OBLIGATION_MISSED)) == 1


def test_amendment_replaces_pending_obligations() -> None:
    log = obligation_log()
    log.change(
        "2025-06-01",
        reason="law_change",
        legal_authority="x",
        procedure_ref="y",
        new_obligations=[
            {
                "obligation_id": "O2",
                "description": "smaller subsidy",
                "amount_fen": 500_000,
                "due_date": "2025-09-30",
            }
        ],
    )
    assert fired(log, "2025-09-30", rules.OBLIGATION_MISSED) == []
    [row] = fired(log, "2025-10-01", rules.OBLIGATION_MISSED)
    assert "O2" in row["detail"]


# -- COMPENSATION_OVERDUE ---------------------------------------------------


def test_compensation_overdue_fires_after_due_date_until_paid() -> None:
    log = commitment_log()
    log.lawful_change("2025-03-01")
    log.clock = "2025-04-01"
    log.determine("D1", 500_000, "2025-07-01")
    assert fired(log, "2025-07-01", rules.COMPENSATION_OVERDUE) == []
    [row] = fired(log, "2025-07-02", rules.COMPENSATION_OVERDUE)
    assert row["detected_on"] == "2025-07-02"
    assert row["party"] == GOV
    log.compensate("D1", 200_000, "2025-07-10")
    assert len(fired(log, "2025-07-20", rules.COMPENSATION_OVERDUE)) == 1
    log.compensate("D1", 300_000, "2025-07-15")
    assert fired(log, "2025-07-20", rules.COMPENSATION_OVERDUE) == []


def test_undetermined_duty_never_fires_compensation_overdue() -> None:
    log = commitment_log()
    log.lawful_change("2025-03-01")
    assert fired(log, "2026-12-31", rules.COMPENSATION_OVERDUE) == []


# -- COMPLAINT_UNANSWERED ---------------------------------------------------


def test_complaint_unanswered_fires_after_30_days_and_stays() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.complaint("2025-07-01")
    assert fired(log, "2025-07-31", rules.COMPLAINT_UNANSWERED) == []
    [row] = fired(log, "2025-08-01", rules.COMPLAINT_UNANSWERED)
    assert row["detected_on"] == "2025-08-01"
    assert row["party"] == GOV
    assert row["subject_stream"] == "complaint/Q1"
    assert row["responsible"] is None
    log.answer("2025-08-03")
    [row] = fired(log, "2025-08-10", rules.COMPLAINT_UNANSWERED)
    assert "answered late" in row["detail"]


def test_complaint_answered_in_time_is_silent() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.complaint("2025-07-01")
    log.answer("2025-07-31")
    assert fired(log, "2025-12-31", rules.COMPLAINT_UNANSWERED) == []


def test_filters_by_rule_and_party() -> None:
    log = contract_log(payment_term_days=90)
    log.accept("2025-07-05")
    log.complaint("2025-07-01", against=SMALL)
    everything = breaches(log, "2025-12-31")
    assert {row["rule"] for row in everything} == {
        rules.TERM_OVER_60,
        rules.ARREARS,
        rules.COMPLAINT_UNANSWERED,
    }
    assert {row["rule"] for row in breaches(log, "2025-12-31", party=SMALL)} == {
        rules.COMPLAINT_UNANSWERED
    }
    assert [row["detected_on"] for row in everything] == sorted(
        row["detected_on"] for row in everything
    )
