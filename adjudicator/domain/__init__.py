"""The pure domain: terms, eligibility, claim rules and decisions (standard library only)."""

from adjudicator.domain.adjudicate import decide, evaluate, grant
from adjudicator.domain.eligibility import benefit_period, evaluate_enrollment
from adjudicator.domain.money import Cents, format_money, parse_money
from adjudicator.domain.rules import RULES
from adjudicator.domain.terms import (
    GovernmentPayer,
    Terms,
    bundled_terms,
    terms_for_claim,
    terms_in_force,
)

__all__ = [
    "RULES",
    "Cents",
    "GovernmentPayer",
    "Terms",
    "benefit_period",
    "bundled_terms",
    "decide",
    "evaluate",
    "evaluate_enrollment",
    "format_money",
    "grant",
    "parse_money",
    "terms_for_claim",
    "terms_in_force",
]
