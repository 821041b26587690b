"""Replay a cardholder's enrollment years as they would be decided today (no I/O here).

A patient-year is replayed whole, in the original order of adjudication (decided_at, then
seq), with the enrollment facts as they are now and the terms in force on each claim's
date of service:
- claims in the job's window (paid or rejected) are decided again: rules, amounts, caps;
- paid claims of the year outside the window keep their amounts and still count toward the
  cap, also ahead of claims adjudicated before them (docs/decisions.md #37);
- reversed claims stay reversed and count for nothing; received and duplicate claims are
  not touched (a received one is still being decided by the real-time path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import accumulate
from typing import Any

from adjudicator.domain.adjudicate import decide, evaluate, grant
from adjudicator.domain.model import ClaimContext, Decision, EnrollmentYear
from adjudicator.domain.terms import Terms, terms_for_claim
from adjudicator.services import records

REPLAYED = frozenset({"paid", "rejected"})


@dataclass(frozen=True)
class Window:
    date_from: date
    date_to: date
    cardholder_id: str | None = None

    def holds(self, row: Any) -> bool:
        return row.status in REPLAYED and self.date_from <= row.date_of_service <= self.date_to


@dataclass(frozen=True)
class Lookups:
    """What the rules need besides the claim and the member, loaded once per chunk."""

    terms_on: Callable[[date], Terms]
    chain_of: Callable[[str], str]  # pharmacy NPI -> chain ("" for an unknown pharmacy)
    paid_holders: Mapping[str, str]  # paid_key -> the claim now paid under that key


def terms_lookup(versions: Iterable[Terms]) -> Callable[[date], Terms]:
    versions = tuple(versions)

    @lru_cache(maxsize=4096)
    def terms_on(day: date) -> Terms:
        return terms_for_claim(versions, day)

    return terms_on


class Outcome:
    """One claim of the window: as the ledger has it, and as the replay decides it."""

    __slots__ = ("row", "decision", "enrollment_id", "after_paid", "changed")

    def __init__(self, row: Any, decision: Decision, enrollment_id: str | None) -> None:
        self.row = row
        self.decision = decision
        self.enrollment_id = enrollment_id
        self.after_paid: int = decision.amounts.program_paid
        self.changed: bool = decision.status != row.status or self.after_paid != row.program_paid


@dataclass
class YearReplay:
    """One patient-year (or a cardholder's claims outside any year, enrollment_id None)."""

    cardholder_id: str
    enrollment_id: str | None
    rows: list[Any]  # every claim of the year the ledger holds, in order of adjudication
    outcomes: list[Outcome] = field(default_factory=list)  # the window's, in the same order
    grants: dict[str, tuple[int, int]] = field(default_factory=dict)  # replayed: paid -> cents
    total: int = 0  # the year's used amount after the replay

    @property
    def changed(self) -> bool:
        return any(o.changed for o in self.outcomes)

    def states(self) -> dict[str, tuple[str, int]]:
        """claim_id -> (its status in the ledger read, its replayed grant): what the hold
        on the year's accumulator compares with the grants Redis holds."""
        return {
            row.claim_id: (row.status, self.grants.get(row.claim_id, (0, 0))[0])
            for row in self.rows
        }

    def cleared(self) -> list[str]:
        """Claims of the year that hold no grant after the replay (reversed ones keep theirs)."""
        return [
            row.claim_id
            for row in self.rows
            if row.status not in ("received", "reversed") and row.claim_id not in self.grants
        ]


def replay_cardholder(
    cardholder_id: str,
    rows: list[Any],
    years: tuple[EnrollmentYear, ...],
    member_exists: bool,
    window: Window,
    lookups: Lookups,
) -> list[YearReplay]:
    """Every patient-year of the cardholder that holds a claim of the window, replayed."""
    by_year: dict[str | None, list[Any]] = {}
    for row in rows:
        day = row.date_of_service
        year = next((y.enrollment_id for y in years if y.period_start <= day <= y.period_end), None)
        by_year.setdefault(year, []).append(row)
    context = ClaimContext(
        member_exists=member_exists or bool(years), years=years, pharmacy_chain=""
    )
    replays = []
    for enrollment_id, year_rows in by_year.items():
        if any(window.holds(row) for row in year_rows):
            year_rows.sort(key=_adjudication_order)
            replay = YearReplay(cardholder_id, enrollment_id, year_rows)
            _replay_year(replay, context, window, lookups)
            replays.append(replay)
    return replays


def _adjudication_order(row: Any) -> tuple[Any, ...]:
    # Undecided claims (still `received`) last; datetimes are compared as the database
    # hands them back (all naive on SQLite, all aware on PostgreSQL).
    decided = row.decided_at
    return (1, row.seq) if decided is None else (0, decided, row.seq)


def _replay_year(
    replay: YearReplay, context: ClaimContext, window: Window, lookups: Lookups
) -> None:
    rows = replay.rows
    lo, hi = window.date_from, window.date_to
    inside = [row.status in REPLAYED and lo <= row.date_of_service <= hi for row in rows]
    kept = [
        row.program_paid if not replayed and row.status == "paid" else 0
        for row, replayed in zip(rows, inside, strict=True)
    ]
    # What the kept claims after position i hold: the cap must leave room for them.
    kept_after = list(accumulate(reversed(kept), initial=0))[::-1][1:]
    replayed_ids = {row.claim_id for row, replayed in zip(rows, inside, strict=True) if replayed}
    decider = _Decider(context, lookups, replayed_ids)
    outcomes, grants = replay.outcomes, replay.grants
    enrollment_id = replay.enrollment_id
    used = 0
    for row, replayed, kept_here, held_after in zip(rows, inside, kept, kept_after, strict=True):
        if not replayed:
            if kept_here:
                used += kept_here
                grants[row.claim_id] = (kept_here, _used_before(row))
            continue
        held = used + held_after
        outcome = Outcome(row, decider.decide(row, held), enrollment_id)
        outcomes.append(outcome)
        if outcome.decision.status == "paid":
            grants[row.claim_id] = (outcome.after_paid, held)
            used += outcome.after_paid
    replay.total = used


class _Decider:
    """Decides the window's claims of one patient-year, in order."""

    def __init__(self, base: ClaimContext, lookups: Lookups, replayed_ids: set[str]) -> None:
        self.base = base
        self.lookups = lookups
        self.replayed_ids = replayed_ids
        self.paid_keys: set[tuple[Any, ...]] = set()  # NCPDP keys this replay has paid
        self.contexts: dict[tuple[Any, ...], ClaimContext] = {}

    def decide(self, row: Any, held: int) -> Decision:
        claim = records.claim_from_request(row.claim_id, row.request)
        key = (row.pharmacy_npi, row.rx_number, row.fill_number, row.date_of_service)
        evaluation = evaluate(
            claim, self._context(row, key), self.lookups.terms_on(claim.date_of_service)
        )
        if evaluation.year is None or evaluation.rejects:
            return decide(evaluation, used_before=held if evaluation.year else 0, granted=0)
        decision = decide(
            evaluation,
            used_before=held,
            granted=grant(evaluation.requested, held, evaluation.annual_max),
        )
        if decision.status == "paid":
            self.paid_keys.add(key)
        return decision

    def _context(self, row: Any, key: tuple[Any, ...]) -> ClaimContext:
        # A paid claim with this NCPDP key that stays paid (outside this replay), or one this
        # replay has just paid: the claim would be a different-content duplicate (83).
        other_paid = key in self.paid_keys
        if not other_paid and self.lookups.paid_holders:
            holder = self.lookups.paid_holders.get(paid_key(row))
            other_paid = holder not in (None, row.claim_id) and holder not in self.replayed_ids
        overrides = tuple(approved_overrides(row))
        shape = (row.pharmacy_npi, other_paid, overrides)
        context = self.contexts.get(shape)
        if context is None:
            context = self.contexts[shape] = ClaimContext(
                member_exists=self.base.member_exists,
                years=self.base.years,
                pharmacy_chain=self.lookups.chain_of(row.pharmacy_npi),
                other_paid_claim_with_same_key=other_paid,
                overrides=frozenset(overrides),
            )
        return context


def approved_overrides(row: Any) -> list[str]:
    """The reviewable rules hub staff approved on this claim: they stay overridden."""
    review = row.review
    if not review or review.get("state") != "approved":
        return []
    return list(review.get("rules", []))


def paid_key(row: Any) -> str:
    """The NCPDP key a paid claim holds (services.adjudication writes the same)."""
    return f"{row.pharmacy_npi}|{row.rx_number}|{row.fill_number}|{row.date_of_service}"


def _used_before(row: Any) -> int:
    decision = getattr(row, "decision", None) or {}
    benefit = decision.get("benefit") or {}
    return int(benefit.get("used_before", 0))
