"""The Program page's SQL: counts and sums over a window of dates of service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, extract, func, literal_column, select

from adjudicator.adapters.tables import claims, enrollments, pharmacies
from adjudicator.services.unit_of_work import Spend, YearUse

_PAID = "paid"
# The patient's state as its enrollment year recorded it: a JSON path that SQLAlchemy
# writes for each dialect (SQLite json_extract, PostgreSQL #>>).
_STATE = enrollments.c.facts[("patient", "address", "state")].as_string()
_USED = (
    select(func.coalesce(func.sum(claims.c.program_paid), 0))
    .where(
        # The ledger guard's index (cardholder, enrollment, status, program_paid) serves it.
        claims.c.cardholder_id == enrollments.c.cardholder_id,
        claims.c.enrollment_id == enrollments.c.enrollment_id,
        claims.c.status == _PAID,
    )
    .scalar_subquery()
)


def _served(first: date, last: date) -> ColumnElement[bool]:
    return claims.c.date_of_service.between(first, last)


def _spend(key: ColumnElement[Any]) -> Select[Any]:
    """Paid claims and their program paid, grouped by `key` (labelled `key`)."""
    return (
        select(
            key.label("key"),
            func.count().label("claims"),
            func.coalesce(func.sum(claims.c.program_paid), 0).label("cents"),
        )
        .where(claims.c.status == _PAID)
        # By the output's name: the key's own expression may hold bound parameters (the
        # JSON path), which PostgreSQL would not see as the same expression twice.
        .group_by(literal_column("key"))
    )


def _by(rows: Any) -> dict[Any, Spend]:
    """Keyed spends; an absent key (no enrollment year, no state recorded) is ""."""
    found: dict[Any, Spend] = {}
    for r in rows:
        key = "" if r.key is None else r.key
        before = found.get(key, Spend(0, 0))
        found[key] = Spend(before.claims + int(r.claims), before.cents + int(r.cents))
    return found


class SqlProgramReport:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def paid_by_month(self, first: date, last: date) -> dict[int, Spend]:
        month = extract("month", claims.c.date_of_service)
        rows = self._conn.execute(_spend(month).where(_served(first, last)))
        return {int(key): spend for key, spend in _by(rows).items()}

    def status_counts(self, first: date, last: date) -> dict[str, int]:
        query = (
            select(claims.c.status, func.count())
            .where(_served(first, last))
            .group_by(claims.c.status)
        )
        return {status: int(count) for status, count in self._conn.execute(query)}

    def reject_reasons(self, first: date, last: date) -> Iterator[tuple[str, str]]:
        # The codes live in the decision's JSON array; unnesting it is dialect-specific,
        # so the decisions of the window's rejected claims are read and their codes listed.
        query = select(claims.c.decision).where(_served(first, last), claims.c.status == "rejected")
        for (decision,) in self._conn.execute(query):
            rejects = (decision or {}).get("reject_codes", [])
            pairs = ((str(r.get("code", "")), str(r.get("message", ""))) for r in rejects)
            yield from dict.fromkeys(pairs)  # a claim counts once for each of its reasons

    def paid_by_chain(self, first: date, last: date) -> dict[str, Spend]:
        query = _spend(pharmacies.c.chain).join_from(
            claims, pharmacies, pharmacies.c.npi == claims.c.pharmacy_npi
        )
        return _by(self._conn.execute(query.where(_served(first, last))))

    def paid_by_state(self, first: date, last: date) -> dict[str, Spend]:
        query = _spend(_STATE).outerjoin_from(
            claims, enrollments, enrollments.c.enrollment_id == claims.c.enrollment_id
        )
        return _by(self._conn.execute(query.where(_served(first, last))))

    def years_starting(self, first: date, last: date) -> list[YearUse]:
        query = (
            select(
                enrollments.c.enrollment_id,
                enrollments.c.period_start,
                enrollments.c.status,
                _USED.label("used"),
            )
            .where(enrollments.c.period_start.between(first, last))
            .order_by(enrollments.c.period_start, enrollments.c.enrollment_id)
        )
        return [
            YearUse(r.enrollment_id, r.period_start, r.status, int(r.used))
            for r in self._conn.execute(query)
        ]
