"""Re-adjudication replays computed by hand: terms amended mid-year, a government program
found mid-year, reversals, the window's edges; dry run versus apply; a second run.

Every test has a ledger of its own (see readjudication_support), so the terms versions it
posts decide nobody else's claims.
"""

from __future__ import annotations

from typing import Any

import pytest

from adjudicator.services import enrollments, reversals
from adjudicator.services.runtime import Runtime
from tests.integration.builders import claim_payload, enroll, load_patch, pay, pharmacy
from tests.integration.readjudication_support import (
    all_changes,
    assert_accumulator_matches_ledger,
    claim_rows,
    events_of,
    paid_in_year,
    post_terms,
    run_job,
)

pytestmark = pytest.mark.integration

YEAR = ("2021-01-01", "2021-12-31")


def bill(rt: Runtime, cardholder_id: str, npi: str, dos: str, amount: str, **kw: Any) -> Any:
    payload = claim_payload(cardholder_id, npi, responsibility=amount, date_of_service=dos, **kw)
    if kw.get("cob", "keep") is None:
        payload.pop("cob")  # no other coverage (code 1): a cash-pay claim
    return pay(rt, payload)


def summary(job: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    s = job["summary"]
    return (
        s["claims"],
        s["unchanged"],
        s["changed"],
        s["program_paid_before"],
        s["program_paid_after"],
        s["delta"],
    )


def statuses(rt: Runtime, cardholder_id: str) -> list[tuple[str, int]]:
    return [(row.status, row.program_paid) for row in claim_rows(rt, cardholder_id)]


# --- cash-pay maximum lowered from 2021-07-01 ----------------------------------------


def test_a_lower_cash_pay_maximum_changes_only_the_claims_served_after_it(rt: Runtime) -> None:
    npi = pharmacy(rt)
    member = enroll(rt, coverage={"type": "uninsured"}, effective_date="2021-01-01")
    holder = member["cardholder_id"]
    march = bill(rt, holder, npi, "2021-03-01", "1500.00", cob=None)
    august = bill(rt, holder, npi, "2021-08-01", "1500.00", cob=None)
    september = bill(rt, holder, npi, "2021-09-01", "700.00", cob=None)
    assert statuses(rt, holder) == [("paid", 100000), ("paid", 100000), ("paid", 70000)]
    post_terms(rt, "2021-07", "2021-07-01", cash_pay_per_rx_max="800.00")

    dry = run_job(rt, *YEAR, "dry_run")

    # March stays under 2020-01 ($1,000); August's $1,500 is now capped at $800.
    assert dry["status"] == "succeeded"
    assert summary(dry) == (3, 2, 1, 270000, 250000, -20000)
    assert dry["progress"] == {"total": 3, "done": 3}
    assert all_changes(rt, dry["job_id"]) == [
        {
            "claim_id": august.claim_id,
            "cardholder_id": holder,
            "date_of_service": august.date_of_service,
            "before": {"status": "paid", "program_paid": 100000},
            "after": {"status": "paid", "program_paid": 80000},
        }
    ]
    # A dry run changes nothing.
    assert statuses(rt, holder) == [("paid", 100000), ("paid", 100000), ("paid", 70000)]
    assert rt.accumulator.used(holder, member["enrollment_id"]) == 270000

    applied = run_job(rt, *YEAR, "apply")

    assert summary(applied) == summary(dry)
    assert statuses(rt, holder) == [("paid", 100000), ("paid", 80000), ("paid", 70000)]
    row = claim_rows(rt, holder)[1]
    assert row.decision["terms_version"] == "2021-07"
    assert row.decision["amounts"]["patient_pay"] == 70000
    assert row.decision["reasons"][-1]["rule"] == "cash_pay_per_rx_max"
    assert row.authorization_number == august.authorization_number
    assert rt.accumulator.used(holder, member["enrollment_id"]) == 250000
    assert_accumulator_matches_ledger(rt, holder)
    history = events_of(rt, august.claim_id)
    assert [e.type for e in history][-1] == "readjudicated"
    event = history[-1]
    assert event.actor == f"readjudication:{applied['job_id']}"
    assert event.data["before"]["decision"] == august.decision  # the old decision, kept
    assert event.data["after"] == {"status": "paid", "program_paid": 80000}
    assert march.claim_id not in {c["claim_id"] for c in all_changes(rt, applied["job_id"])}
    assert september.status == "paid"

    again = run_job(rt, *YEAR, "apply")

    assert summary(again) == (3, 3, 0, 250000, 250000, 0)
    assert all_changes(rt, again["job_id"]) == []


# --- annual maximum raised from 2021-07-01 -------------------------------------------


def test_a_higher_annual_maximum_pays_a_claim_the_old_cap_rejected(rt: Runtime) -> None:
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2021-01-01")
    holder, year = member["cardholder_id"], member["enrollment_id"]
    for dos in ("2021-02-01", "2021-03-01"):
        bill(rt, holder, npi, dos, "5000.00")
    april = bill(rt, holder, npi, "2021-04-01", "5000.00")  # $2,000 left of $12,000
    august = bill(rt, holder, npi, "2021-08-01", "3000.00")  # nothing left: 76
    assert (april.program_paid, august.status) == (200000, "rejected")
    assert august.decision["reject_codes"][0]["code"] == "76"
    post_terms(rt, "2021-07-max", "2021-07-01", annual_max="15000.00")

    # Only the second half is in the window; the first half keeps its amounts and counts.
    dry = run_job(rt, "2021-07-01", "2021-12-31", "dry_run")

    assert summary(dry) == (1, 0, 1, 0, 300000, 300000)
    applied = run_job(rt, "2021-07-01", "2021-12-31", "apply")
    assert summary(applied) == (1, 0, 1, 0, 300000, 300000)
    row = claim_rows(rt, holder)[-1]
    assert (row.status, row.program_paid, row.paid_key is not None) == ("paid", 300000, True)
    assert row.decision["benefit"]["used_before"] == 1200000
    assert row.decision["benefit"]["annual_max"] == 1500000
    assert row.authorization_number
    assert rt.accumulator.used(holder, year) == 1500000 == paid_in_year(rt, holder, year)
    assert_accumulator_matches_ledger(rt, holder)
    # April was decided under 2020-01 and its $12,000: replaying the year leaves it as is.
    whole_year = run_job(rt, *YEAR, "apply")
    assert summary(whole_year) == (4, 4, 0, 1500000, 1500000, 0)


def test_claims_outside_the_window_keep_their_amounts_and_leave_room_for_them(
    rt: Runtime,
) -> None:
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2021-01-01", weight_kg="10.0")
    holder, year = member["cardholder_id"], member["enrollment_id"]
    # 80 mg over 30 days is 2.67 mg/day, over 0.24 mg/kg/day x 10 kg: rejected 88, reviewable.
    february = bill(rt, holder, npi, "2021-02-01", "5000.00")
    small_dose = claim_payload(holder, npi, date_of_service="2021-03-01")["lines"]
    small_dose[0].update(quantity="2.000", patient_responsibility="10000.00")
    march = bill(rt, holder, npi, "2021-03-01", "10000.00", lines=small_dose)
    assert (february.status, february.review_state) == ("rejected", "open")
    assert (march.status, march.program_paid) == ("paid", 1000000)
    enrollments.update(rt, year, load_patch({"weight_kg": "25.0"}), "user:hub")

    # February alone: March ($10,000, adjudicated later, outside the window) keeps its amount,
    # so February may take only what March leaves of the $12,000.
    applied = run_job(rt, "2021-02-01", "2021-02-28", "apply")

    assert summary(applied) == (1, 0, 1, 0, 200000, 200000)
    row = claim_rows(rt, holder)[0]
    assert (row.status, row.program_paid) == ("paid", 200000)
    assert (row.review_state, row.review) == (None, None)  # nothing left to review
    assert claim_rows(rt, holder)[1].program_paid == 1000000
    assert rt.accumulator.used(holder, year) == 1200000
    assert_accumulator_matches_ledger(rt, holder)


# --- a government program discovered in June --------------------------------------------


def test_a_government_program_found_by_patch_turns_the_years_claims_to_65(rt: Runtime) -> None:
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2021-01-01")
    holder, year = member["cardholder_id"], member["enrollment_id"]
    paid = [
        bill(rt, holder, npi, dos, amount)
        for dos, amount in (("2021-02-01", "1500.00"), ("2021-05-01", "2000.00"))
    ]
    july = bill(rt, holder, npi, "2021-07-01", "1000.00")
    assert rt.accumulator.used(holder, year) == 450000
    changes = {"coverage": {"type": "medicaid"}}
    view = enrollments.update(rt, year, load_patch(changes), "user:hub")
    assert view["status"] == "ineligible"

    dry = run_job(rt, *YEAR, "dry_run", cardholder_id=holder)
    assert summary(dry) == (3, 0, 3, 450000, 0, -450000)
    assert [c["after"] for c in all_changes(rt, dry["job_id"])] == [
        {"status": "rejected", "program_paid": 0}
    ] * 3
    assert rt.accumulator.used(holder, year) == 450000  # dry run: untouched

    applied = run_job(rt, *YEAR, "apply", cardholder_id=holder)

    assert summary(applied) == summary(dry)
    for row in claim_rows(rt, holder):
        assert (row.status, row.program_paid, row.paid_key) == ("rejected", 0, None)
        assert row.authorization_number is None
        codes = [r["code"] for r in row.decision["reject_codes"]]
        assert codes == ["65"]
        assert "government_program" in row.decision["reject_codes"][0]["message"]
    assert rt.accumulator.used(holder, year) == 0
    assert set(rt.accumulator.snapshot(holder)["grants"]) == set()
    assert_accumulator_matches_ledger(rt, holder)
    # A second run finds nothing to change; the pharmacy can no longer reverse them.
    assert summary(run_job(rt, *YEAR, "apply", cardholder_id=holder)) == (3, 3, 0, 0, 0, 0)
    assert {p.claim_id for p in paid} | {july.claim_id} == {
        row.claim_id for row in claim_rows(rt, holder)
    }


# --- reversals and scope -------------------------------------------------------------------


def test_reversed_claims_stay_reversed_and_give_their_room_to_the_claims_after_them(
    rt: Runtime,
) -> None:
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2021-01-01")
    holder, year = member["cardholder_id"], member["enrollment_id"]
    first = bill(rt, holder, npi, "2021-02-01", "8000.00")  # 8,000
    second = bill(rt, holder, npi, "2021-03-01", "6000.00")  # 4,000: the cap
    reversals.reverse(rt, first.claim_id, npi, "pharmacy:" + npi)  # 8,000 back
    third = bill(rt, holder, npi, "2021-04-01", "9000.00")  # 8,000: the cap again
    assert (second.program_paid, third.program_paid) == (400000, 800000)

    # Replayed in order without the reversed claim, the second takes all it asked for.
    applied = run_job(rt, *YEAR, "apply")

    assert summary(applied) == (2, 0, 2, 1200000, 1200000, 0)
    assert statuses(rt, holder) == [("reversed", 800000), ("paid", 600000), ("paid", 600000)]
    assert rt.accumulator.used(holder, year) == 1200000
    assert_accumulator_matches_ledger(rt, holder)
    assert summary(run_job(rt, *YEAR, "dry_run")) == (2, 2, 0, 1200000, 1200000, 0)


def test_a_job_for_one_cardholder_leaves_the_others_alone(rt: Runtime) -> None:
    npi = pharmacy(rt)
    one = enroll(rt, effective_date="2021-01-01")
    other = enroll(rt, effective_date="2021-01-01")
    for member in (one, other):
        bill(rt, member["cardholder_id"], npi, "2021-03-01", "1500.00")
        enrollments.update(
            rt, member["enrollment_id"], load_patch({"coverage": {"type": "va"}}), "user:hub"
        )

    job = run_job(rt, *YEAR, "apply", cardholder_id=one["cardholder_id"])

    assert summary(job)[:3] == (1, 0, 1)
    assert statuses(rt, one["cardholder_id"]) == [("rejected", 0)]
    assert statuses(rt, other["cardholder_id"]) == [("paid", 150000)]


def test_an_empty_window_succeeds_with_nothing_to_do(rt: Runtime) -> None:
    job = run_job(rt, "2021-01-01", "2021-01-31", "apply")

    assert job["status"] == "succeeded"
    assert job["progress"] == {"total": 0, "done": 0}
    assert summary(job) == (0, 0, 0, 0, 0, 0)


# --- a claim from before the program -------------------------------------------------


def test_a_claim_from_before_the_first_terms_version_replays_unchanged(rt: Runtime) -> None:
    member = enroll(rt, effective_date="2020-01-01")
    early = bill(rt, member["cardholder_id"], pharmacy(rt), "2019-12-31", "100.00")
    assert (early.status, early.decision["reject_codes"][0]["code"]) == ("rejected", "67")

    job = run_job(rt, "2019-12-01", "2020-01-31", "dry_run")

    assert job["status"] == "succeeded"
    assert summary(job)[:3] == (1, 1, 0)


# --- what the audit trail shows -------------------------------------------------------


def _numbers(value: Any, key: str = "") -> list[str]:
    """The keys under which `value` (dumped event data) still holds a bare number."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _numbers(v, k)]
    if isinstance(value, list):
        return [found for item in value for found in _numbers(item, key)]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return [key] if is_number else []


def test_no_event_of_a_claims_life_shows_money_as_a_bare_number(rt: Runtime) -> None:
    from adjudicator.services import audit, review
    from schemas.audit import AuditPageSchema
    from tests.integration.builders import enrollment_payload

    born = {"date_of_birth": "2020-06-01"}
    member = enroll(
        rt, effective_date="2021-01-01", patient={**enrollment_payload()["patient"], **born}
    )
    cardholder, npi = member["cardholder_id"], pharmacy(rt)
    first = bill(rt, cardholder, npi, "2021-03-01", "1500.00", patient=born)  # 60: review
    review.review(rt, first.claim_id, "approve", "confirmed", "rita")
    reversals.reverse(rt, first.claim_id, npi, "pharmacy:test")
    second = bill(rt, cardholder, npi, "2021-04-01", "1500.00", patient=born)
    review.review(rt, second.claim_id, "approve", "confirmed", "rita")
    post_terms(rt, "2021-01b", "2021-01-01", annual_max="1000.00")
    assert summary(run_job(rt, *YEAR, "apply"))[2] == 1  # the second claim changed
    enrollments.update(rt, member["enrollment_id"], load_patch({"weight_kg": "20.0"}), "user:t")

    page = audit.events(rt, {"cardholder_id": cardholder, "limit": 200})
    dumped = AuditPageSchema().dump(page)["items"]

    types = {event["type"] for event in dumped}
    assert {"received", "decided", "review_approved", "reversed", "readjudicated"} <= types
    assert {"enrollment_created", "enrollment_changed"} <= types
    assert [(e["type"], _numbers(e["data"])) for e in dumped if _numbers(e["data"])] == []
