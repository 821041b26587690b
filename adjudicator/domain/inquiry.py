"""NCPDP E1 eligibility: claim rules 2 to 6 on a date of service, with a claim's
exceptions (a 40 answered alone; after a 40 or a 09 nothing of the coverage is told)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adjudicator.domain.model import Claim, ClaimContext, EnrollmentYear, RejectCode
from adjudicator.domain.rules import (
    RULES,
    ClaimFacts,
    conceals,
    failures,
    reported,
    year_of_service,
)
from adjudicator.domain.terms import Terms

#: What an E1 asks (NCPDP.md): the product is a claim matter, not checked here.
ELIGIBILITY_RULES = (
    "cardholder",
    "date_of_birth",
    "coverage_dates",
    "enrollment_eligible",
    "network",
)
_RULES = tuple(rule for rule in RULES if rule.id in ELIGIBILITY_RULES)


@dataclass(frozen=True)
class EligibilityAnswer:
    rejects: tuple[RejectCode, ...]  # in rule order, at most 5; none: eligible on that date
    # The enrollment year containing the date; None when none does, or after a 40 or a 09
    # (the answer then tells nothing of the patient's coverage).
    year: EnrollmentYear | None


def check_eligibility(
    *,
    cardholder_id: str,
    date_of_birth: date | None,
    date_of_service: date,
    pharmacy_npi: str,
    ctx: ClaimContext,
    terms: Terms,
) -> EligibilityAnswer:
    """Rules 2-6 of PROGRAM_TERMS.md on `date_of_service`, as a claim would meet them.

    `ctx` as for a claim (the member's years, the pharmacy's chain); `terms` the version
    in force on the date (terms_for_claim). The rules run on a claim without lines: none
    of rules 2-6 reads a line, so they are the claim rules themselves, not copies.
    """
    inquiry = Claim(
        claim_id="",
        cardholder_id=cardholder_id,
        service_provider_id=pharmacy_npi,
        rx_number="",
        fill_number=0,
        date_of_service=date_of_service,
        lines=(),
        date_of_birth=date_of_birth,
    )
    year = year_of_service(inquiry, ctx)
    failed = failures(ClaimFacts(inquiry, ctx, terms, year), _RULES)
    return EligibilityAnswer(reported(failed), None if conceals(failed) else year)
