"""Load a chunk of cardholders and replay it (domain/replay.py), with what the replay was
computed from: its fingerprint, which an apply compares under the lock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from adjudicator.domain.records import ClaimRecord, EnrollmentRecord
from adjudicator.domain.replay import (
    ClaimState,
    Lookups,
    Window,
    YearReplay,
    keys_to_look_up,
    replay_cardholder,
)
from adjudicator.domain.terms import Terms
from adjudicator.services.unit_of_work import Jobs

YEAR_SPAN = timedelta(days=366)  # every claim of a year touched by the window lies this close

Fingerprint = tuple[tuple[ClaimState, ...], tuple[tuple[str, Any], ...]]
NOTHING: Fingerprint = ((), ())  # a cardholder with no claims and no enrollment years


@dataclass
class CardholderReplay:
    """A cardholder's touched years, replayed, and what that replay was computed from."""

    years: list[YearReplay]
    claims: list[ClaimRecord]
    enrollments: list[EnrollmentRecord]

    @property
    def changed(self) -> bool:
        return any(year.changed for year in self.years)

    @property
    def fingerprint(self) -> Fingerprint:
        return fingerprint(map(ClaimState.of, self.claims), self.enrollments)


def fingerprint(
    claims: Iterable[ClaimState], enrollments: Iterable[EnrollmentRecord]
) -> Fingerprint:
    """What may change under a replay: claim outcomes and order, enrollment facts."""
    return (
        tuple(claims),
        tuple(sorted((e.enrollment_id, e.updated_at) for e in enrollments)),
    )


def window_reach(window: Window) -> tuple[date, date]:
    """The dates of service of every claim of a year the window touches."""
    return window.date_from - YEAR_SPAN, window.date_to + YEAR_SPAN


def load_replays(
    jobs: Jobs,
    cardholders: list[str],
    window: Window,
    terms_on: Callable[[date], Terms],
    *,
    with_decision: bool = False,
    for_update: bool = False,
) -> dict[str, CardholderReplay]:
    """Each cardholder's touched patient-years, replayed from what `jobs` reads.

    `with_decision` also reads the stored decisions (an apply needs them for the events and
    the grants); `for_update` locks the claim rows read (PostgreSQL).
    """
    claims = jobs.claims_of(
        cardholders,
        *window_reach(window),
        with_decision=with_decision or for_update,
        for_update=for_update,
    )
    by_cardholder: dict[str, list[ClaimRecord]] = defaultdict(list)
    for claim in claims:
        by_cardholder[claim.cardholder_id].append(claim)
    enrollments: dict[str, list[EnrollmentRecord]] = defaultdict(list)
    for enrollment in jobs.enrollments_of(cardholders):
        enrollments[enrollment.cardholder_id].append(enrollment)
    without_years = [c for c in cardholders if not enrollments.get(c)]
    members = jobs.members_among(without_years) if without_years else set()
    holders = jobs.paid_key_holders(keys_to_look_up(claims, window))
    lookups = Lookups(terms_on, jobs.chain_lookup(), holders)
    replays = {}
    for cardholder in cardholders:
        own = by_cardholder.get(cardholder, [])
        years = sorted(enrollments.get(cardholder, []), key=lambda e: e.period_start)
        replays[cardholder] = CardholderReplay(
            replay_cardholder(
                cardholder,
                own,
                tuple(year.year() for year in years),
                cardholder in members,
                window,
                lookups,
            ),
            own,
            years,
        )
    return replays


def fingerprints(jobs: Jobs, cardholders: list[str], window: Window) -> dict[str, Fingerprint]:
    """The cardholders' fingerprints as they are now, read under the lock."""
    states = jobs.claim_states(cardholders, *window_reach(window))
    enrollments: dict[str, list[EnrollmentRecord]] = defaultdict(list)
    for enrollment in jobs.enrollments_of(cardholders):
        enrollments[enrollment.cardholder_id].append(enrollment)
    return {c: fingerprint(states.get(c, []), enrollments.get(c, [])) for c in cardholders}
