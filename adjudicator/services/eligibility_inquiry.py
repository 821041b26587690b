"""NCPDP E1 eligibility: is a cardholder covered on a date at this pharmacy, and what is
left of the year. Nothing is stored but one audit event."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import redis

from adjudicator.domain.inquiry import EligibilityAnswer, check_eligibility
from adjudicator.domain.model import ClaimContext, EnrollmentYear
from adjudicator.domain.terms import Terms, terms_for_claim
from adjudicator.services import terms
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

EVENT = "eligibility_checked"
ID_LENGTH = 40  # the events table's entity and cardholder ids (D.0's 302-C2 holds 20)


@dataclass(frozen=True)
class Inquiry:
    """The answer to an E1: reject codes (code, plain message) in rule order, up to 5, none
    when eligible; the benefit period and what remains of the annual maximum (cents)
    whenever an enrollment year contains the date, except after a 40 or a 09."""

    reject_codes: tuple[tuple[str, str], ...]
    benefit_period: tuple[date, date] | None
    remaining: int | None

    @property
    def eligible(self) -> bool:
        return not self.reject_codes


def inquire(
    rt: Runtime,
    *,
    cardholder_id: str,
    date_of_birth: date | None,
    date_of_service: date,
    pharmacy_npi: str,
    actor: str,
) -> Inquiry:
    """Claim rules 2 to 6 on `date_of_service`, answered as NCPDP.md's E1 says."""
    with rt.ledger.writing() as uow:
        context = _context(uow, cardholder_id, pharmacy_npi)
        in_force = terms_for_claim(terms.all_versions(uow), date_of_service)
        answer = check_eligibility(
            cardholder_id=cardholder_id,
            date_of_birth=date_of_birth,
            date_of_service=date_of_service,
            pharmacy_npi=pharmacy_npi,
            ctx=context,
            terms=in_force,
        )
        _audit(uow, answer, cardholder_id, date_of_service, pharmacy_npi, actor)
    year = answer.year
    return Inquiry(
        reject_codes=tuple((r.code, r.message) for r in answer.rejects),
        benefit_period=None if year is None else (year.period_start, year.period_end),
        remaining=None if year is None else _remaining(rt, cardholder_id, year, in_force),
    )


def _context(uow: UnitOfWork, cardholder_id: str, pharmacy_npi: str) -> ClaimContext:
    """What the rules read, as the worker reads it for a claim."""
    years = tuple(year.year() for year in uow.members.years_of(cardholder_id))
    pharmacy = uow.credentials.pharmacy(pharmacy_npi)
    return ClaimContext(
        member_exists=bool(years) or uow.members.exists(cardholder_id),
        years=years,
        pharmacy_chain=pharmacy.chain if pharmacy else "",
    )


def _remaining(rt: Runtime, cardholder_id: str, year: EnrollmentYear, in_force: Terms) -> int:
    """The annual maximum less what the accumulator counts as used: the JSON benefit
    endpoint's `remaining`. Redis away, the ledger's paid total answers instead (it is
    the source of truth; Redis is the fast path in front of it)."""
    try:
        used = rt.accumulator.used(cardholder_id, year.enrollment_id)
    except redis.RedisError:
        log.warning("eligibility: Redis did not answer, the ledger counts what was used")
        with rt.ledger.reading() as uow:
            used = uow.claims.paid_in_year(cardholder_id, year.enrollment_id)
    return max(in_force.annual_max - used, 0)


def _audit(
    uow: UnitOfWork,
    answer: EligibilityAnswer,
    cardholder_id: str,
    day: date,
    pharmacy_npi: str,
    actor: str,
) -> None:
    # No more of the patient than claim events hold: the date, the pharmacy, the codes.
    uow.events.add(
        actor=actor,
        entity_type="member",
        entity_id=cardholder_id[:ID_LENGTH],
        cardholder_id=cardholder_id[:ID_LENGTH],
        type=EVENT,
        data={
            "date_of_service": day.isoformat(),
            "pharmacy_npi": pharmacy_npi,
            "reject_codes": [r.code for r in answer.rejects],
        },
    )
