"""The console's Program page: one calendar year of the program in counts and sums.

Money stays in integer cents; the web layer draws and formats it. Claims belong to the
year of their date of service, enrollment years to the year their benefit period starts,
payment cycles to the year of the moment they were closed through (UTC). No name or
other identifier of a patient leaves here: counts and sums only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.domain.payments import CycleRecord
from adjudicator.domain.terms import terms_for_claim
from adjudicator.services import terms
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import Spend, UnitOfWork, YearUse

TOP_REASONS = 10
#: Shares of the annual maximum used, as the page labels them; a year at or over its
#: maximum is "100%", so "75–99%" ends just below it.
SHARE_BUCKETS = ("0–25%", "25–50%", "50–75%", "75–99%", "100%")
ALL_REMITTANCES = 10**6  # a cycle has one remittance per pharmacy: all of them


def report(rt: Runtime, year: int) -> dict[str, Any]:
    """The year's charts' numbers, its payment cycles and their remittances."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    with rt.ledger.reading() as uow:
        program = uow.program
        months = program.paid_by_month(first, last)
        statuses = program.status_counts(first, last)
        reasons = top_reasons(program.reject_reasons(first, last))
        chains = program.paid_by_chain(first, last)
        states = program.paid_by_state(first, last)
        shares = _shares(uow, program.years_starting(first, last))
        cycles = [_cycle(uow, c) for c in _cycles_of(uow, year)]
    paid = [months.get(m, Spend(0, 0)) for m in range(1, 13)]
    return {
        "year": year,
        "months": [
            {"month": m, "claims": s.claims, "cents": s.cents} for m, s in enumerate(paid, 1)
        ],
        "statuses": [{"status": str(s), "claims": statuses.get(s, 0)} for s in ClaimStatus],
        "reasons": reasons,
        "shares": [{"bucket": b, "patients": shares[b]} for b in SHARE_BUCKETS],
        "chains": _ranked(chains, "chain"),
        "states": _ranked(states, "state"),
        "totals": {
            "claims": sum(statuses.values()),
            "paid_claims": sum(s.claims for s in paid),
            "program_paid": sum(s.cents for s in paid),
        },
        "cycles": cycles,
    }


def top_reasons(found: Iterable[tuple[str, str]], most: int = TOP_REASONS) -> list[dict[str, Any]]:
    """The `most` most frequent (code, message) pairs with their counts: most claims first,
    ties by code then message, so every request lists them in one order."""
    counted = Counter(found)
    top = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:most]
    return [{"code": code, "message": message, "claims": n} for (code, message), n in top]


def share_bucket(used: int, annual_max: int) -> str:
    """Which of SHARE_BUCKETS a year that used `used` of `annual_max` (cents) falls in."""
    if used >= annual_max:
        return SHARE_BUCKETS[-1]
    return SHARE_BUCKETS[min(used * 4 // annual_max, 3)]


def _shares(uow: UnitOfWork, years: list[YearUse]) -> Counter[str]:
    """Patients (their enrollment years starting this year) by share of the maximum used.
    An ineligible year that never paid is no patient of the program, so it is left out."""
    versions = terms.all_versions(uow)
    counted: Counter[str] = Counter()
    for year in years:
        if year.status == "active" or year.used > 0:
            maximum = terms_for_claim(versions, year.period_start).annual_max
            counted[share_bucket(year.used, maximum)] += 1
    return counted


def _ranked(found: dict[str, Spend], name: str) -> list[dict[str, Any]]:
    """Most paid first (then by name): what the bar charts and their tables list."""
    ordered = sorted(found.items(), key=lambda item: (-item[1].cents, item[0]))
    return [{name: key, "claims": s.claims, "cents": s.cents} for key, s in ordered]


def _cycles_of(uow: UnitOfWork, year: int) -> list[CycleRecord]:
    start = datetime(year, 1, 1, tzinfo=UTC)
    return uow.payments.cycles_through(start, start.replace(year=year + 1))


def _cycle(uow: UnitOfWork, cycle: CycleRecord) -> dict[str, Any]:
    remittances = uow.payments.remittances(cycle.cycle_id, None, ALL_REMITTANCES, None)
    names = {r.npi: uow.credentials.pharmacy(r.npi) for r in remittances}
    return {
        "cycle_id": cycle.cycle_id,
        "through": cycle.through,
        "closed_at": cycle.closed_at,
        "pharmacies": cycle.pharmacies,
        "events": cycle.events,
        "total": cycle.total,
        "sent": cycle.sent,
        "remittances": [
            {
                "remittance_id": r.remittance_id,
                "npi": r.npi,
                "pharmacy": p.name if (p := names[r.npi]) is not None else None,
                "total": r.totals.total,
                "payment": r.totals.payment,
                "owed": r.totals.owed,
            }
            for r in sorted(remittances, key=lambda r: r.npi)
        ],
    }
