"""Replay a cardholder's enrollment years as they would be decided today (pure: no I/O).

A patient-year is replayed whole, in the original order of adjudication (decided_at, then
seq), with the enrollment facts as they are now and the terms in force on each claim's
date of service:
- claims in the job's window (paid or rejected) are decided again: rules, amounts, caps;
- paid claims of the year outside the window keep their amounts and still count toward the
  cap, also ahead of claims adjudicated before them (docs/decisions.md #37);
- reversed claims stay reversed and count for nothing; received and duplicate claims are
  not touched (a received one is still being decided by the real-time path).
The policy is live adjudication's own: evaluate/decide/grant, the NCPDP key, approved
review overrides (domain/outcomes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from itertools import accumulate
from typing import Any

from adjudicator.domain.adjudicate import decide, evaluate, grant
from adjudicator.domain.model import ClaimContext, Decision, EnrollmentYear
from adjudicator.domain.outcomes import DECIDED, ClaimStatus, NcpdpKey, approved_overrides
from adjudicator.domain.records import Change, ClaimRecord
from adjudicator.domain.terms import Terms, terms_for_claim

Grants = dict[str, tuple[int, int]]  # claim_id -> (granted cents, the year's used before it)

# Claims a replay never gives or takes a grant: one still being decided (`received`), and
# a reversed one, whose release belongs to the reversal.
_LEFT_ALONE = frozenset({ClaimStatus.RECEIVED, ClaimStatus.REVERSED})


@dataclass(frozen=True)
class Window:
    """What a job replays: the paid and rejected claims served in [date_from, date_to]."""

    date_from: date
    date_to: date
    cardholder_id: str | None = None

    def holds(self, claim: ClaimRecord) -> bool:
        return claim.status in DECIDED and self.date_from <= claim.date_of_service <= self.date_to


@dataclass(frozen=True)
class Lookups:
    """What the rules need besides the claim and the member, loaded once per chunk."""

    terms_on: Callable[[date], Terms]
    chain_of: Callable[[str], str]  # pharmacy NPI -> chain ("" for an unknown pharmacy)
    paid_holders: Mapping[str, str]  # paid_key -> the claim now paid under that key


def terms_lookup(versions: Iterable[Terms]) -> Callable[[date], Terms]:
    """The terms for a claim served on a day (domain.terms_for_claim), memoized."""
    versions = tuple(versions)

    @lru_cache(maxsize=4096)
    def terms_on(day: date) -> Terms:
        return terms_for_claim(versions, day)

    return terms_on


def keys_to_look_up(claims: Iterable[ClaimRecord], window: Window) -> set[str]:
    """The paid keys of the window's rejected claims: a replay that would pay one of them
    must know whether another claim is paid under its NCPDP key (Lookups.paid_holders)."""
    return {
        claim.key.paid_key()
        for claim in claims
        if claim.status == ClaimStatus.REJECTED and window.holds(claim)
    }


@dataclass(frozen=True, slots=True)
class ClaimState:
    """What may change of a claim under a replay (another writer's decision, a reversal):
    read again under the lock, it tells whether the first look still holds."""

    claim_id: str
    status: ClaimStatus
    program_paid: int
    decided_at: datetime | None

    @classmethod
    def of(cls, claim: ClaimRecord) -> ClaimState:
        return cls(claim.claim_id, claim.status, claim.program_paid, claim.decided_at)


class Outcome:
    """One claim of the window: as the ledger has it, and as the replay decides it."""

    __slots__ = ("claim", "decision", "enrollment_id", "after_paid", "changed")

    def __init__(self, claim: ClaimRecord, decision: Decision, enrollment_id: str | None) -> None:
        self.claim = claim
        self.decision = decision
        self.enrollment_id = enrollment_id
        self.after_paid: int = decision.amounts.program_paid
        self.changed: bool = (
            decision.status != claim.status or self.after_paid != claim.program_paid
        )

    @property
    def pays(self) -> bool:
        return self.decision.status == ClaimStatus.PAID

    def change(self) -> Change:
        claim = self.claim
        return Change(
            claim_id=claim.claim_id,
            cardholder_id=claim.cardholder_id,
            enrollment_id=self.enrollment_id,
            date_of_service=claim.date_of_service,
            before_status=claim.status,
            before_program_paid=claim.program_paid,
            after_status=ClaimStatus(self.decision.status),
            after_program_paid=self.after_paid,
        )


@dataclass
class YearReplay:
    """One patient-year (or a cardholder's claims outside any year, enrollment_id None)."""

    cardholder_id: str
    enrollment_id: str | None
    claims: list[ClaimRecord]  # every claim of the year the ledger holds, in order of adjudication
    outcomes: list[Outcome] = field(default_factory=list)  # the window's, in the same order
    grants: Grants = field(default_factory=dict)  # as replayed: the claims that pay
    total: int = 0  # the year's used amount after the replay

    @property
    def changed(self) -> bool:
        return any(o.changed for o in self.outcomes)

    def states(self) -> dict[str, tuple[ClaimStatus, int]]:
        """claim_id -> (its status in the ledger read, its replayed grant): what the hold
        on the year's accumulator compares with the grants Redis holds."""
        return {
            claim.claim_id: (claim.status, self.grants.get(claim.claim_id, (0, 0))[0])
            for claim in self.claims
        }

    def cleared(self) -> list[str]:
        """Claims of the year that hold no grant after the replay (reversed ones keep theirs)."""
        return self._holding_none(self.grants)

    def ledger_grants(self) -> tuple[Grants, list[str]]:
        """The year's grants as the ledger has them now, and its claims that hold none."""
        grants = {
            claim.claim_id: (claim.program_paid, _used_before(claim))
            for claim in self.claims
            if claim.status == ClaimStatus.PAID
        }
        return grants, self._holding_none(grants)

    def _holding_none(self, grants: Grants) -> list[str]:
        return [
            claim.claim_id
            for claim in self.claims
            if claim.status not in _LEFT_ALONE and claim.claim_id not in grants
        ]


def replay_cardholder(
    cardholder_id: str,
    claims: list[ClaimRecord],
    years: tuple[EnrollmentYear, ...],
    member_exists: bool,
    window: Window,
    lookups: Lookups,
) -> list[YearReplay]:
    """Every patient-year of the cardholder that holds a claim of the window, replayed."""
    by_year: dict[str | None, list[ClaimRecord]] = {}
    for claim in claims:
        day = claim.date_of_service
        year = next((y.enrollment_id for y in years if y.period_start <= day <= y.period_end), None)
        by_year.setdefault(year, []).append(claim)
    context = ClaimContext(
        member_exists=member_exists or bool(years), years=years, pharmacy_chain=""
    )
    replays = []
    for enrollment_id, year_claims in by_year.items():
        if any(window.holds(claim) for claim in year_claims):
            year_claims.sort(key=_adjudication_order)
            replay = YearReplay(cardholder_id, enrollment_id, year_claims)
            _replay_year(replay, context, window, lookups)
            replays.append(replay)
    return replays


def _adjudication_order(claim: ClaimRecord) -> tuple[Any, ...]:
    # Undecided claims (still `received`) last; datetimes are compared as the database
    # hands them back (all naive on SQLite, all aware on PostgreSQL).
    decided = claim.decided_at
    return (1, claim.seq) if decided is None else (0, decided, claim.seq)


def _replay_year(
    replay: YearReplay, context: ClaimContext, window: Window, lookups: Lookups
) -> None:
    claims = replay.claims
    inside = [window.holds(claim) for claim in claims]
    kept = [
        claim.program_paid if not replayed and claim.status == ClaimStatus.PAID else 0
        for claim, replayed in zip(claims, inside, strict=True)
    ]
    # What the kept claims after position i hold: the cap must leave room for them.
    kept_after = list(accumulate(reversed(kept), initial=0))[::-1][1:]
    replayed_ids = {c.claim_id for c, replayed in zip(claims, inside, strict=True) if replayed}
    decider = _Decider(context, lookups, replayed_ids)
    outcomes, grants = replay.outcomes, replay.grants
    enrollment_id = replay.enrollment_id
    used = 0
    for claim, replayed, kept_here, held_after in zip(
        claims, inside, kept, kept_after, strict=True
    ):
        if not replayed:
            if kept_here:
                used += kept_here
                grants[claim.claim_id] = (kept_here, _used_before(claim))
            continue
        held = used + held_after
        outcome = Outcome(claim, decider.decide(claim, held), enrollment_id)
        outcomes.append(outcome)
        if outcome.pays:
            grants[claim.claim_id] = (outcome.after_paid, held)
            used += outcome.after_paid
    replay.total = used


class _Decider:
    """Decides the window's claims of one patient-year, in order."""

    def __init__(self, base: ClaimContext, lookups: Lookups, replayed_ids: set[str]) -> None:
        self.base = base
        self.lookups = lookups
        self.replayed_ids = replayed_ids
        self.paid_keys: set[NcpdpKey] = set()  # NCPDP keys this replay has paid
        self.contexts: dict[tuple[str, bool, frozenset[str]], ClaimContext] = {}

    def decide(self, record: ClaimRecord, held: int) -> Decision:
        claim = record.claim()
        key = record.key
        evaluation = evaluate(
            claim, self._context(record, key), self.lookups.terms_on(claim.date_of_service)
        )
        if evaluation.year is None or evaluation.rejects:
            return decide(evaluation, used_before=held if evaluation.year else 0, granted=0)
        decision = decide(
            evaluation,
            used_before=held,
            granted=grant(evaluation.requested, held, evaluation.annual_max),
        )
        if decision.status == ClaimStatus.PAID:
            self.paid_keys.add(key)
        return decision

    def _context(self, record: ClaimRecord, key: NcpdpKey) -> ClaimContext:
        # A paid claim with this NCPDP key that stays paid (outside this replay), or one this
        # replay has just paid: the claim would be a different-content duplicate (83).
        other_paid = key in self.paid_keys
        if not other_paid and self.lookups.paid_holders:
            holder = self.lookups.paid_holders.get(key.paid_key())
            other_paid = holder not in (None, record.claim_id) and holder not in self.replayed_ids
        overrides = approved_overrides(record.review)
        shape = (record.pharmacy_npi, other_paid, overrides)
        context = self.contexts.get(shape)
        if context is None:
            context = self.contexts[shape] = ClaimContext(
                member_exists=self.base.member_exists,
                years=self.base.years,
                pharmacy_chain=self.lookups.chain_of(record.pharmacy_npi),
                other_paid_claim_with_same_key=other_paid,
                overrides=overrides,
            )
        return context


def _used_before(claim: ClaimRecord) -> int:
    """The year's use before the claim was paid, as its stored decision says (0 unread)."""
    benefit = (claim.decision or {}).get("benefit") or {}
    return int(benefit.get("used_before", 0))
