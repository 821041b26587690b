"""Claim rules 1-10 of PROGRAM_TERMS.md: one small function each, registered in order, and
how their failures are reported. Claims (adjudicate.py) and NCPDP E1 eligibility
inquiries (inquiry.py) run them through `failures`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from adjudicator.domain.model import (
    REVIEWABLE_RULES,
    Claim,
    ClaimContext,
    EnrollmentYear,
    Line,
    RejectCode,
)
from adjudicator.domain.terms import Terms

NCPDP_MESSAGES = {
    "83": "Duplicate Paid/Captured Claim",
    "52": "Non-Matched Cardholder ID",
    "09": "M/I Date Of Birth",
    "67": "Filled Before Coverage Effective",
    "68": "Filled After Coverage Expired",
    "65": "Patient Is Not Covered",
    "40": "Pharmacy Not Contracted With Plan On Date Of Service",
    "70": "Product/Service Not Covered",
    "13": "M/I Other Coverage Code",
    "41": "Submit Bill To Other Processor Or Primary Payer",
    "6E": "M/I Other Payer Reject Code",
    "60": "Product/Service Not Covered For Patient Age",
    "88": "DUR Reject Error",
    "76": "Plan Limitations Exceeded",
    "84": "Claim Has Not Been Paid/Captured",
    "85": "Claim Not Processed",
}


@dataclass(frozen=True)
class ClaimFacts:
    """What every rule may read; `year` is the enrollment year containing the date of service."""

    claim: Claim
    ctx: ClaimContext
    terms: Terms
    year: EnrollmentYear | None


Check = Callable[[ClaimFacts], RejectCode | None]


@dataclass(frozen=True)
class Rule:
    id: str
    check: Check
    needs: str  # "nothing" | "member" | "year": what must be known for the rule to run


def reject(rule: str, code: str, detail: str | None = None) -> RejectCode:
    """A reject with its NCPDP text, optionally naming why ("...: government_program")."""
    message = NCPDP_MESSAGES[code]
    return RejectCode(rule, code, f"{message}: {detail}" if detail else message)


# --- lines ----------------------------------------------------------------------


def drug_coding(line: Line, terms: Terms) -> str | None:
    """How a covered drug line is coded ("ndc" or "hcpcs"); None for any other line."""
    if line.kind != "drug":
        return None
    if line.code.replace("-", "") in terms.covered_ndcs:
        return "ndc"
    return "hcpcs" if line.code in terms.covered_hcpcs else None


def daily_dose_exceeds(line: Line, terms: Terms, weight_kg: Decimal) -> bool:
    """Daily mg over the max mg/kg/day x weight, compared exactly by cross-multiplying."""
    coding = drug_coding(line, terms)
    if coding is None or line.quantity is None or not line.days_supply:
        return False
    mg = line.quantity * terms.concentration_mg_per_ml if coding == "ndc" else line.quantity
    return mg > terms.max_dose_mg_per_kg_per_day * weight_kg * line.days_supply


# --- the rules ------------------------------------------------------------------


def duplicate(f: ClaimFacts) -> RejectCode | None:
    return reject("duplicate", "83") if f.ctx.other_paid_claim_with_same_key else None


def cardholder(f: ClaimFacts) -> RejectCode | None:
    return None if f.ctx.member_exists else reject("cardholder", "52")


def date_of_birth(f: ClaimFacts) -> RejectCode | None:
    given, on_file = f.claim.date_of_birth, _date_of_birth_on_file(f)
    if given is None or on_file is None or given == on_file:
        return None
    return reject("date_of_birth", "09")


def coverage_dates(f: ClaimFacts) -> RejectCode | None:
    if f.year is not None:
        return None
    starts = [year.period_start for year in f.ctx.years]
    # A member without any year was never covered: "before coverage effective".
    if not starts or f.claim.date_of_service < min(starts):
        return reject("coverage_dates", "67")
    return reject("coverage_dates", "68")


def enrollment_eligible(f: ClaimFacts) -> RejectCode | None:
    year = year_of(f)
    if year.status != "ineligible":
        return None
    if date_of_birth(f) is not None:  # a pharmacy that has the wrong patient learns no reason
        return reject("enrollment_eligible", "65")
    reasons = ", ".join(reason.code for reason in year.reasons)
    return reject("enrollment_eligible", "65", reasons or None)


def network(f: ClaimFacts) -> RejectCode | None:
    chains = {chain_key(chain) for chain in f.terms.network_chains}
    return None if chain_key(f.ctx.pharmacy_chain) in chains else reject("network", "40")


def product(f: ClaimFacts) -> RejectCode | None:
    if any(drug_coding(line, f.terms) for line in f.claim.lines):
        return None
    return reject("product", "70")


def other_coverage(f: ClaimFacts) -> RejectCode | None:
    """NCPDP 308-C8: 1 (or absent), 8 and 3 are accepted as the table says; any other is 13."""
    code = f.claim.cob.other_coverage_code
    return _OTHER_COVERAGE.get(code, _unusable_coverage_code)(f)


def patient_age(f: ClaimFacts) -> RejectCode | None:
    age = age_on(year_of(f).date_of_birth, f.claim.date_of_service)
    return reject("patient_age", "60") if age < f.terms.minimum_age_years else None


def dose(f: ClaimFacts) -> RejectCode | None:
    weight = year_of(f).weight_kg
    if weight is None:
        return None
    if any(daily_dose_exceeds(line, f.terms, weight) for line in f.claim.lines):
        return reject("dose", "88")
    return None


RULES: tuple[Rule, ...] = (
    Rule("duplicate", duplicate, "nothing"),
    Rule("cardholder", cardholder, "nothing"),
    Rule("date_of_birth", date_of_birth, "member"),
    Rule("coverage_dates", coverage_dates, "member"),
    Rule("enrollment_eligible", enrollment_eligible, "year"),
    Rule("network", network, "nothing"),
    Rule("product", product, "nothing"),
    # Only code 1 needs the year (is the enrollment cash-pay?); it skips itself without one.
    Rule("other_coverage", other_coverage, "nothing"),
    Rule("patient_age", patient_age, "year"),
    Rule("dose", dose, "year"),
)


#: The two exceptions to rule reporting (PROGRAM_TERMS.md): a claim failing one of these
#: comes from a pharmacy that may have no business knowing the patient's coverage, so its
#: answer shows none of it: no benefit, cash_pay false, and amounts as if no enrollment year
#: matched (what the enrollment excludes would tell where the patient lives).
CONCEALING_RULES = frozenset({"date_of_birth", "network"})
#: A claim from a pharmacy outside the network is answered with this rule's code alone.
ANSWERED_ALONE = "network"
MAX_REJECT_CODES = 5  # NCPDP 511-FB repeats at most 5 times


# --- running them ---------------------------------------------------------------


def year_of_service(claim: Claim, ctx: ClaimContext) -> EnrollmentYear | None:
    """The member's enrollment year that contains the date of service, if any."""
    if not ctx.member_exists:
        return None
    return next((y for y in ctx.years if y.contains(claim.date_of_service)), None)


