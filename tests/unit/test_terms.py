"""The terms document: its values, its exact JSON shape, validation and the version in force."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import adjudicator
from adjudicator.domain.terms import (
    GovernmentPayer,
    Routing,
    Terms,
    bundled_terms,
    routing_on,
    terms_for_claim,
    terms_in_force,
)
from tests.examples import TERMS

pytestmark = pytest.mark.unit


def changed(**values: Any) -> dict[str, Any]:
    doc = copy.deepcopy(TERMS)
    doc.update(values)
    return doc


def test_the_first_version_holds_exactly_the_values_of_the_program_terms() -> None:
    (first,) = [t for t in bundled_terms() if t.version == "2020-01"]
    assert first == Terms(
        program_id="ipsen-cares-increlex",
        version="2020-01",
        effective_date=date(2020, 1, 1),
        annual_max=1_200_000,
        cash_pay_per_rx_max=100_000,
        covered_ndcs=("15054104005",),
        covered_hcpcs=("J2170",),
        covered_service_codes=("96372",),
        drug_only_states=("MA", "MN", "MI", "RI"),
        excluded_coverage_types=(
            "medicare_part_b",
            "medicare_part_d",
            "medicaid",
            "medigap",
            "va",
            "dod",
            "tricare",
            "other_government",
        ),
        government_payers=(GovernmentPayer("610014", "MEDDPRIME"),),
        product_not_covered_reject_codes=("70", "MR"),
        network_chains=(
            "accredo",
            "optum_specialty",
            "briovarx",
            "cvs_specialty",
            "walgreens_specialty",
        ),
        excluded_jurisdictions=(),
        minimum_age_years=2,
        max_dose_mg_per_kg_per_day=Decimal("0.24"),
        concentration_mg_per_ml=Decimal("10"),
        routing=Routing("999999", "IPSENCARES", "IPSENCARES"),
    )


def test_the_bundled_file_is_the_api_document() -> None:
    path = Path(adjudicator.__file__).parent / "terms" / "2020-01.json"
    assert json.loads(path.read_text(encoding="utf-8")) == TERMS


def test_a_document_round_trips_exactly() -> None:
    assert Terms.from_document(TERMS).to_document() == TERMS
    assert json.dumps(Terms.from_document(TERMS).to_document()) == json.dumps(TERMS)


def test_terms_round_trip_through_their_document() -> None:
    terms = Terms.from_document(TERMS)
    assert Terms.from_document(terms.to_document()) == terms


def test_a_fetched_document_can_be_changed_and_posted_as_a_new_version() -> None:
    doc = Terms.from_document(TERMS).to_document()
    doc.update(version="2027-01", effective_date="2027-01-01", annual_max="15000.00")
    terms = Terms.from_document(doc)
    assert (terms.version, terms.annual_max) == ("2027-01", 1_500_000)


def test_a_government_payer_may_name_no_pcn() -> None:
    terms = Terms.from_document(changed(government_payers=[{"bin": "004336"}]))
    assert terms.government_payers == (GovernmentPayer("004336", None),)
    assert terms.to_document()["government_payers"] == [{"bin": "004336", "pcn": None}]


def test_decimals_keep_the_digits_they_were_given() -> None:
    doc = changed(max_dose_mg_per_kg_per_day="0.240", concentration_mg_per_ml="10.0")
    assert Terms.from_document(doc).to_document() == doc


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("program_id", ""),
        ("version", 202001),
        ("version", "  "),
        ("effective_date", "2020-1-1"),
        ("effective_date", "20200101"),
        ("effective_date", "2020-02-30"),
        ("effective_date", "2020-01-01\n"),
        ("annual_max", "12000"),
        ("annual_max", "12,000.00"),
        ("annual_max", 12000),
        ("annual_max", "-1.00"),
        ("cash_pay_per_rx_max", "1000.0"),
        ("covered_ndcs", "15054104005"),
        ("covered_ndcs", ["15054-1040-05"]),
        ("covered_ndcs", ["1505410400"]),
        ("covered_hcpcs", [""]),
        ("covered_service_codes", [96372]),
        ("drug_only_states", ["ma"]),
        ("drug_only_states", ["MAS"]),
        ("excluded_coverage_types", None),
        ("government_payers", [{"bin": "61001", "pcn": "MEDDPRIME"}]),
        ("government_payers", [{"pcn": "MEDDPRIME"}]),
        ("government_payers", [{"bin": "610014", "pcn": ""}]),
        ("government_payers", [{"bin": "610014", "group": "X"}]),
        ("government_payers", ["610014"]),
        ("product_not_covered_reject_codes", ["70", None]),
        ("network_chains", {"accredo": True}),
        ("excluded_jurisdictions", ["Texas"]),
        ("minimum_age_years", -1),
        ("minimum_age_years", True),
        ("minimum_age_years", "2"),
        ("minimum_age_years", 2.0),
        ("max_dose_mg_per_kg_per_day", "0"),
        ("max_dose_mg_per_kg_per_day", 0.24),
        ("max_dose_mg_per_kg_per_day", "2.4e-1"),
        ("max_dose_mg_per_kg_per_day", "NaN"),
        ("concentration_mg_per_ml", "-10"),
        ("concentration_mg_per_ml", "\u0661\u0660"),
        ("routing", None),
        ("routing", {"bin": "999999", "pcn": "IPSENCARES"}),
        ("routing", {"bin": "99999", "pcn": "IPSENCARES", "group_id": "G"}),
        ("routing", {"bin": "999999", "pcn": "IPSEN-CARES", "group_id": "G"}),
        ("routing", {"bin": "999999", "pcn": "ABCDEFGHIJK", "group_id": "G"}),
        ("routing", {"bin": "999999", "pcn": "P", "group_id": "GROUP 1"}),
        ("routing", {"bin": "999999", "pcn": "P", "group_id": "G" * 16}),
        ("routing", {"bin": "999999", "pcn": "P", "group_id": ""}),
        ("routing", {"bin": "999999", "pcn": "P", "group_id": "G", "extra": "x"}),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        Terms.from_document(changed(**{field: value}))


def test_codes_stored_in_lower_case_are_read_as_claims_spell_them() -> None:
    # Before decisions #74 a posted "j2170" was stored as posted; read, it must still match.
    terms = Terms.from_document(
        changed(
            covered_hcpcs=["j2170"],
            covered_service_codes=["g0000"],
            product_not_covered_reject_codes=["mr"],
        )
    )
    assert terms.covered_hcpcs == ("J2170",)
    assert terms.covered_service_codes == ("G0000",)
    assert terms.product_not_covered_reject_codes == ("MR",)


def test_a_document_missing_fields_is_refused_naming_them() -> None:
    doc = changed()
    del doc["annual_max"], doc["network_chains"]
    with pytest.raises(ValueError, match="^missing field\\(s\\): annual_max, network_chains$"):
        Terms.from_document(doc)


def test_a_document_with_unknown_fields_is_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="^unknown field\\(s\\): annual_maximum$"):
        Terms.from_document(changed(annual_maximum="1.00"))


@pytest.mark.parametrize("doc", [[], "terms", None])
def test_a_document_that_is_not_an_object_is_refused(doc: Any) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        Terms.from_document(doc)


# --- the version in force -------------------------------------------------------

FIRST = Terms.from_document(TERMS)
SECOND = replace(FIRST, version="2026-07", effective_date=date(2026, 7, 1))


def test_a_claim_is_judged_by_the_latest_version_in_force_on_its_date_of_service() -> None:
    assert terms_in_force([SECOND, FIRST], date(2026, 6, 30)) is FIRST
    assert terms_in_force([SECOND, FIRST], date(2026, 7, 1)) is SECOND
    assert terms_in_force([FIRST, SECOND], date(2030, 1, 1)) is SECOND


def test_there_are_no_terms_before_the_first_version() -> None:
    with pytest.raises(ValueError, match="no terms version is in force on 2019-12-31"):
        terms_in_force([FIRST, SECOND], date(2019, 12, 31))


def test_a_claim_before_the_first_version_is_judged_by_the_first() -> None:
    # It still gets a decision (67: no enrollment year starts before the first version).
    assert terms_for_claim([SECOND, FIRST], date(2019, 12, 31)) is FIRST
    assert terms_for_claim([SECOND, FIRST], date(2026, 6, 30)) is FIRST
    assert terms_for_claim([SECOND, FIRST], date(2026, 7, 1)) is SECOND
    with pytest.raises(ValueError, match="no terms version"):
        terms_for_claim([], date(2026, 7, 1))


def test_of_two_versions_effective_the_same_day_the_later_version_wins() -> None:
    amended = replace(SECOND, version="2026-07b")
    assert terms_in_force([amended, SECOND], date(2026, 7, 1)) is amended


def test_the_bundled_versions_come_oldest_first_and_include_2020_01() -> None:
    versions = bundled_terms()
    assert versions[0].version == "2020-01"
    assert [t.effective_date for t in versions] == sorted(t.effective_date for t in versions)


@pytest.mark.parametrize(
    ("bin_", "pcn", "matches"),
    [
        ("610014", "MEDDPRIME", True),
        ("610014", "A4", False),
        ("610014", None, False),
        ("003858", "MEDDPRIME", False),
    ],
)
def test_a_government_payer_matches_on_bin_and_its_pcn(
    bin_: str, pcn: str | None, matches: bool
) -> None:
    assert GovernmentPayer("610014", "MEDDPRIME").matches(bin_, pcn) is matches


def test_a_government_payer_without_a_pcn_matches_the_bin_alone() -> None:
    assert GovernmentPayer("004336").matches("004336", "ANYTHING")
    assert not GovernmentPayer("004336").matches(None, None)


# --- routing ----------------------------------------------------------------------

EARLY = replace(FIRST, routing=Routing("999999", "IPSENCARES", "IPSENCARES"))
LATER = replace(
    FIRST,
    version="2026-07",
    effective_date=date(2026, 7, 1),
    routing=Routing("610279", "NEWPCN", "G2"),
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2019, 12, 31), EARLY.routing),  # before every version: the earliest's
        (None, EARLY.routing),  # a date that could not be read: the earliest's
        (date(2020, 1, 1), EARLY.routing),
        (date(2026, 6, 30), EARLY.routing),
        (date(2026, 7, 1), LATER.routing),
        (date(2031, 1, 1), LATER.routing),
    ],
)
def test_the_routing_is_that_of_the_version_in_force(day: date | None, expected: Routing) -> None:
    assert routing_on([LATER, EARLY], day) == expected


def test_there_is_no_routing_without_a_version() -> None:
    with pytest.raises(ValueError, match="no terms version"):
        routing_on([], None)
