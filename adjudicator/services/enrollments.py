"""Enrollment use cases: enroll a year, correct it, and tell what is left of it."""

from __future__ import annotations

import secrets
import uuid
from datetime import date
from typing import Any

from adjudicator.domain.eligibility import benefit_period, evaluate_enrollment
from adjudicator.domain.records import JSON, EnrollmentRecord, facts_from_record
from adjudicator.domain.terms import terms_in_force
from adjudicator.services import records, terms
from adjudicator.services.errors import Conflict, Invalid, NotFound
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import UnitOfWork


def enroll(rt: Runtime, data: dict[str, Any], actor: str) -> dict[str, Any]:
    facts = records.facts_record(data)
    start, end = _benefit_period(data["effective_date"])
    with rt.ledger.writing() as uow:
        cardholder_id = _cardholder_for(uow, data.get("cardholder_id"))
        _refuse_overlap(uow, cardholder_id, start, end)
        year = EnrollmentRecord(
            enrollment_id=uuid.uuid4().hex,
            cardholder_id=cardholder_id,
            period_start=start,
            period_end=end,
            facts=facts,
            **_evaluate(uow, facts),
        )
        uow.members.add_enrollment(year)
        view = enrollment_view(uow, year)
        _audit(uow, year, actor, "enrollment_created", None, view)
    return view


def update(rt: Runtime, enrollment_id: str, changes: dict[str, Any], actor: str) -> dict[str, Any]:
    """Apply new coverage, attestations, address or weight; status is recomputed."""
    with rt.ledger.writing() as uow:
        # Locked: two PATCHes at once must not each rewrite the facts they read (one
        # would undo the other, an ineligibility included).
        year = uow.members.enrollment(enrollment_id, lock=True)
        if year is None:
            raise NotFound("enrollment not found")
        before = enrollment_view(uow, year)
        facts = _patched_facts(year.facts, changes)
        uow.members.update_enrollment(enrollment_id, facts=facts, **_evaluate(uow, facts))
        year = uow.members.enrollment(enrollment_id)
        assert year is not None  # locked above
        after = enrollment_view(uow, year)
        _audit(uow, year, actor, "enrollment_changed", before, after)
    return after


def _patched_facts(facts: JSON, changes: dict[str, Any]) -> JSON:
    patched = {**facts, "patient": {**facts["patient"]}}
    if "coverage" in changes:
        patched["coverage"] = {"covers_product": True, **changes["coverage"]}
    if "attestations" in changes:
        patched["attestations"] = {**facts["attestations"], **changes["attestations"]}
    if "address" in changes.get("patient", {}):
        patched["patient"]["address"] = dict(changes["patient"]["address"])
    if "weight_kg" in changes:
        weight = changes["weight_kg"]
        patched["weight_kg"] = None if weight is None else format(weight.normalize(), "f")
    return patched


def get(rt: Runtime, enrollment_id: str) -> dict[str, Any]:
    with rt.ledger.reading() as uow:
        year = uow.members.enrollment(enrollment_id)
        if year is None:
            raise NotFound("enrollment not found")
        return enrollment_view(uow, year)


def benefit(rt: Runtime, cardholder_id: str, on: date) -> dict[str, Any]:
    """Used and remaining of the enrollment year that contains `on`."""
    with rt.ledger.reading() as uow:
        year = next((y for y in uow.members.years_of(cardholder_id) if y.contains(on)), None)
        if year is None:
            raise NotFound("no enrollment year of this cardholder contains that date")
        annual_max = terms.in_force(uow, on).annual_max
    used = rt.accumulator.used(cardholder_id, year.enrollment_id)
    return {
        "cardholder_id": cardholder_id,
        "enrollment_id": year.enrollment_id,
        "benefit_period": {"start": year.period_start, "end": year.period_end},
        "annual_max": annual_max,
        "used": used,
        "remaining": max(annual_max - used, 0),
    }


def enrollment_view(uow: UnitOfWork, row: EnrollmentRecord) -> dict[str, Any]:
    """The API shape (money in cents, dates as dates) of one enrollment year."""
    facts = row.facts
    return {
        "enrollment_id": row.enrollment_id,
        "cardholder_id": row.cardholder_id,
        "status": row.status,
        "reasons": list(row.reasons),
        "cash_pay": row.cash_pay,
        "benefit_period": {"start": row.period_start, "end": row.period_end},
        "annual_max": terms.in_force(uow, row.period_start).annual_max,
        "effective_date": row.period_start,
        "patient": facts["patient"],
        "coverage": facts["coverage"],
        "attestations": facts["attestations"],
        "weight_kg": facts["weight_kg"],
    }


def _benefit_period(effective: date) -> tuple[date, date]:
    if effective.year >= date.max.year:  # its 12 months would end past the calendar
        raise Invalid({"effective_date": ["A year starting then would end after 9999-12-31."]})
    return benefit_period(effective)


def _evaluate(uow: UnitOfWork, facts: JSON) -> dict[str, Any]:
    domain_facts = facts_from_record(facts)
    versions = terms.all_versions(uow)  # 2020-01 at least: seeded with the ledger
    first = min(t.effective_date for t in versions)
    if domain_facts.effective_date < first:
        error = f"The program starts on {first.isoformat()}: no terms are in force earlier."
        raise Invalid({"effective_date": [error]})
    in_force = terms_in_force(versions, domain_facts.effective_date)
    eligibility = evaluate_enrollment(domain_facts, in_force)
    return {
        "status": eligibility.status,
        "reasons": [{"code": r.code, "message": r.message} for r in eligibility.reasons],
        "cash_pay": eligibility.cash_pay,
    }


def _cardholder_for(uow: UnitOfWork, requested: str | None) -> str:
    if requested is not None:
        # Locked: two renewals at once must not both pass the overlap check.
        if not uow.members.exists(requested, lock=True):
            raise Invalid({"cardholder_id": ["No member with this cardholder id."]})
        return requested
    while True:
        cardholder_id = f"IC{secrets.randbelow(10**10):010d}"
        if not uow.members.exists(cardholder_id):
            uow.members.add(cardholder_id)
            return cardholder_id


def _refuse_overlap(uow: UnitOfWork, cardholder_id: str, start: date, end: date) -> None:
    for year in uow.members.years_of(cardholder_id):
        if year.period_start <= end and start <= year.period_end:
            raise Conflict(
                f"the enrollment year {start}..{end} overlaps the cardholder's year "
                f"{year.period_start}..{year.period_end}"
            )


def _audit(
    uow: UnitOfWork,
    row: EnrollmentRecord,
    actor: str,
    type_: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    uow.events.add(
        actor=actor,
        entity_type="enrollment",
        entity_id=row.enrollment_id,
        cardholder_id=row.cardholder_id,
        type=type_,
        data={"before": _jsonable(before), "after": _jsonable(after)},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
