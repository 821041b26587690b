from datetime import date

import pytest

from adjudicator.domain.deidentify import COLUMNS, Claim, Patient, age_group, row, zip3

pytestmark = pytest.mark.unit

CLAIM = Claim(
    date_of_service=date(2026, 3, 1),
    pharmacy_chain="accredo",
    status="rejected",
    reject_codes=("09", "88"),
    amounts={"patient_responsibility": 154000, "eligible": 0, "program_paid": 0},
    terms_version="2020-01",
)
PATIENT = Patient(date(2015, 4, 2), None, "MA", "02139-4307", "US", "uninsured", True)


@pytest.mark.parametrize(
    ("zip_code", "exported"),
    [("02139", "021"), ("02139-4307", "021"), ("03601", "000"), ("89301", "000"),
     ("12", ""), ("AB123", ""), ("", "")],
)  # fmt: skip
def test_a_zip_code_keeps_three_digits_unless_its_area_is_small(zip_code, exported):
    assert zip3(zip_code) == exported


@pytest.mark.parametrize(
    ("born", "exported"),
    [(date(1936, 3, 2), "89"), (date(1936, 3, 1), "90+"), (date(1900, 1, 1), "90+")],
)
def test_ages_over_89_are_one_group(born, exported):
    assert age_group(born, date(2026, 3, 1)) == exported


def test_a_row_holds_the_columns_in_order_with_the_year_of_service_only():
    exported = row("k1", CLAIM, PATIENT)

    assert list(exported) == list(COLUMNS)
    assert exported["service_year"] == "2026"
    assert (exported["age"], exported["sex"], exported["zip3"]) == ("10", "", "021")
    assert exported["cash_pay"] == "true"
    assert exported["reject_codes"] == "09 88"
    assert (exported["patient_responsibility"], exported["patient_pay"]) == ("1540.00", "0.00")


def test_a_claim_without_an_enrollment_year_exports_no_patient_columns():
    exported = row("k2", CLAIM, None)

    patient_columns = ("age", "sex", "state", "zip3", "coverage_type", "cash_pay")
    assert {exported[column] for column in patient_columns} == {""}
    assert exported["status"] == "rejected"


def test_a_patient_abroad_exports_no_state_and_no_postcode():
    abroad = Patient(date(2015, 4, 2), "F", "IDF", "75001", "FR", "commercial", False)

    exported = row("k3", CLAIM, abroad)

    assert (exported["state"], exported["zip3"], exported["age"]) == ("", "", "10")