def failures(facts: ClaimFacts, rules: Iterable[Rule] = RULES) -> tuple[RejectCode, ...]:
    """Every failing rule of `rules`, in order; skipped: what lacks the member or year, and
    overrides. A failing ANSWERED_ALONE rule is answered alone."""
    found = tuple(
        failure
        for rule in rules
        if runs(rule, facts) and (failure := rule.check(facts)) is not None
    )
    alone = tuple(failure for failure in found if failure.rule == ANSWERED_ALONE)
    return alone or found


def runs(rule: Rule, facts: ClaimFacts) -> bool:
    # Only reviewable rules can be approved away; an override of any other rule is ignored.
    if rule.id in facts.ctx.overrides & REVIEWABLE_RULES:
        return False
    if rule.needs == "member":
        return facts.ctx.member_exists
    return rule.needs != "year" or facts.year is not None


def conceals(failed: Iterable[RejectCode]) -> bool:
    """Whether the answer must tell nothing of the patient's coverage (a 40 or a 09)."""
    return any(failure.rule in CONCEALING_RULES for failure in failed)


def reported(failed: Iterable[RejectCode]) -> tuple[RejectCode, ...]:
    """The first MAX_REJECT_CODES failures, each code once."""
    first: dict[str, RejectCode] = {}
    for failure in failed:
        first.setdefault(failure.code, failure)
    return tuple(first.values())[:MAX_REJECT_CODES]


# --- helpers --------------------------------------------------------------------


def year_of(f: ClaimFacts) -> EnrollmentYear:
    """The claim's enrollment year, for rules the registry runs only when there is one."""
    if f.year is None:
        raise LookupError("this rule needs the enrollment year of the date of service")
    return f.year


@lru_cache(maxsize=1024)  # a handful of chains, looked up for every claim (and batch replays)
def chain_key(chain: str) -> str:
    """Chains are free text: "CVS Specialty" and "cvs-specialty" both mean cvs_specialty."""
    return re.sub(r"[\s-]+", "_", chain.strip().lower())


def age_on(born: date, day: date) -> int:
    """Whole years of age on `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def claim_is_cash_pay(claim: Claim, year: EnrollmentYear | None, terms: Terms) -> bool:
    """Code 1 follows the enrollment; code 3 with a product-not-covered reject is cash-pay."""
    cob = claim.cob
    if cob.other_coverage_code == 1:
        return year is not None and year.cash_pay
    return cob.other_coverage_code == 3 and _primary_does_not_cover(
        cob.other_payer_reject_codes, terms
    )


def _primary_does_not_cover(codes: tuple[str, ...], terms: Terms) -> bool:
    return any(code in terms.product_not_covered_reject_codes for code in codes)


def _date_of_birth_on_file(f: ClaimFacts) -> date | None:
    if f.year is not None:
        return f.year.date_of_birth
    latest = max(f.ctx.years, key=lambda year: year.period_start, default=None)
    return None if latest is None else latest.date_of_birth


def _no_other_coverage(f: ClaimFacts) -> RejectCode | None:
    if f.year is None or f.year.cash_pay:
        return None
    return reject("other_coverage", "41")


def _patient_share_only(f: ClaimFacts) -> RejectCode | None:
    cob = f.claim.cob
    if not cob.other_payer_bin:
        return reject("other_coverage", "13")
    if any(p.matches(cob.other_payer_bin, cob.other_payer_pcn) for p in f.terms.government_payers):
        return reject("other_coverage", "65", "government_payer")
    return None


def _billed_not_covered(f: ClaimFacts) -> RejectCode | None:
    codes = f.claim.cob.other_payer_reject_codes
    if not codes:
        return reject("other_coverage", "6E")
    return None if _primary_does_not_cover(codes, f.terms) else reject("other_coverage", "41")


def _unusable_coverage_code(f: ClaimFacts) -> RejectCode | None:
    return reject("other_coverage", "13")


_OTHER_COVERAGE: dict[int, Check] = {
    1: _no_other_coverage,
    8: _patient_share_only,
    3: _billed_not_covered,
}
