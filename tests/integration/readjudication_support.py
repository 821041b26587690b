"""Helpers for the re-adjudication tests: a private ledger per test, terms, jobs.

Terms versions are global to a ledger: a version effective 2021-07-01 would decide every
later claim of the session's shared ledger (other tests' 2024 and 2026 claims included).
So each re-adjudication test gets a ledger of its own (a fresh SQLite file, or a fresh
PostgreSQL schema under TEST_DATABASE_URL), migrated and seeded like the session's, on the
session's Redis; the accumulators of its members are deleted afterwards.

Test modules import the fixtures `private_ledger_url_fixture` and `rt_fixture`; they are
named `private_ledger_url` and `rt`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.adapters.tables import claims as claims_table
from adjudicator.domain.terms import bundled_terms
from adjudicator.services import readjudication, terms
from adjudicator.services.runtime import Runtime

ADMIN = "user:readjudication-tests"


def post_terms(rt: Runtime, version: str, effective: str, **changes: Any) -> None:
    """A new terms version: 2020-01's values with `changes` (money as "800.00")."""
    document = bundled_terms()[0].to_document()
    document.update(version=version, effective_date=effective, **changes)
    terms.create(rt.ledger, document, ADMIN)


def run_job(
    rt: Runtime, date_from: str, date_to: str, mode: str, cardholder_id: str | None = None
) -> dict[str, Any]:
    """Create and run a job in-process; its final view."""
    request: dict[str, Any] = {
        "date_from": date.fromisoformat(date_from),
        "date_to": date.fromisoformat(date_to),
        "mode": mode,
    }
    if cardholder_id is not None:
        request["cardholder_id"] = cardholder_id
    job = readjudication.create(rt, request, ADMIN)
    readjudication.run(rt, job["job_id"])
    return readjudication.get(rt, job["job_id"])


def all_changes(rt: Runtime, job_id: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = readjudication.changes(rt, job_id, cursor, 200)
        items.extend(page["items"])
        if not (cursor := page["next_cursor"]):
            return items


def claim_rows(rt: Runtime, cardholder_id: str) -> list[Any]:
    """The cardholder's claims, oldest first."""
    query = (
        select(claims_table)
        .where(claims_table.c.cardholder_id == cardholder_id)
        .order_by(claims_table.c.seq)
    )
    with reading(rt.engine) as conn:
        return list(conn.execute(query))


def paid_in_year(rt: Runtime, cardholder_id: str, enrollment_id: str) -> int:
    return sum(
        row.program_paid
        for row in claim_rows(rt, cardholder_id)
        if row.status == "paid" and row.enrollment_id == enrollment_id
    )


def assert_accumulator_matches_ledger(rt: Runtime, cardholder_id: str) -> None:
    """Redis's used per year and grants equal what the ledger's paid claims say."""
    rows = claim_rows(rt, cardholder_id)
    snapshot = rt.accumulator.snapshot(cardholder_id)
    years = {row.enrollment_id for row in rows if row.enrollment_id}
    for year in years:
        assert snapshot["used"].get(year, 0) == paid_in_year(rt, cardholder_id, year), year
    for row in rows:
        grant = snapshot["grants"].get(row.claim_id)
        if row.status == "paid":
            assert grant is not None and grant[:2] == (row.enrollment_id, row.program_paid)
            assert row.claim_id not in snapshot["released"]
        elif row.status == "rejected":
            assert grant is None or grant[1] == 0 or row.claim_id in snapshot["released"]


def events_of(rt: Runtime, claim_id: str) -> list[Any]:
    with reading(rt.engine) as conn:
        return ledger.events_of(conn, "claim", claim_id)
