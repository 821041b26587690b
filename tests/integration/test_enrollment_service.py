"""services/enrollments.py on the real ledger: enroll, next year, overlap, PATCH, benefit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial

import pytest
from marshmallow import ValidationError

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services import enrollments
from adjudicator.services.errors import Conflict, Invalid, NotFound
from schemas.common import flatten_errors
from tests.integration import builders
from tests.integration.builders import STAFF, enroll, load_enrollment, load_patch

pytestmark = pytest.mark.integration


def test_builders_make_npis_that_pass_the_check_digit():
    from schemas.fields import npi_is_valid

    assert all(npi_is_valid(builders.valid_npi()) for _ in range(200))


def test_enroll_creates_a_member_and_an_active_year(runtime):
    view = enroll(runtime, effective_date="2024-03-15")

    assert view["cardholder_id"].startswith("IC")
    assert view["status"] == "active"
    assert view["reasons"] == []
    assert view["cash_pay"] is False
    assert view["benefit_period"] == {"start": date(2024, 3, 15), "end": date(2025, 3, 14)}
    assert view["annual_max"] == 1_200_000
    assert enrollments.get(runtime, view["enrollment_id"]) == view


def test_an_uninsured_patient_is_enrolled_as_cash_pay(runtime):
    view = enroll(runtime, coverage={"type": "uninsured"})

    assert (view["status"], view["cash_pay"]) == ("active", True)


def test_a_medicaid_patient_is_enrolled_ineligible_with_the_government_program_reason(runtime):
    view = enroll(runtime, coverage={"type": "medicaid"})

    assert view["status"] == "ineligible"
    assert [r["code"] for r in view["reasons"]] == ["government_program"]


def test_an_existing_member_is_enrolled_for_the_next_year(runtime):
    first = enroll(runtime, effective_date="2024-01-01")

    second = enroll(runtime, cardholder_id=first["cardholder_id"], effective_date="2025-01-01")

    assert second["cardholder_id"] == first["cardholder_id"]
    assert second["enrollment_id"] != first["enrollment_id"]
    assert second["benefit_period"] == {"start": date(2025, 1, 1), "end": date(2025, 12, 31)}


def test_a_year_overlapping_one_of_the_members_years_is_a_conflict(runtime):
    first = enroll(runtime, effective_date="2024-03-15")

    with pytest.raises(Conflict):
        enroll(runtime, cardholder_id=first["cardholder_id"], effective_date="2025-03-14")


def test_a_year_starting_before_the_program_is_invalid_naming_its_first_day(runtime):
    with pytest.raises(Invalid) as raised:
        enroll(runtime, effective_date="2019-06-01")

    assert raised.value.errors == {
        "effective_date": ["The program starts on 2020-01-01: no terms are in force earlier."]
    }


def test_a_year_that_would_end_past_the_calendar_is_invalid(runtime):
    with pytest.raises(Invalid) as raised:
        enroll(runtime, effective_date="9999-06-01")

    assert raised.value.errors == {
        "effective_date": ["A year starting then would end after 9999-12-31."]
    }


@pytest.mark.parametrize("field", ["state", "country"])
def test_a_state_or_country_of_spaces_is_refused(field):
    payload = builders.enrollment_payload()
    payload["patient"]["address"][field] = "   "
    with pytest.raises(ValidationError) as raised:
        load_enrollment(payload)
    assert f"patient.address.{field}" in flatten_errors(raised.value.messages)


def test_a_state_and_country_are_stored_as_their_codes(runtime):
    patient = builders.enrollment_payload()["patient"]
    patient["address"].update(state=" ma ", country=" us", zip="02139")

    view = enroll(runtime, patient=patient)

    with reading(runtime.engine) as conn:
        address = ledger.enrollment(conn, view["enrollment_id"]).facts["patient"]["address"]
    assert (address["state"], address["country"]) == ("MA", "US")
    assert view["status"] == "active"


def test_enrolling_an_unknown_cardholder_id_is_invalid(runtime):
    with pytest.raises(Invalid) as raised:
        enroll(runtime, cardholder_id="IC-nobody-has-this-id")

    assert "cardholder_id" in raised.value.errors


def test_patching_the_coverage_to_medicaid_makes_the_year_ineligible(runtime):
    view = enroll(runtime)

    after = enrollments.update(
        runtime, view["enrollment_id"], load_patch({"coverage": {"type": "medicaid"}}), STAFF
    )

    assert after["status"] == "ineligible"
    assert [r["code"] for r in after["reasons"]] == ["government_program"]
    assert after["coverage"]["type"] == "medicaid"
    assert enrollments.get(runtime, view["enrollment_id"])["status"] == "ineligible"


def test_a_patch_changes_only_what_it_names(runtime):
    view = enroll(runtime, coverage={"type": "uninsured"})

    after = enrollments.update(
        runtime, view["enrollment_id"], load_patch({"weight_kg": "30"}), STAFF
    )

    assert after["weight_kg"] == "30"
    assert after["coverage"] == view["coverage"]
    assert after["patient"] == view["patient"]
    assert (after["status"], after["cash_pay"]) == ("active", True)


def test_patching_the_coverage_recomputes_cash_pay(runtime):
    view = enroll(runtime, coverage={"type": "uninsured"})

    patch = load_patch({"coverage": {"type": "commercial", "bin": "003858"}})
    after = enrollments.update(runtime, view["enrollment_id"], patch, STAFF)

    assert (after["status"], after["cash_pay"]) == ("active", False)


def test_moving_abroad_makes_the_year_ineligible_as_outside_us(runtime):
    view = enroll(runtime)
    address = {"line1": "1 Rue X", "city": "Paris", "state": "IDF", "zip": "75001"}

    patch = load_patch({"patient": {"address": {**address, "country": "FR"}}})
    after = enrollments.update(runtime, view["enrollment_id"], patch, STAFF)

    assert [r["code"] for r in after["reasons"]] == ["outside_us"]
    assert after["patient"]["first_name"] == view["patient"]["first_name"]


def test_a_patch_is_audited_with_the_enrollment_before_and_after(runtime):
    view = enroll(runtime)

    enrollments.update(
        runtime, view["enrollment_id"], load_patch({"coverage": {"type": "medicaid"}}), "user:ann"
    )

    created, changed = builders.events(runtime, "enrollment", view["enrollment_id"])
    assert created.type == "enrollment_created"
    assert (changed.type, changed.actor) == ("enrollment_changed", "user:ann")
    assert changed.cardholder_id == view["cardholder_id"]
    before, after = changed.data["before"], changed.data["after"]
    assert (before["status"], after["status"]) == ("active", "ineligible")
    assert (before["coverage"]["type"], after["coverage"]["type"]) == ("commercial", "medicaid")
    assert after["reasons"][0]["code"] == "government_program"
    assert before["benefit_period"] == {"start": "2024-01-01", "end": "2024-12-31"}


def test_patching_an_unknown_enrollment_is_not_found(runtime):
    with pytest.raises(NotFound):
        enrollments.update(runtime, "no-such-enrollment", load_patch({"weight_kg": "20"}), STAFF)


def test_the_benefit_of_a_fresh_year_is_the_whole_annual_maximum(runtime):
    view = enroll(runtime, effective_date="2024-03-15")

    benefit = enrollments.benefit(runtime, view["cardholder_id"], date(2025, 3, 14))

    assert benefit["enrollment_id"] == view["enrollment_id"]
    assert benefit["benefit_period"] == view["benefit_period"]
    assert (benefit["used"], benefit["remaining"]) == (0, benefit["annual_max"])


def test_the_benefit_on_a_date_outside_every_year_is_not_found(runtime):
    view = enroll(runtime, effective_date="2024-03-15")

    for outside in (date(2024, 3, 14), date(2025, 3, 15)):
        with pytest.raises(NotFound):
            enrollments.benefit(runtime, view["cardholder_id"], outside)


def test_the_benefit_of_an_unknown_cardholder_is_not_found(runtime):
    with pytest.raises(NotFound):
        enrollments.benefit(runtime, "IC-nobody-has-this-id", date(2024, 6, 1))


def test_the_request_schema_loads_what_the_service_expects(runtime):
    data = load_enrollment(builders.enrollment_payload())

    assert data["cardholder_id"] is None
    assert data["effective_date"] == date(2024, 1, 1)


def _at_once(*calls):
    """Run the calls on threads released together; each one's result or exception."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except Exception as error:  # the test looks at what each call raised
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_patches_at_once_both_stick(runtime):
    views = [enroll(runtime) for _ in range(8)]
    ineligible = load_patch({"attestations": {"other_assistance": True}})
    heavier = load_patch({"weight_kg": "30.0"})

    for view in views:
        patch = partial(enrollments.update, runtime, view["enrollment_id"], actor=STAFF)
        _at_once(partial(patch, ineligible), partial(patch, heavier))

    for view in views:
        after = enrollments.get(runtime, view["enrollment_id"])
        assert (after["status"], after["weight_kg"]) == ("ineligible", "30")


def test_two_renewals_at_once_make_one_year_and_one_conflict(runtime):
    for _ in range(8):
        member = enroll(runtime, effective_date="2024-01-01")
        renew = partial(
            enroll, runtime, cardholder_id=member["cardholder_id"], effective_date="2025-01-01"
        )

        outcomes = _at_once(renew, renew)

        assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "dict"]
