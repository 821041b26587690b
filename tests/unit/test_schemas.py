"""The HTTP schemas accept exactly what API.md allows and dump exactly what it shows."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas import (
    BenefitQuerySchema,
    BenefitResponseSchema,
    ClaimListQuerySchema,
    ClaimListSchema,
    ClaimRequestSchema,
    DecisionSchema,
    EnrollmentPatchSchema,
    EnrollmentRequestSchema,
    EnrollmentResponseSchema,
    ReversalByKeySchema,
    ReviewRequestSchema,
    StrictSchema,
    TermsDocumentSchema,
    flatten_errors,
)
from schemas.fields import Money, SignedMoney, npi_is_valid
from tests.examples import CLAIM, DECISION, ENROLLMENT, TERMS

pytestmark = pytest.mark.unit

# --- the API.md examples (tests/examples.py) -------------------------------------------


CLAIM_REQUIRED_KEYS = (
    "cardholder_id",
    "service_provider_id",
    "rx_number",
    "fill_number",
    "date_of_service",
    "lines",
)


def decision_input() -> dict[str, Any]:
    """The dict the service layer hands DecisionSchema for the API.md decision."""
    return {
        "claim_id": "clm_1",
        "authorization_number": "AUTH1",
        "transaction_code": "B1",
        "status": "paid",
        "reject_codes": [],
        "amounts": {
            "patient_responsibility": 154000,
            "eligible": 150000,
            "program_paid": 150000,
            "patient_pay": 4000,
        },
        "benefit": {
            "period_start": date(2026, 1, 1),
            "period_end": date(2026, 12, 31),
            "annual_max": 1200000,
            "used_before": 0,
            "used_after": 150000,
            "remaining": 1050000,
        },
        "cash_pay": False,
        "reasons": copy.deepcopy(DECISION["reasons"]),
        "messages": list(DECISION["messages"]),
        "terms_version": "2020-01",
        "review": None,
    }


def claim(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(CLAIM)
    body.update(changes)
    return body


def claim_with_line(**changes: Any) -> dict[str, Any]:
    body = claim()
    body["lines"][0].update(changes)
    return body


def errors_of(schema: StrictSchema, body: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        schema.load(body)
    return flatten_errors(caught.value.messages)


# --- claims: the example and the normalized dict ------------------------------------


def test_the_api_md_claim_loads_into_plain_python_values() -> None:
    loaded = ClaimRequestSchema().load(CLAIM)

    assert loaded == {
        "transaction_code": "B1",
        "cardholder_id": "C-0001",
        "group_id": "IPSENCARES",
        "service_provider_id": "1234567893",
        "prescriber_npi": "1245319599",
        "rx_number": "RX1001",
        "fill_number": 0,
        "date_of_service": date(2026, 3, 1),
        "patient": {"date_of_birth": date(2015, 4, 2)},
        "cob": {
            "other_coverage_code": 8,
            "other_payer_bin": "003858",
            "other_payer_pcn": "A4",
            "other_payer_reject_codes": [],
        },
        "lines": [
            {
                "kind": "drug",
                "code": "15054104005",
                "patient_responsibility": 150000,
                "quantity": Decimal("8.000"),
                "days_supply": 30,
            },
            {
                "kind": "service",
                "code": "96372",
                "patient_responsibility": 4000,
                "quantity": None,
                "days_supply": None,
            },
        ],
        "diagnosis_code": "E34.3",
    }


def test_a_quantity_loads_as_a_decimal_never_a_float() -> None:
    quantity = ClaimRequestSchema().load(CLAIM)["lines"][0]["quantity"]

    assert type(quantity) is Decimal


def test_a_minimal_claim_gets_b1_and_no_other_coverage_by_default() -> None:
    body = {k: v for k, v in CLAIM.items() if k in CLAIM_REQUIRED_KEYS}

    loaded = ClaimRequestSchema().load(body)

    assert loaded["transaction_code"] == "B1"
    assert loaded["cob"] == {
        "other_coverage_code": 1,
        "other_payer_bin": None,
        "other_payer_pcn": None,
        "other_payer_reject_codes": [],
    }
    assert loaded["patient"] is None
    assert loaded["group_id"] is None
    assert loaded["prescriber_npi"] is None
    assert loaded["diagnosis_code"] is None


def test_an_absent_cob_and_an_explicit_code_1_load_identically() -> None:
    absent = claim()
    del absent["cob"]
    explicit = claim(cob={"other_coverage_code": 1})

    assert ClaimRequestSchema().load(absent) == ClaimRequestSchema().load(explicit)


def test_a_hyphenated_ndc_is_normalized_to_11_digits() -> None:
    loaded = ClaimRequestSchema().load(claim_with_line(code="15054-1040-05"))

    assert loaded["lines"][0]["code"] == "15054104005"


def test_a_hyphenated_and_a_plain_ndc_claim_load_identically() -> None:
    hyphenated = ClaimRequestSchema().load(claim_with_line(code="15054-1040-05"))

    assert hyphenated == ClaimRequestSchema().load(CLAIM)


def test_a_hcpcs_code_is_accepted_on_a_drug_line_in_upper_case() -> None:
    loaded = ClaimRequestSchema().load(claim_with_line(code="j2170", quantity="40"))

    assert loaded["lines"][0]["code"] == "J2170"
    assert loaded["lines"][0]["quantity"] == Decimal("40.000")


@pytest.mark.parametrize(
    "code", ["1505410400", "150541040050", "15054-104-005", "1505-41040-05", "J217", "JJ2170"]
)
def test_a_drug_code_that_is_neither_ndc_nor_hcpcs_is_rejected(code: str) -> None:
    errors = errors_of(ClaimRequestSchema(), claim_with_line(code=code))

    assert list(errors) == ["lines.0.code"]


def test_a_quantity_of_8_loads_equal_to_8_000() -> None:
    loaded = ClaimRequestSchema().load(claim_with_line(quantity="8"))

    assert str(loaded["lines"][0]["quantity"]) == "8.000"


# --- money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1000.0", "exactly two decimal places"),
        ("1000", "exactly two decimal places"),
        ("1e3", "exactly two decimal places"),
        ("1000.000", "exactly two decimal places"),
        (".50", "exactly two decimal places"),
        ("1,000.00", "exactly two decimal places"),
        (" 1000.00", "exactly two decimal places"),
        ("1000.00\n", "exactly two decimal places"),
        ("+1.00", "exactly two decimal places"),
        ("١٠٠٠.٠٠", "exactly two decimal places"),
        ("", "exactly two decimal places"),
        (None, "may not be null"),
        (True, "exactly two decimal places"),
        (1000, "not a JSON number"),
        (1000.0, "not a JSON number"),
        ("-1.00", "may not be negative"),
        ("-0.00", "may not be negative"),
        ("1000000.00", "may not exceed"),
    ],
)
def test_a_money_edge_is_rejected_at_its_field_path(amount: object, message: str) -> None:
    errors = errors_of(ClaimRequestSchema(), claim_with_line(patient_responsibility=amount))

    assert list(errors) == ["lines.0.patient_responsibility"]
    assert message in errors["lines.0.patient_responsibility"][0]


@pytest.mark.parametrize(
    ("amount", "cents"), [("0.00", 0), ("0.01", 1), ("40.00", 4000), ("999999.99", 99_999_999)]
)
def test_money_within_bounds_loads_as_int_cents(amount: str, cents: int) -> None:
    one_line = claim(lines=[{**CLAIM["lines"][0], "patient_responsibility": amount}])
    loaded = ClaimRequestSchema().load(one_line)

    assert loaded["lines"][0]["patient_responsibility"] == cents


def test_money_dumps_cents_as_a_two_decimal_string() -> None:
    assert Money().serialize("x", {"x": 100000}) == "1000.00"
    assert Money().serialize("x", {"x": 5}) == "0.05"


def test_money_refuses_to_dump_a_float_or_a_negative_amount() -> None:
    with pytest.raises(TypeError):
        Money().serialize("x", {"x": 10.5})
    with pytest.raises(ValueError):
        Money().serialize("x", {"x": -1})


def test_signed_money_dumps_a_negative_delta() -> None:
    assert SignedMoney().serialize("delta", {"delta": -100000}) == "-1000.00"


# --- NPIs -----------------------------------------------------------------------------


@pytest.mark.parametrize("npi", ["1234567893", "1245319599"])
def test_an_npi_with_a_good_check_digit_is_valid(npi: str) -> None:
    assert npi_is_valid(npi)


@pytest.mark.parametrize("npi", ["1234567890", "1245319598", "123456789", "12345678931", "abc"])
def test_an_npi_with_a_bad_check_digit_or_length_is_invalid(npi: str) -> None:
    assert not npi_is_valid(npi)


def test_a_service_provider_id_with_a_bad_check_digit_is_rejected() -> None:
    errors = errors_of(ClaimRequestSchema(), claim(service_provider_id="1234567890"))

    assert errors == {"service_provider_id": ["Not a valid NPI: the check digit does not match."]}


def test_an_npi_sent_as_a_json_number_is_rejected() -> None:
    errors = errors_of(ClaimRequestSchema(), claim(prescriber_npi=1245319599))

    assert list(errors) == ["prescriber_npi"]


# --- unknown and missing fields ---------------------------------------------------------


def test_an_unknown_top_level_field_is_rejected() -> None:
    errors = errors_of(ClaimRequestSchema(), claim(bogus=1))

    assert errors == {"bogus": ["Unknown field."]}


def test_an_unknown_field_in_a_line_is_rejected_with_its_path() -> None:
    errors = errors_of(ClaimRequestSchema(), claim_with_line(bogus="x"))

    assert errors == {"lines.0.bogus": ["Unknown field."]}


def test_an_unknown_field_in_a_nested_object_is_rejected_with_its_path() -> None:
    body = claim()
    body["cob"]["other_payer_name"] = "Acme"

    assert errors_of(ClaimRequestSchema(), body) == {"cob.other_payer_name": ["Unknown field."]}


def test_every_missing_required_field_is_reported() -> None:
    errors = errors_of(ClaimRequestSchema(), {})

    assert sorted(errors) == sorted(CLAIM_REQUIRED_KEYS)
    assert errors["lines"] == ["Missing data for required field."]


def test_a_body_that_is_not_an_object_is_a_schema_error() -> None:
    assert errors_of(ClaimRequestSchema(), []) == {"_schema": ["Invalid input type."]}


def test_a_line_without_patient_responsibility_is_rejected() -> None:
    body = claim()
    del body["lines"][1]["patient_responsibility"]

    assert errors_of(ClaimRequestSchema(), body) == {
        "lines.1.patient_responsibility": ["Missing data for required field."]
    }


# --- claim limits -------------------------------------------------------------------------


def test_fill_number_100_is_rejected() -> None:
    assert list(errors_of(ClaimRequestSchema(), claim(fill_number=100))) == ["fill_number"]


@pytest.mark.parametrize("fill_number", ["0", 1.0, True, -1])
def test_fill_number_must_be_a_json_integer_from_0_to_99(fill_number: object) -> None:
    assert list(errors_of(ClaimRequestSchema(), claim(fill_number=fill_number))) == ["fill_number"]


def test_fill_number_99_is_accepted() -> None:
    assert ClaimRequestSchema().load(claim(fill_number=99))["fill_number"] == 99


def test_a_date_of_service_in_the_future_is_rejected() -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()

    errors = errors_of(ClaimRequestSchema(), claim(date_of_service=tomorrow))

    assert errors == {"date_of_service": ["Must not be in the future."]}


def test_a_date_of_service_of_today_is_accepted() -> None:
    today = date.today()

    loaded = ClaimRequestSchema().load(claim(date_of_service=today.isoformat()))

    assert loaded["date_of_service"] == today


@pytest.mark.parametrize(
    "day", ["20260301", "2026-3-1", "2026-02-30", "2026-W09-7", "2026-03-01T00:00"]
)
def test_a_date_that_is_not_yyyy_mm_dd_is_rejected(day: str) -> None:
    assert list(errors_of(ClaimRequestSchema(), claim(date_of_service=day))) == ["date_of_service"]


def test_transaction_code_b2_is_rejected() -> None:
    errors = errors_of(ClaimRequestSchema(), claim(transaction_code="B2"))

    assert list(errors) == ["transaction_code"]
    assert "reversal" in errors["transaction_code"][0]


def test_a_drug_line_without_quantity_is_reported_at_lines_0_quantity() -> None:
    body = claim()
    del body["lines"][0]["quantity"]

    errors = errors_of(ClaimRequestSchema(), body)

    assert list(errors) == ["lines.0.quantity"]


def test_a_drug_line_without_days_supply_is_reported_at_its_path() -> None:
    body = claim()
    del body["lines"][0]["days_supply"]

    assert list(errors_of(ClaimRequestSchema(), body)) == ["lines.0.days_supply"]


def test_a_drug_line_with_a_null_quantity_is_rejected() -> None:
    assert list(errors_of(ClaimRequestSchema(), claim_with_line(quantity=None))) == [
        "lines.0.quantity"
    ]


def test_a_missing_quantity_is_reported_alongside_other_line_errors() -> None:
    body = claim_with_line(patient_responsibility="1500")
    del body["lines"][0]["quantity"]

    errors = errors_of(ClaimRequestSchema(), body)

    assert sorted(errors) == ["lines.0.patient_responsibility", "lines.0.quantity"]


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (8, "not a JSON number"),
        (8.0, "not a JSON number"),
        ("0", "greater than 0"),
        ("0.000", "greater than 0"),
        ("8.0001", "3 after it"),
        ("-8.000", "3 after it"),
        ("1e3", "3 after it"),
        ("NaN", "3 after it"),
        ("12345678.000", "7 digits before"),
    ],
)
def test_a_bad_quantity_is_rejected_with_a_clear_message(quantity: object, message: str) -> None:
    errors = errors_of(ClaimRequestSchema(), claim_with_line(quantity=quantity))

    assert list(errors) == ["lines.0.quantity"]
    assert message in errors["lines.0.quantity"][0]


@pytest.mark.parametrize("days_supply", [0, 366, "30"])
def test_days_supply_must_be_an_integer_from_1_to_365(days_supply: object) -> None:
    errors = errors_of(ClaimRequestSchema(), claim_with_line(days_supply=days_supply))

    assert list(errors) == ["lines.0.days_supply"]


def test_11_lines_are_rejected() -> None:
    errors = errors_of(ClaimRequestSchema(), claim(lines=[CLAIM["lines"][0]] * 11))

    assert errors == {"lines": ["A claim has 1 to 10 lines."]}


def test_no_lines_are_rejected() -> None:
    assert list(errors_of(ClaimRequestSchema(), claim(lines=[]))) == ["lines"]


def test_10_lines_are_accepted() -> None:
    assert len(ClaimRequestSchema().load(claim(lines=[CLAIM["lines"][0]] * 10))["lines"]) == 10


def test_the_lines_may_not_add_up_to_more_money_than_a_decision_can_show() -> None:
    line = {**CLAIM["lines"][0], "patient_responsibility": "999999.99"}
    small = {**line, "patient_responsibility": "0.01"}

    errors = errors_of(ClaimRequestSchema(), claim(lines=[line, small]))

    assert errors == {
        "lines": ['The lines\' patient_responsibility may not add up to more than "999999.99".']
    }
    half = {**line, "patient_responsibility": "499999.99"}
    assert (
        len(
            ClaimRequestSchema().load(
                claim(lines=[half, {**half, "patient_responsibility": "500000.00"}])
            )["lines"]
        )
        == 2
    )


def test_an_unknown_line_kind_is_rejected() -> None:
    assert list(errors_of(ClaimRequestSchema(), claim_with_line(kind="supply"))) == ["lines.0.kind"]


def test_other_payer_reject_codes_load_as_upper_case_strings() -> None:
    cob = {"other_coverage_code": 3, "other_payer_reject_codes": ["mr", "75"]}

    loaded = ClaimRequestSchema().load(claim(cob=cob))

    assert loaded["cob"]["other_payer_reject_codes"] == ["MR", "75"]


def test_a_cob_without_other_coverage_code_is_rejected() -> None:
    errors = errors_of(ClaimRequestSchema(), claim(cob={"other_payer_bin": "003858"}))

    assert list(errors) == ["cob.other_coverage_code"]


def test_the_reversal_key_loads() -> None:
    body = {
        "service_provider_id": "1234567893",
        "rx_number": "RX1001",
        "fill_number": 0,
        "date_of_service": "2026-03-01",
    }

    assert ReversalByKeySchema().load(body) == {**body, "date_of_service": date(2026, 3, 1)}


# --- the claim list query -------------------------------------------------------------


def test_the_claim_list_query_defaults_to_50_items() -> None:
    assert ClaimListQuerySchema().load({}) == {
        "cardholder_id": None,
        "status": None,
        "review": None,
        "date_from": None,
        "date_to": None,
        "limit": 50,
        "cursor": None,
    }


def test_the_claim_list_query_reads_query_string_values() -> None:
    query = {"status": "paid", "limit": "200", "date_from": "2026-01-01", "date_to": "2026-01-31"}

    loaded = ClaimListQuerySchema().load(query)

    assert loaded["limit"] == 200
    assert loaded["date_from"] == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "approved"}, "status"),
        ({"review": "closed"}, "review"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
    ],
)
def test_a_bad_claim_list_query_is_rejected(query: dict[str, str], path: str) -> None:
    assert list(errors_of(ClaimListQuerySchema(), query)) == [path]


# --- the decision ------------------------------------------------------------------------


def test_a_decision_dumps_to_the_api_md_example() -> None:
    assert DecisionSchema().dump(decision_input()) == DECISION


def test_a_decision_dumps_its_keys_in_the_api_md_order() -> None:
    assert list(DecisionSchema().dump(decision_input())) == list(DECISION)


def test_a_rejected_decision_dumps_reject_codes_and_a_null_benefit() -> None:
    decision = decision_input() | {
        "status": "rejected",
        "authorization_number": None,
        "benefit": None,
        "reject_codes": [{"code": "76", "message": "Plan Limitations Exceeded"}],
    }

    dumped = DecisionSchema().dump(decision)

    assert dumped["reject_codes"] == [{"code": "76", "message": "Plan Limitations Exceeded"}]
    assert dumped["benefit"] is None
    assert dumped["authorization_number"] is None


def test_a_decision_dumps_its_review_and_events() -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    decision = decision_input() | {
        "review": {"state": "approved", "note": "ok", "by": "rita", "at": at},
        "events": [{"at": at, "type": "reviewed", "actor": "rita", "data": {"note": "ok"}}],
    }

    dumped = DecisionSchema().dump(decision)

    assert dumped["review"] == {
        "state": "approved",
        "note": "ok",
        "by": "rita",
        "at": "2026-03-02T09:30:00+00:00",
    }
    assert dumped["events"] == [
        {
            "at": "2026-03-02T09:30:00+00:00",
            "type": "reviewed",
            "actor": "rita",
            "data": {"note": "ok"},
        }
    ]


def test_a_review_time_already_stored_as_iso_text_dumps_unchanged() -> None:
    review = {"state": "open", "note": None, "by": None, "at": "2026-03-02T09:30:00+00:00"}

    dumped = DecisionSchema().dump(decision_input() | {"review": review})

    assert dumped["review"] == review


def test_a_claim_list_dumps_its_items_as_decisions_and_the_cursor() -> None:
    page = {"items": [decision_input()], "next_cursor": None}

    assert ClaimListSchema().dump(page) == {"items": [DECISION], "next_cursor": None}


def test_a_decision_without_events_dumps_no_events_key() -> None:
    assert "events" not in DecisionSchema().dump(decision_input())


def test_a_decision_missing_a_key_is_a_programming_error() -> None:
    decision = decision_input()
    del decision["review"]

    with pytest.raises(ValueError, match="review"):
        DecisionSchema().dump(decision)


# --- enrollments -----------------------------------------------------------------------


def test_the_api_md_enrollment_loads_into_plain_python_values() -> None:
    assert EnrollmentRequestSchema().load(ENROLLMENT) == {
        "cardholder_id": None,
        "patient": {
            "first_name": "Olive",
            "last_name": "Example",
            "date_of_birth": date(2015, 4, 2),
            "sex": "F",
            "address": {
                "line1": "1 Main St",
                "line2": None,
                "city": "Boston",
                "state": "MA",
                "zip": "02139",
                "country": "US",
            },
        },
        "coverage": {
            "type": "commercial",
            "covers_product": True,
            "payer_name": "Acme Health",
            "bin": "003858",
            "pcn": "A4",
        },
        "attestations": {"government_program": False, "other_assistance": False},
        "weight_kg": Decimal("25.0"),
        "effective_date": date(2026, 1, 1),
    }


def test_an_enrollment_without_optional_fields_gets_the_defaults() -> None:
    body = copy.deepcopy(ENROLLMENT)
    del body["attestations"], body["weight_kg"], body["patient"]["sex"]
    body["coverage"] = {"type": "uninsured"}

    loaded = EnrollmentRequestSchema().load(body)

    assert loaded["attestations"] == {"government_program": False, "other_assistance": False}
    assert loaded["coverage"] == {
        "type": "uninsured",
        "covers_product": True,
        "payer_name": None,
        "bin": None,
        "pcn": None,
    }
    assert loaded["weight_kg"] is None
    assert loaded["patient"]["sex"] is None


def test_an_unknown_coverage_type_is_rejected() -> None:
    body = copy.deepcopy(ENROLLMENT)
    body["coverage"]["type"] = "medicare"

    assert list(errors_of(EnrollmentRequestSchema(), body)) == ["coverage.type"]


def test_covers_product_must_be_a_json_boolean() -> None:
    body = copy.deepcopy(ENROLLMENT)
    body["coverage"]["covers_product"] = "false"

    assert list(errors_of(EnrollmentRequestSchema(), body)) == ["coverage.covers_product"]


def test_an_unknown_address_field_is_rejected_with_its_path() -> None:
    body = copy.deepcopy(ENROLLMENT)
    body["patient"]["address"]["county"] = "Suffolk"

    assert errors_of(EnrollmentRequestSchema(), body) == {
        "patient.address.county": ["Unknown field."]
    }


def test_a_foreign_address_loads_so_eligibility_can_mark_it_outside_the_us() -> None:
    body = copy.deepcopy(ENROLLMENT)
    body["patient"]["address"].update(state="on", zip="M5V 2T6", country="ca")

    address = EnrollmentRequestSchema().load(body)["patient"]["address"]

    assert (address["state"], address["country"]) == ("ON", "CA")


def test_a_us_address_needs_a_us_zip() -> None:
    body = copy.deepcopy(ENROLLMENT)
    body["patient"]["address"]["zip"] = "2139"

    assert list(errors_of(EnrollmentRequestSchema(), body)) == ["patient.address.zip"]


@pytest.mark.parametrize("weight", [25, "0", "0.0", "25.123", "1000", "-3"])
def test_a_bad_weight_is_rejected(weight: object) -> None:
    assert list(errors_of(EnrollmentRequestSchema(), ENROLLMENT | {"weight_kg": weight})) == [
        "weight_kg"
    ]


def test_a_patch_loads_only_the_keys_sent() -> None:
    patch = {"attestations": {"other_assistance": True}, "weight_kg": None}

    assert EnrollmentPatchSchema().load(patch) == {
        "attestations": {"government_program": False, "other_assistance": True},
        "weight_kg": None,
    }


def test_a_patch_may_change_the_address_but_not_the_name() -> None:
    address = ENROLLMENT["patient"]["address"]
    patch = {"patient": {"address": address, "first_name": "Ivy"}}

    assert errors_of(EnrollmentPatchSchema(), patch) == {"patient.first_name": ["Unknown field."]}


def test_an_empty_patch_is_rejected() -> None:
    errors = errors_of(EnrollmentPatchSchema(), {})

    assert list(errors) == ["_schema"]


def test_an_enrollment_response_dumps_the_api_md_shape() -> None:
    enrollment = {
        "enrollment_id": "enr_1",
        "cardholder_id": "C-0001",
        "status": "active",
        "reasons": [],
        "cash_pay": False,
        "benefit_period": {"start": date(2026, 1, 1), "end": date(2026, 12, 31)},
        "annual_max": 1200000,
    }

    assert EnrollmentResponseSchema().dump(enrollment) == {
        "enrollment_id": "enr_1",
        "cardholder_id": "C-0001",
        "status": "active",
        "reasons": [],
        "cash_pay": False,
        "benefit_period": {"start": "2026-01-01", "end": "2026-12-31"},
        "annual_max": "12000.00",
    }


def test_an_enrollment_response_can_echo_the_enrolled_facts() -> None:
    facts = EnrollmentRequestSchema().load(ENROLLMENT)
    enrollment = {
        "enrollment_id": "enr_1",
        "cardholder_id": "C-0001",
        "status": "ineligible",
        "reasons": [{"code": "other_assistance", "message": "Other assistance this year."}],
        "cash_pay": False,
        "benefit_period": {"start": date(2026, 1, 1), "end": date(2026, 12, 31)},
        "annual_max": 1200000,
        **{k: facts[k] for k in ("patient", "coverage", "attestations", "weight_kg")},
        "effective_date": facts["effective_date"],
    }

    dumped = EnrollmentResponseSchema().dump(enrollment)

    assert dumped["weight_kg"] == "25.0"
    assert dumped["patient"]["date_of_birth"] == "2015-04-02"
    assert dumped["reasons"][0]["code"] == "other_assistance"


def test_an_enrollment_response_accepts_facts_read_back_from_json() -> None:
    facts = EnrollmentRequestSchema().dump(EnrollmentRequestSchema().load(ENROLLMENT))

    dumped = EnrollmentResponseSchema().dump({"patient": facts["patient"], "weight_kg": "25.0"})

    assert dumped == {"patient": facts["patient"], "weight_kg": "25.0"}


def test_a_float_weight_is_never_dumped() -> None:
    with pytest.raises(TypeError):
        EnrollmentResponseSchema().dump({"weight_kg": 25.0})


def test_a_benefit_dumps_money_and_dates_as_strings() -> None:
    benefit = {
        "cardholder_id": "C-0001",
        "benefit_period": {"start": date(2026, 1, 1), "end": date(2026, 12, 31)},
        "annual_max": 1200000,
        "used": 150000,
        "remaining": 1050000,
    }

    assert BenefitResponseSchema().dump(benefit) == {
        "cardholder_id": "C-0001",
        "benefit_period": {"start": "2026-01-01", "end": "2026-12-31"},
        "annual_max": "12000.00",
        "used": "1500.00",
        "remaining": "10500.00",
    }


def test_the_benefit_query_date_is_optional() -> None:
    assert BenefitQuerySchema().load({}) == {"date": None}
    assert BenefitQuerySchema().load({"date": "2026-03-01"}) == {"date": date(2026, 3, 1)}
    assert list(errors_of(BenefitQuerySchema(), {"date": "today"})) == ["date"]


# --- review and terms ---------------------------------------------------------------------


def test_a_review_needs_an_action_and_a_note() -> None:
    assert ReviewRequestSchema().load({"action": "approve", "note": "weight rechecked"}) == {
        "action": "approve",
        "note": "weight rechecked",
    }
    assert sorted(errors_of(ReviewRequestSchema(), {})) == ["action", "note"]


@pytest.mark.parametrize(
    "body", [{"action": "maybe", "note": "x"}, {"action": "deny", "note": "  "}]
)
def test_a_bad_review_is_rejected(body: dict[str, str]) -> None:
    assert len(errors_of(ReviewRequestSchema(), body)) == 1


def test_the_api_md_terms_load_with_cents_and_decimals() -> None:
    loaded = TermsDocumentSchema().load(TERMS)

    assert loaded["annual_max"] == 1_200_000
    assert loaded["cash_pay_per_rx_max"] == 100_000
    assert loaded["max_dose_mg_per_kg_per_day"] == Decimal("0.24")
    assert loaded["concentration_mg_per_ml"] == Decimal("10")
    assert loaded["effective_date"] == date(2020, 1, 1)
    assert loaded["government_payers"] == [{"bin": "610014", "pcn": "MEDDPRIME"}]


def test_the_terms_round_trip_to_the_same_document() -> None:
    schema = TermsDocumentSchema()

    assert schema.dump(schema.load(TERMS)) == TERMS


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"covered_ndcs": []}, "covered_ndcs"),
        ({"covered_hcpcs": ["2170"]}, "covered_hcpcs.0"),
        ({"annual_max": "12000"}, "annual_max"),
        ({"max_dose_mg_per_kg_per_day": 0.24}, "max_dose_mg_per_kg_per_day"),
        ({"excluded_coverage_types": ["medicare"]}, "excluded_coverage_types.0"),
        ({"government_payers": [{"pcn": "X"}]}, "government_payers.0.bin"),
        ({"version": "2020/01"}, "version"),
        ({"bogus": True}, "bogus"),
        ({"routing": {"bin": "99999", "pcn": "P", "group_id": "G"}}, "routing.bin"),
        ({"routing": {"bin": "999999", "pcn": "P-1", "group_id": "G"}}, "routing.pcn"),
        ({"routing": {"bin": "999999", "pcn": "P", "group_id": "G 1"}}, "routing.group_id"),
        ({"routing": {"bin": "999999", "pcn": "P", "group_id": "G" * 16}}, "routing.group_id"),
        ({"routing": {"bin": "999999", "pcn": "P"}}, "routing.group_id"),
        ({"routing": {"bin": "999999", "pcn": "P", "group_id": "G", "x": 1}}, "routing.x"),
        ({"routing": None}, "routing"),
    ],
)
def test_bad_terms_are_rejected_at_their_path(change: dict[str, Any], path: str) -> None:
    assert list(errors_of(TermsDocumentSchema(), TERMS | change)) == [path]


def test_terms_without_routing_load_without_it() -> None:
    # The service gives such a version the routing of the version in force on its date.
    terms = {key: value for key, value in TERMS.items() if key != "routing"}
    schema = TermsDocumentSchema()

    assert "routing" not in schema.load(terms)
    assert schema.dump(schema.load(terms)) == terms


def test_a_routing_pcn_is_stored_upper_case_and_its_group_as_posted() -> None:
    routing = {"bin": "999999", "pcn": "ipsen", "group_id": "Grp-1"}
    loaded = TermsDocumentSchema().load(TERMS | {"routing": routing})

    assert loaded["routing"] == {"bin": "999999", "pcn": "IPSEN", "group_id": "Grp-1"}


def test_terms_missing_a_field_are_rejected() -> None:
    terms = dict(TERMS)
    del terms["minimum_age_years"]

    assert list(errors_of(TermsDocumentSchema(), terms)) == ["minimum_age_years"]


# --- flattening -------------------------------------------------------------------------------


def test_flatten_errors_joins_nested_keys_and_list_indices_with_dots() -> None:
    messages = {
        "lines": {0: {"patient_responsibility": ["bad"]}},
        "patient": {"address": {"state": ["worse"]}, "_schema": ["Invalid input type."]},
        "_schema": ["whole body"],
    }

    assert flatten_errors(messages) == {
        "lines.0.patient_responsibility": ["bad"],
        "patient.address.state": ["worse"],
        "patient": ["Invalid input type."],
        "_schema": ["whole body"],
    }


def test_an_events_money_is_shown_as_money_strings_wherever_it_sits() -> None:
    from schemas.claims import EventSchema

    decision = {"amounts": {"eligible": 150000, "program_paid": 150000}, "cash_pay": False}
    event = {
        "at": "2026-03-01T12:00:00+00:00",
        "type": "review_approved",
        "actor": "user:rita",
        "data": {
            "before": {"status": "paid", "program_paid": 150000, "decision": decision},
            "after": {"status": "reversed", "released": 150000},
            "rules": ["patient_age"],
            "fill_number": 2,
        },
    }

    data = EventSchema().dump(event)["data"]

    assert data["before"]["program_paid"] == "1500.00"
    assert data["before"]["decision"]["amounts"] == {
        "eligible": "1500.00",
        "program_paid": "1500.00",
    }
    assert data["before"]["decision"]["cash_pay"] is False
    assert data["after"]["released"] == "1500.00"
    assert (data["rules"], data["fill_number"]) == (["patient_age"], 2)


def test_a_timestamp_always_says_it_is_utc() -> None:
    from datetime import UTC, datetime

    from schemas.claims import EventSchema

    naive = {"at": datetime(2026, 3, 1, 12, 0), "type": "received", "actor": None, "data": {}}
    aware = {**naive, "at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC)}

    assert EventSchema().dump(naive)["at"] == "2026-03-01T12:00:00+00:00"
    assert EventSchema().dump(aware)["at"] == "2026-03-01T12:00:00+00:00"


# --- text: no control characters, no lone surrogates --------------------------------------

CONTROL = "Must not contain control characters (U+0000-U+001F, U+007F)."
SURROGATE = "Must not contain a lone surrogate (U+D800-U+DFFF): not a character."


def _put(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """`body` with the value at a dotted path (`lines.0.code`) replaced."""
    body = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    node: Any = body
    for name in parents:
        node = node[int(name)] if isinstance(node, list) else node[name]
    node[int(leaf) if isinstance(node, list) else leaf] = value
    return body


REVERSAL_KEY = {
    "service_provider_id": "1234567893",
    "rx_number": "RX1001",
    "fill_number": 0,
    "date_of_service": "2026-03-01",
}
TEXT_FIELDS = [
    *[(ClaimRequestSchema, CLAIM, path) for path in ("cardholder_id", "rx_number", "group_id")],
    *[(ClaimRequestSchema, CLAIM, p) for p in ("diagnosis_code", "lines.0.code", "lines.0.kind")],
    (ClaimRequestSchema, CLAIM, "transaction_code"),
    (ClaimRequestSchema, CLAIM, "cob.other_payer_bin"),
    (ReversalByKeySchema, REVERSAL_KEY, "rx_number"),
    *[(ClaimListQuerySchema, {}, path) for path in ("cardholder_id", "status", "cursor")],
    *[(EnrollmentRequestSchema, ENROLLMENT, p) for p in ("patient.first_name", "patient.sex")],
    *[(EnrollmentRequestSchema, ENROLLMENT, f"patient.address.{p}") for p in ("line1", "zip")],
    (EnrollmentRequestSchema, ENROLLMENT, "coverage.payer_name"),
    (EnrollmentRequestSchema, ENROLLMENT, "cardholder_id"),
    (ReviewRequestSchema, {"action": "deny", "note": "ok"}, "note"),
    (TermsDocumentSchema, TERMS, "network_chains.0"),
]


@pytest.mark.parametrize(("schema", "body", "path"), TEXT_FIELDS)
@pytest.mark.parametrize(
    ("bad", "message"),
    [("a\x00b", CONTROL), ("a\r\nb", CONTROL), ("\x1f", CONTROL), ("del\x7f", CONTROL)]
    + [("\ud800", SURROGATE), ("a\udfffb", SURROGATE)],
)
def test_a_text_field_refuses_control_characters_and_lone_surrogates(
    schema: type[StrictSchema], body: dict[str, Any], path: str, bad: str, message: str
) -> None:
    errors = errors_of(schema(), _put(body, path, bad))

    assert errors[path][0] == message


@pytest.mark.parametrize("text", ["Ölive", "O'Brien-Smith", "ok\u0085", "\u00a0x", "日本"])
def test_a_text_field_takes_any_other_character(text: str) -> None:
    loaded = EnrollmentRequestSchema().load(_put(ENROLLMENT, "patient.first_name", text))

    assert loaded["patient"]["first_name"] == text


def test_a_review_note_is_one_paragraph() -> None:
    errors = errors_of(ReviewRequestSchema(), {"action": "deny", "note": "Called.\nApproved."})

    assert errors == {"note": [CONTROL]}


@pytest.mark.parametrize(
    ("sent", "key"), [("0001001", "1001"), ("000", "0"), ("RX0001", "RX0001"), ("١٢٣", "١٢٣")]
)
def test_an_rx_number_of_digits_loses_its_leading_zeros_as_d0_s_does(sent, key):
    from schemas.claims import rx_number_key

    assert rx_number_key(sent) == key
