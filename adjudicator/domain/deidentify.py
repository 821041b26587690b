"""De-identified claim rows for the manufacturer: HIPAA Safe Harbor, 45 CFR 164.514(b)(2).

PROGRAM_TERMS.md: no names, addresses below state, cardholder ids, Rx numbers or full
dates (year only); ZIP to 3 digits, or 000 for the low-population prefixes; ages over 89
as 90+; the patient key is a random surrogate, not derived from patient data (the
caller draws it). Only the fields below leave: what is not listed is never exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adjudicator.domain.money import Cents, format_money
from adjudicator.domain.rules import age_on

# The 3-digit ZIP prefixes whose areas held 20,000 people or fewer (Census 2000), which
# Safe Harbor turns into 000; the list PROGRAM_TERMS.md gives.
# fmt: off
LOW_POPULATION_ZIP3 = frozenset({
    "036", "059", "063", "102", "203", "556", "692", "790", "821",
    "823", "830", "831", "878", "879", "884", "890", "893",
})
# fmt: on
OLDEST_AGE = 89  # older ages are one group, "90+"

AMOUNTS = ("patient_responsibility", "eligible", "program_paid", "patient_pay")
COLUMNS = (
    "patient_key",
    "service_year",
    "age",
    "sex",
    "state",
    "zip3",
    "coverage_type",
    "cash_pay",
    "pharmacy_chain",
    "status",
    "reject_codes",
    *AMOUNTS,
    "terms_version",
)


@dataclass(frozen=True)
class Patient:
    """What the enrollment year says of the patient (None: the claim matched no year)."""

    date_of_birth: date
    sex: str | None
    state: str
    zip_code: str
    country: str
    coverage_type: str
    cash_pay: bool


@dataclass(frozen=True)
class Claim:
    date_of_service: date
    pharmacy_chain: str
    status: str
    reject_codes: tuple[str, ...]
    amounts: dict[str, Cents]  # by the names in AMOUNTS
    terms_version: str | None


def zip3(zip_code: str) -> str:
    """The first three digits of a ZIP code, or 000 for a low-population prefix."""
    prefix = zip_code.strip()[:3]
    if len(prefix) != 3 or not prefix.isdigit():
        return ""
    return "000" if prefix in LOW_POPULATION_ZIP3 else prefix


def age_group(born: date, on: date) -> str:
    """Age in whole years on a day, with every age over 89 as "90+"."""
    age = age_on(born, on)
    return f"{OLDEST_AGE + 1}+" if age > OLDEST_AGE else str(age)


def row(patient_key: str, claim: Claim, patient: Patient | None) -> dict[str, str]:
    """One claim as the manufacturer may see it: every value a string, in COLUMNS order."""
    exported = {
        "patient_key": patient_key,
        "service_year": str(claim.date_of_service.year),
        **_patient_columns(patient, claim.date_of_service),
        "pharmacy_chain": claim.pharmacy_chain,
        "status": claim.status,
        "reject_codes": " ".join(claim.reject_codes),
        **{name: format_money(claim.amounts.get(name, 0)) for name in AMOUNTS},
        "terms_version": claim.terms_version or "",
    }
    return {column: exported[column] for column in COLUMNS}


def _patient_columns(patient: Patient | None, served: date) -> dict[str, str]:
    if patient is None:  # the claim matched no enrollment year
        return dict.fromkeys(("age", "sex", "state", "zip3", "coverage_type", "cash_pay"), "")
    abroad = patient.country.strip().upper() != "US"
    return {
        "age": age_group(patient.date_of_birth, served),
        "sex": patient.sex or "",
        # Outside the US a "state" and a postcode are no US state or ZIP: both stay out.
        "state": patient.state if abroad is False else "",
        "zip3": zip3(patient.zip_code) if abroad is False else "",
        "coverage_type": patient.coverage_type,
        "cash_pay": "true" if patient.cash_pay else "false",
    }
