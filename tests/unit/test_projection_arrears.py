"""Arrears: start, term, due date, outstanding, interest (DESIGN 5, 5.1)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.timeutil import LAST_DATE, MAX_PERIOD_DAYS
from projections import contracts as contracts_module
from projections.engine import Projector
from tests.unit.test_projection_support import GOV, LARGE, SOE, LogBuilder, d, leaf_hash


def arrears(log: LogBuilder, as_of: str, **filters: Any) -> dict[str, Any]:
    projector = Projector()
    projector.extend(log.events)
    return projector.arrears(d(as_of), **filters)


def rows_by_milestone(log: LogBuilder, as_of: str) -> dict[str, dict[str, Any]]:
    return {row["milestone_id"]: row for row in arrears(log, as_of)["rows"]}


def worked_example() -> LogBuilder:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 20_000_000)])
    log.deliver("2025-07-01")
    log.accept("2025-07-05")
    return log


def test_design_worked_example() -> None:
    # 200,000.00 yuan, accepted 2025-07-05, term 30 -> due 2025-08-04; paid in full
    # 2025-08-20 -> 16 days late, 200,000 x 0.0005 x 16 = 1,600.00 yuan.
    log = worked_example()
    payment = log.pay("2025-08-20", 20_000_000)
    report = arrears(log, "2025-09-01")
    assert report["as_of"] == "2025-09-01"
    assert report["log_size"] == len(log.events)
    [row] = report["rows"]
    assert row["due_date"] == "2025-08-04"
    assert row["interest_fen"] == 160_000
    assert row["days_overdue"] == 0  # paid: stays listed for its interest
    assert row["outstanding_fen"] == 0
    assert row["paid_fen"] == 20_000_000
    assert row["payer"] == GOV
    assert row["responsible"]["official"] == "Wang Wei"
    assert payment.leaf_hash.hex() in row["evidence"]
    assert report["totals"]["interest_fen"] == 160_000
    assert report["totals"]["rows"] == 1


def test_worked_example_while_unpaid() -> None:
    log = worked_example()
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["days_overdue"] == 16
    assert row["outstanding_fen"] == 20_000_000
    assert row["interest_fen"] == 160_000


def test_not_yet_due_gives_no_row() -> None:
    assert arrears(worked_example(), "2025-08-04")["rows"] == []


def test_paid_on_time_gives_no_row() -> None:
    log = worked_example()
    log.pay("2025-08-04", 20_000_000)
    assert arrears(log, "2025-09-30")["rows"] == []


def test_partial_payments_interest_on_a_changing_balance() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)])
    log.accept("2025-07-05")
    log.pay("2025-08-10", 400_000)
    [row] = arrears(log, "2025-08-20")["rows"]
    # 08-05..08-10 on 1,000,000 (the payment day accrues), 08-11..08-20 on 600,000.
    assert row["interest_fen"] == (6 * 1_000_000 + 10 * 600_000) * 5 // 10_000
    assert row["outstanding_fen"] == 600_000
    assert row["paid_fen"] == 400_000
    assert row["days_overdue"] == 16


def test_open_dispute_the_undisputed_part_still_falls_due() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)])
    log.accept("2025-07-05")
    log.dispute("2025-07-20", 300_000)
    [row] = arrears(log, "2025-08-14")["rows"]
    assert row["disputed_fen"] == 300_000
    assert row["outstanding_fen"] == 700_000
    assert row["days_overdue"] == 10
    assert row["interest_fen"] == 700_000 * 10 * 5 // 10_000


def test_resolved_dispute_owed_part_returns_the_day_after() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)])
    log.accept("2025-07-05")
    log.dispute("2025-07-20", 300_000)
    log.resolve("2025-08-24", 100_000)
    [row] = arrears(log, "2025-09-03")["rows"]
    assert row["disputed_fen"] == 0
    assert row["outstanding_fen"] == 800_000  # 200,000 left the milestone
    assert row["amount_fen"] == 1_000_000
    # 08-05..08-24 on 700,000; 08-25..09-03 on 800,000.
    assert row["interest_fen"] == (20 * 700_000 + 10 * 800_000) * 5 // 10_000


def test_dispute_raised_after_due_leaves_the_day_after_raised_on() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)])
    log.accept("2025-07-05")
    log.dispute("2025-08-10", 1_000_000)
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["outstanding_fen"] == 0
    assert row["days_overdue"] == 0
    assert row["interest_fen"] == 6 * 1_000_000 * 5 // 10_000


def test_late_acceptance_starts_the_term_at_the_period_end() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], acceptance_period_days=10)
    log.deliver("2025-07-01")
    log.accept("2025-07-20")  # period ended 07-11
    [row] = arrears(log, "2025-08-20")["rows"]
    # 07-11 + 30 = 08-10, a Sunday -> 08-11.
    assert row["due_date"] == "2025-08-11"
    assert row["days_overdue"] == 9


def test_missing_acceptance_starts_the_term_at_the_period_end() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], acceptance_period_days=10)
    log.deliver("2025-07-01")
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["due_date"] == "2025-08-11"


def test_timely_acceptance_starts_the_term_on_accepted_on() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], acceptance_period_days=10)
    log.deliver("2025-07-01")
    log.accept("2025-07-08")
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["due_date"] == "2025-08-07"


def test_failed_acceptance_in_time_starts_nothing_until_redelivery() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], acceptance_period_days=10)
    log.deliver("2025-07-01")
    log.accept("2025-07-05", result="failed")
    assert arrears(log, "2025-12-31")["rows"] == []
    log.deliver("2025-07-15")  # new period ends 07-25
    log.accept("2025-07-22")
    [row] = arrears(log, "2025-09-01")["rows"]
    assert row["due_date"] == "2025-08-21"


def test_failed_acceptance_after_the_period_is_late_and_starts_the_term() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], acceptance_period_days=10)
    log.deliver("2025-07-01")
    log.accept("2025-07-15", result="failed")
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["due_date"] == "2025-08-11"


def test_without_acceptance_period_there_is_no_cap() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)])
    log.deliver("2025-07-01")
    assert arrears(log, "2025-12-31")["rows"] == []
    log.accept("2025-09-01")
    [row] = arrears(log, "2025-12-31")["rows"]
    assert row["due_date"] == "2025-10-01"  # no calendar published: only weekends rest


def test_sixty_day_cap_for_public_buyer_and_sme_supplier() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], payment_term_days=90)
    log.accept("2025-07-05")
    [row] = arrears(log, "2025-09-13")["rows"]
    assert row["due_date"] == "2025-09-03"  # 07-05 + 60
    assert row["days_overdue"] == 10


def test_no_cap_for_a_large_supplier() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(
        milestones=[("M1", 1_000_000)], supplier=LARGE, scale="large", payment_term_days=90
    )
    log.accept("2025-07-05")
    assert arrears(log, "2025-10-03")["rows"] == []
    [row] = arrears(log, "2025-10-04")["rows"]
    assert row["due_date"] == "2025-10-03"


def test_no_cap_for_an_soe_buyer() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], buyer=SOE, payment_term_days=90)
    log.accept("2025-07-05")
    [row] = arrears(log, "2025-10-04")["rows"]
    assert row["due_date"] == "2025-10-03"


def test_holiday_moves_the_due_date() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.calendar()
    log.contract(milestones=[("M1", 1_000_000)])
    log.accept("2025-09-01")  # + 30 = 10-01, National Day
    assert arrears(log, "2025-10-09")["rows"] == []
    [row] = arrears(log, "2025-10-10")["rows"]
    assert row["due_date"] == "2025-10-09"
    assert row["days_overdue"] == 1


def test_unallocated_payment_settles_the_earliest_due_milestone_first() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 500_000), ("M2", 300_000)], basis="delivery")
    log.deliver("2025-07-10", "M1")  # due 08-09, a Saturday -> 08-11
    log.deliver("2025-07-01", "M2")  # due 07-31
    log.pay("2025-08-15", 400_000, milestone=None)
    rows = rows_by_milestone(log, "2025-08-20")
    assert rows["M2"]["paid_fen"] == 300_000
    assert rows["M2"]["outstanding_fen"] == 0
    assert rows["M2"]["interest_fen"] == 15 * 300_000 * 5 // 10_000
    assert rows["M1"]["paid_fen"] == 100_000
    assert rows["M1"]["outstanding_fen"] == 400_000
    assert rows["M1"]["interest_fen"] == (4 * 500_000 + 5 * 400_000) * 5 // 10_000


def test_unallocated_payment_is_allocated_once_on_due_dates_known_on_paid_on() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 500_000), ("M2", 300_000)], basis="delivery")
    log.deliver("2025-07-10", "M1")
    log.pay("2025-08-15", 100_000, milestone=None)
    # M2's delivery, dated earlier, is recorded after the payment: the allocation stays.
    log.deliver("2025-07-01", "M2")
    rows = rows_by_milestone(log, "2025-08-20")
    assert rows["M1"]["paid_fen"] == 100_000
    assert rows["M2"]["paid_fen"] == 0


def test_unallocated_payment_spills_over_to_milestones_not_yet_due() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 500_000), ("M2", 300_000), ("M3", 200_000)], basis="delivery")
    log.deliver("2025-07-01", "M2")
    log.pay("2025-07-20", 700_000, milestone=None)
    projector = Projector()
    projector.extend(log.events)
    state = projector.subjects["contract/C1"]
    payment = state["facts"][-1]
    assert payment["allocation"] == [["M2", 300_000], ["M1", 400_000]]
    assert payment["unallocated_fen"] == 0


def test_unallocated_payment_fills_undisputed_parts_before_disputed_ones() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 500_000), ("M2", 300_000)], basis="delivery")
    log.deliver("2025-07-01", "M1")
    log.deliver("2025-07-10", "M2")
    log.dispute("2025-07-15", 200_000, "M1")
    log.pay("2025-08-20", 700_000, milestone=None)
    projector = Projector()
    projector.extend(log.events)
    payment = projector.subjects["contract/C1"]["facts"][-1]
    assert payment["allocation"] == [["M1", 400_000], ["M2", 300_000]]


def test_a_payment_naming_a_milestone_already_paid_without_one_spills_over() -> None:
    """The domain keeps a payment naming M1 within M1's amount less the payments naming
    M1, but cannot see that an earlier payment without a milestone went to M1. Counting
    both on M1 showed M2 owing money that had been paid (with interest on it): what M1
    no longer owes goes where a payment without a milestone would."""
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 200_000), ("M2", 300_000)], basis="delivery")
    log.deliver("2025-07-01", "M1")  # due 07-31
    log.deliver("2025-07-10", "M2")  # due 08-09, a Saturday -> 08-11
    log.pay("2025-07-20", 200_000, milestone=None)  # to M1, the earliest due
    log.pay("2025-07-25", 150_000, milestone="M1")
    projector = Projector()
    projector.extend(log.events)
    named = projector.subjects["contract/C1"]["facts"][-1]
    assert named["allocation"] == [["M2", 150_000]]
    rows = rows_by_milestone(log, "2025-08-20")
    assert list(rows) == ["M2"]
    assert rows["M2"]["paid_fen"] == 150_000
    assert rows["M2"]["outstanding_fen"] == 150_000
    assert rows["M2"]["interest_fen"] == 9 * 150_000 * 5 // 10_000


def test_a_payment_naming_a_milestone_fills_it_first_even_before_it_is_due() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 200_000), ("M2", 300_000)], basis="delivery")
    log.deliver("2025-07-01", "M1")
    log.pay("2025-07-20", 100_000, milestone=None)  # to M1
    log.pay("2025-07-25", 250_000, milestone="M2")  # M2 not delivered: still all on M2
    projector = Projector()
    projector.extend(log.events)
    assert projector.subjects["contract/C1"]["facts"][-1]["allocation"] == [["M2", 250_000]]


def test_an_acceptance_recorded_before_its_delivery_is_still_capped() -> None:
    """Log order is not business order: delivered 07-01 with a 15-day period (ends
    07-16), accepted 07-25, gives the same due date and late acceptance whichever of the
    two was recorded first."""
    def due_and_rules(accept_first: bool) -> tuple[str, list[str]]:
        log = LogBuilder()
        log.standard_parties()
        log.contract(acceptance_period_days=15)
        if accept_first:
            log.accept("2025-07-25")
            log.deliver("2025-07-01")
        else:
            log.deliver("2025-07-01")
            log.accept("2025-07-25")
        [row] = arrears(log, "2025-09-30")["rows"]
        projector = Projector()
        projector.extend(log.events)
        return row["due_date"], sorted(r["rule"] for r in projector.breaches(d("2025-09-30"))["rows"])

    assert due_and_rules(accept_first=True) == due_and_rules(accept_first=False)
    assert due_and_rules(accept_first=True) == ("2025-08-15", ["ACCEPTANCE_LATE", "ARREARS"])


def test_unallocated_interest_payment_goes_to_accrued_interest() -> None:
    log = worked_example()
    log.pay("2025-08-20", 20_000_000)
    log.pay("2025-09-01", 160_000, milestone=None, purpose="interest")
    [row] = arrears(log, "2025-09-02")["rows"]
    assert row["interest_paid_fen"] == 160_000
    assert row["interest_fen"] == 160_000


def test_settlement_basis_owes_the_latest_confirmed_amount() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], basis="settlement")
    log.settle("2025-07-01", 800_000)
    log.settle("2025-07-10", 900_000)
    [row] = arrears(log, "2025-08-10")["rows"]
    assert row["amount_fen"] == 900_000
    assert row["due_date"] == "2025-07-31"  # term runs from the first confirmation
    assert row["outstanding_fen"] == 900_000


def test_settlement_basis_without_confirmation_owes_nothing() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], basis="settlement")
    log.deliver("2025-07-01")
    assert arrears(log, "2025-12-31")["rows"] == []


def test_delivery_basis_starts_on_delivery() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], basis="delivery")
    log.deliver("2025-07-01")
    [row] = arrears(log, "2025-08-01")["rows"]
    assert row["due_date"] == "2025-07-31"


def test_events_dated_after_as_of_do_not_count() -> None:
    log = worked_example()
    log.pay("2025-08-20", 20_000_000)
    [row] = arrears(log, "2025-08-19")["rows"]
    assert row["paid_fen"] == 0
    assert row["outstanding_fen"] == 20_000_000
    assert row["days_overdue"] == 15


def test_payment_on_as_of_counts_but_its_day_accrues() -> None:
    log = worked_example()
    log.pay("2025-08-20", 20_000_000)
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["outstanding_fen"] == 0
    assert row["days_overdue"] == 0
    assert row["interest_fen"] == 160_000


def test_contract_signed_after_as_of_is_skipped() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], basis="delivery", signed_on="2025-09-01")
    log.deliver("2025-07-01")  # odd data, but the contract does not exist yet on 08-15
    assert arrears(log, "2025-08-15")["rows"] == []
    assert len(arrears(log, "2025-09-02")["rows"]) == 1


def test_large_supplier_agreed_rate() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(
        milestones=[("M1", 3_650_000)],
        supplier=LARGE,
        scale="large",
        basis="delivery",
        late_interest_annual_bp=365,
    )
    log.deliver("2025-07-01")
    [row] = arrears(log, "2025-08-10")["rows"]
    assert row["interest_fen"] == 3_650_000 * 10 * 365 // (10_000 * 365)


def test_large_supplier_without_agreed_rate_uses_lpr_at_signing() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.lpr("2025-05-20", 300)
    log.lpr("2025-06-20", 500)  # after signing on 06-01: not the rate in force
    log.contract(milestones=[("M1", 3_650_000)], supplier=LARGE, scale="large", basis="delivery")
    log.deliver("2025-07-01")
    [row] = arrears(log, "2025-08-10")["rows"]
    assert row["interest_fen"] == 3_000


def test_large_supplier_without_any_rate_accrues_no_interest() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 3_650_000)], supplier=LARGE, scale="large", basis="delivery")
    log.deliver("2025-07-01")
    [row] = arrears(log, "2025-08-10")["rows"]
    assert row["interest_fen"] == 0
    assert row["days_overdue"] == 10
    log.pay("2025-08-10", 3_650_000)
    assert arrears(log, "2025-08-20")["rows"] == []  # neither overdue nor interest


def test_sme_agreed_rate_below_lpr_accrues_at_the_lpr() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.lpr("2025-05-20", 300)
    log.contract(milestones=[("M1", 3_650_000)], basis="delivery", late_interest_annual_bp=200)
    log.deliver("2025-07-01")
    [row] = arrears(log, "2025-08-10")["rows"]
    assert row["interest_fen"] == 3_000


def test_sme_agreed_rate_above_lpr_accrues_at_the_agreed_rate() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.lpr("2025-05-20", 300)
    log.contract(milestones=[("M1", 3_650_000)], basis="delivery", late_interest_annual_bp=400)
    log.deliver("2025-07-01")
    [row] = arrears(log, "2025-08-10")["rows"]
    assert row["interest_fen"] == 4_000


def test_rounding_half_up_once_per_row_and_totals_add_rounded_rows() -> None:
    log = LogBuilder()
    log.standard_parties()
    # 365 bp a year = 1/10000 a day: 2,500 fen over 2 days = 0.5 fen -> 1 fen.
    # Rounding each day (0.25) would give 0.
    log.contract(
        milestones=[("M1", 2_500), ("M2", 2_500)],
        supplier=LARGE,
        scale="large",
        basis="delivery",
        late_interest_annual_bp=365,
    )
    log.deliver("2025-07-01", "M1")
    log.deliver("2025-07-01", "M2")
    report = arrears(log, "2025-08-02")
    assert [row["interest_fen"] for row in report["rows"]] == [1, 1]
    assert report["totals"]["interest_fen"] == 2  # the exact sum, 1.0, would round to 1


def test_contested_payment_is_shown_and_still_counts() -> None:
    log = worked_example()
    log.pay("2025-08-10", 5_000_000, payment_id="PX")
    log.contest("PX")
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["contested_fen"] == 5_000_000
    assert row["paid_fen"] == 5_000_000
    assert row["outstanding_fen"] == 15_000_000


def test_interest_payments_are_reported_apart() -> None:
    log = worked_example()
    log.pay("2025-08-20", 20_000_000)
    log.pay("2025-08-25", 100_000, purpose="interest")
    [row] = arrears(log, "2025-09-01")["rows"]
    assert row["interest_paid_fen"] == 100_000
    assert row["paid_fen"] == 20_000_000


def test_payer_and_payee_filters() -> None:
    log = worked_example()
    assert len(arrears(log, "2025-08-20", payer=GOV)["rows"]) == 1
    assert arrears(log, "2025-08-20", payer=SOE)["rows"] == []
    assert arrears(log, "2025-08-20", payee=LARGE)["rows"] == []


def test_evidence_is_hex_leaf_hashes_in_log_order() -> None:
    log = worked_example()
    [row] = arrears(log, "2025-08-20")["rows"]
    signed = next(e for e in log.events if e.type == "contract.signed")
    accepted = log.events[-1]
    delivered = log.events[-2]
    assert row["evidence"] == [
        leaf_hash(signed.index).hex(),
        leaf_hash(delivered.index).hex(),
        leaf_hash(accepted.index).hex(),
    ]


def test_one_resolution_settles_every_open_dispute_of_the_milestone() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)])
    log.accept("2025-07-05")
    log.dispute("2025-07-10", 100_000)
    log.dispute("2025-07-12", 200_000)
    log.resolve("2025-07-20", 50_000)  # of the 300,000 disputed, 50,000 is owed
    [row] = arrears(log, "2025-08-05")["rows"]
    assert row["disputed_fen"] == 0
    assert row["outstanding_fen"] == 750_000


def test_redelivery_while_a_period_runs_does_not_restart_it() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], acceptance_period_days=10)
    log.deliver("2025-07-01")
    log.deliver("2025-07-08")
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["due_date"] == "2025-08-11"  # from the first period's end, 07-11


def test_passed_acceptance_without_a_recorded_delivery_starts_the_term() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], acceptance_period_days=10)
    log.accept("2025-07-05")
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["due_date"] == "2025-08-04"


def test_delivery_basis_runs_from_the_earliest_delivery() -> None:
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000)], basis="delivery")
    log.deliver("2025-07-10")
    log.deliver("2025-07-01")  # recorded later, dated earlier
    [row] = arrears(log, "2025-08-20")["rows"]
    assert row["due_date"] == "2025-07-31"


def test_amendment_and_termination_do_not_change_arrears_yet() -> None:
    log = worked_example()
    before = arrears(log, "2025-09-01")["rows"]
    log.add("contract/C1", "contract.amended", {"changes": "term", "reason": "budget"})
    log.add("contract/C1", "contract.terminated", {"on": "2025-08-10", "reason": "budget"})
    after = arrears(log, "2025-09-01")["rows"]
    for row in (*before, *after):
        del row["evidence"]
    assert after == before


def test_contest_counts_from_the_business_date_it_was_recorded() -> None:
    log = worked_example()
    log.pay("2025-08-10", 5_000_000, payment_id="PX")
    log.clock = "2025-08-15"
    log.contest("PX")
    assert arrears(log, "2025-08-14")["rows"][0]["contested_fen"] == 0
    assert arrears(log, "2025-08-15")["rows"][0]["contested_fen"] == 5_000_000


def test_recorded_at_is_read_in_china_standard_time() -> None:
    log = worked_example()
    log.pay("2025-08-10", 5_000_000, payment_id="PX")
    event = log.contest("PX")
    # 2025-08-14T17:00Z is already 2025-08-15 01:00 in Beijing.
    log.events[-1] = type(event)(
        index=event.index,
        leaf_hash=event.leaf_hash,
        stream=event.stream,
        version=event.version,
        type=event.type,
        recorded_at="2025-08-14T17:00:00Z",
        signer=event.signer,
        body=event.body,
        prev=event.prev,
    )
    assert arrears(log, "2025-08-14")["rows"][0]["contested_fen"] == 0
    assert arrears(log, "2025-08-15")["rows"][0]["contested_fen"] == 5_000_000


def test_the_last_business_date_and_longest_periods_fold() -> None:
    """The catalogue's bounds (dates to 2999-12-31, periods of at most MAX_PERIOD_DAYS)
    keep every period end and day counted by the read models a representable date."""
    last = LAST_DATE.isoformat()
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000), ("M2", 1_000)], signed_on=last,
                 payment_term_days=MAX_PERIOD_DAYS, acceptance_period_days=MAX_PERIOD_DAYS)
    log.deliver(last)
    log.deliver(last, "M2")
    log.pay(last, 500, milestone=None)
    report = arrears(log, last)
    assert report["rows"] == []  # nothing falls due before the end of the range
    projector = Projector()
    projector.extend(log.events)
    # The 3,660-day term breaks the 60-day cap for a government buyer and a small supplier.
    assert [row["rule"] for row in projector.breaches(LAST_DATE)["rows"]] == ["TERM_OVER_60"]


def test_named_payments_are_folded_without_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    """Allocating walks the contract's facts: done for every named payment, folding
    8,000 payments on one contract took minutes (quadratic). Until a payment naming no
    milestone is folded, nothing can spill, so a named payment goes straight to its
    milestone; after one, named payments are allocated (and may spill)."""
    calls: list[str | None] = []
    real = contracts_module.allocate_payment

    def counted(*args: Any) -> Any:
        calls.append(args[5] if len(args) > 5 else None)
        return real(*args)

    monkeypatch.setattr(contracts_module, "allocate_payment", counted)
    log = LogBuilder()
    log.standard_parties()
    log.contract(milestones=[("M1", 1_000_000), ("M2", 1_000_000)], basis="delivery")
    log.deliver("2025-07-01")
    for _ in range(50):
        log.pay("2025-07-02", 1_000)
    projector = Projector()
    projector.extend(log.events)
    assert calls == []
    log.pay("2025-07-03", 1_000, milestone=None)
    log.pay("2025-07-04", 1_000)
    projector = Projector()
    projector.extend(log.events)
    assert calls == [None, "M1"]
