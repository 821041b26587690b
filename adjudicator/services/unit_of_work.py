"""The ledger as the use cases see it: a unit of work (one transaction) with a repository
per aggregate, each returning the typed records of adjudicator/domain/records.py.

The SQL adapter is adjudicator/adapters/sql_ledger.py; tests/fakes.py keeps an in-memory
one, and tests/integration/test_ledger_contract.py holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey
from adjudicator.domain.payments import (
    CycleRecord,
    MoneyEvent,
    PharmacyTotal,
    RemittanceLine,
    RemittanceRecord,
)
from adjudicator.domain.records import (
    JSON,
    Change,
    ClaimRecord,
    ClaimToDecide,
    EnrollmentRecord,
    EventRecord,
    JobRecord,
    JobStatus,
    PharmacyRecord,
    SwitchRecord,
    UserRecord,
)
from adjudicator.domain.replay import ClaimState


@dataclass(frozen=True, slots=True)
class KeyedClaim:
    """A claim sharing an NCPDP key, as the duplicate checks read it."""

    claim_id: str
    status: ClaimStatus
    request_hash: str


@dataclass(frozen=True, slots=True)
class ClaimRef:
    claim_id: str
    cardholder_id: str


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    """Which claims a listing shows; `review_open` lists the queue, oldest first."""

    npi: str | None = None
    cardholder_id: str | None = None
    status: str | None = None
    review_open: bool = False
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """A claim's part in its year's accumulator: its status, what it paid, and the year's
    use before it was paid."""

    claim_id: str
    cardholder_id: str
    enrollment_id: str
    status: ClaimStatus
    program_paid: int
    used_before: int  # the year's use before it was paid, as its decision recorded


@dataclass(frozen=True, slots=True)
class ExportedClaim:
    """A decided claim with what a de-identified export row needs."""

    cardholder_id: str
    date_of_service: date
    status: ClaimStatus
    decision: JSON | None
    chain: str
    facts: JSON | None  # its enrollment year's facts; None outside any year
    cash_pay: bool | None


class Credentials(Protocol):
    def pharmacy_by_key_hash(self, key_hash: str) -> PharmacyRecord | None: ...
    def user_by_token_hash(self, token_hash: str) -> UserRecord | None: ...
    def user_by_name(self, username: str) -> UserRecord | None: ...
    def pharmacy(self, npi: str) -> PharmacyRecord | None: ...
    def save_pharmacy(self, pharmacy: PharmacyRecord) -> None: ...
    def save_user(self, user: UserRecord) -> None: ...
    def switch_by_key_hash(self, key_hash: str) -> SwitchRecord | None: ...
    def switch(self, name: str) -> SwitchRecord | None: ...
    def save_switch(self, switch: SwitchRecord) -> None: ...


class Members(Protocol):
    def exists(self, cardholder_id: str, *, lock: bool = False) -> bool:
        """`lock`: no other transaction writes this member's years until this one ends."""

    def add(self, cardholder_id: str) -> None: ...
    def years_of(self, cardholder_id: str) -> list[EnrollmentRecord]:
        """Every enrollment year of the member, oldest first."""

    def lock_year(self, enrollment_id: str) -> None:
        """Hold the year until the unit of work ends: payments of one year are recorded one
        after the other (PostgreSQL's row lock; SQLite serializes writers already)."""

    def enrollment(self, enrollment_id: str, *, lock: bool = False) -> EnrollmentRecord | None: ...

    def add_enrollment(self, year: EnrollmentRecord) -> None: ...
    def update_enrollment(
        self, enrollment_id: str, *, facts: JSON, status: str, reasons: list[JSON], cash_pay: bool
    ) -> None: ...


class Claims(Protocol):
    def add(self, claim: ClaimRecord) -> None:
        """Store a new claim (the intake's `received` one)."""

    def get(self, claim_id: str, *, lock: bool = False) -> ClaimRecord | None: ...
    def to_decide(self, claim_id: str) -> ClaimToDecide | None: ...
    def with_key(self, key: NcpdpKey) -> list[KeyedClaim]:
        """Claims sharing the NCPDP key, oldest first."""

    def set_outcome(
        self, claim_id: str, from_status: ClaimStatus, *, review_open: bool = False, **values: Any
    ) -> bool:
        """Move a claim on from `from_status` (and an open review, with `review_open`),
        writing the given columns; False when another writer got there first. Raises
        DuplicatePaidKey when another claim is paid under the same `paid_key`."""

    def counts(self) -> dict[tuple[str, str], int]:
        """How many claims, by (channel, status)."""

    def discard(self, claim_id: str) -> bool:
        """Delete a claim still `received`, and its events: a B3 rebill whose content did
        not pay, of which NCPDP.md keeps nothing. False when it is no longer `received`."""

    def reversals_to_release(self, limit: int = 500) -> list[ClaimRef]:
        """Reversed claims whose grant Redis has not given back yet."""

    def mark_released(self, claim_id: str) -> None: ...
    def paid_in_year(self, cardholder_id: str, enrollment_id: str) -> int:
        """What the ledger has paid in one enrollment year, in cents."""

    def undecided(self, npi: str, at_most: int) -> int:
        """How many of the pharmacy's claims are still `received` (counted up to `at_most`)."""

    def stale_received(self, before: datetime, limit: int = 500) -> list[str]:
        """Ids of claims still `received` since before `before`, oldest first."""

    def page(self, where: ClaimFilter, limit: int, after_seq: int | None) -> list[ClaimRecord]:
        """Newest first (the open review queue oldest first), after the claim at `after_seq`."""

    def with_rx(self, rx_numbers: Iterable[str], limit: int) -> list[ClaimRecord]:
        """Claims with any of these Rx numbers, newest first."""

    def grants(self) -> Iterable[Grant]:
        """Claims that hold (paid) or held (reversed) a grant of the accumulator."""

    def in_year(self, cardholder_id: str, enrollment_id: str) -> list[Grant]:
        """The decided claims of one enrollment year, in the order they came."""

    def for_export(self, year: int) -> Iterable[ExportedClaim]:
        """Decided claims served in `year` (a duplicate's original stands for it)."""


@dataclass(frozen=True, slots=True)
class MoneyMismatch:
    """A claim whose money events do not add up to what the program owes for it now."""

    claim_id: str
    events_total: int
    owed_now: int


class MoneyEvents(Protocol):
    def add(self, events: Sequence[MoneyEvent]) -> None:
        """Record them, stamped with the transaction's time (UTC)."""

    def totals(self) -> dict[str, int]:
        """The sum of every money event, by kind, in cents."""

    def mismatches(self, limit: int = 100) -> list[MoneyMismatch]:
        """Claims (and events without a claim) whose events' sum is not what is owed now."""


@dataclass(frozen=True, slots=True)
class PharmacyLedger:
    """A pharmacy's remittances summed, for PAYMENTS.md's second invariant."""

    npi: str
    paid: int  # the sum of its remittances' payments
    owed: int  # what its latest remittance carries forward
    remitted: int  # the sum of its remittances' totals
    events_remitted: int  # the sum of its money events in cycles


@dataclass(frozen=True, slots=True)
class RemittedClaim:
    """A money event with its claim, as an 835 line needs it."""

    line: RemittanceLine
    prior: int  # what the claim's earlier events added up to
    decision: JSON | None
    facts: JSON | None  # the enrollment year's facts (the patient's name)


class Payments(Protocol):
    def lock(self) -> None:
        """Hold cycle closes one at a time until the transaction ends."""

    def latest_cycle(self) -> CycleRecord | None: ...
    def take_events(self, cycle_id: str, through: datetime) -> list[PharmacyTotal]:
        """Put every event recorded at or before `through` and in no cycle into this one;
        what it took, per pharmacy (by NPI)."""

    def owed_by(self, npi: str) -> int:
        """What the pharmacy's latest remittance carries forward (0 without one)."""

    def add_cycle(self, cycle: CycleRecord) -> None: ...
    def add_remittance(self, remittance: RemittanceRecord) -> None: ...
    def cycle(self, cycle_id: str) -> CycleRecord | None: ...
    def cycles(self, limit: int, after_seq: int | None) -> list[CycleRecord]:
        """Newest first."""

    def remittance(self, remittance_id: str) -> RemittanceRecord | None: ...
    def remittances(
        self, cycle_id: str | None, npi: str | None, limit: int, after_seq: int | None
    ) -> list[RemittanceRecord]:
        """Newest first."""

    def lines(self, cycle_id: str, npi: str) -> list[RemittanceLine]:
        """The cycle's events of the pharmacy's claims, in the order recorded."""

    def pharmacy_ledgers(self) -> list[PharmacyLedger]: ...
    def remitted_claims(self, cycle_id: str, npi: str) -> list[RemittedClaim]:
        """The cycle's events of the pharmacy's claims, in the order recorded, with what an
        835 tells of each claim."""

    def invoice_lines(self, cycle_id: str) -> Iterable[tuple[ExportedClaim, str, int]]:
        """The cycle's money events, in the order recorded, each with its claim as the
        de-identified export reads it: (claim, kind, cents)."""

    def kind_totals(self, cycle_id: str) -> dict[str, tuple[int, int]]:
        """The cycle's events by kind: {kind: (count, cents)}."""

    def cycles_through(self, start: datetime, end: datetime) -> list[CycleRecord]:
        """Cycles closed through a moment in [start, end), oldest first."""


@dataclass(frozen=True, slots=True)
class Spend:
    """Claims paid and what they paid, in cents, under one label (a month, chain, state)."""

    claims: int
    cents: int


@dataclass(frozen=True, slots=True)
class YearUse:
    """One enrollment year and what the ledger has paid in it, in cents."""

    enrollment_id: str
    period_start: date
    status: str
    used: int


class ProgramReport(Protocol):
    """The console's Program page: counts and sums over claims served in [first, last]
    (paid ones: what they pay now), never a patient's name."""

    def paid_by_month(self, first: date, last: date) -> dict[int, Spend]:
        """Month number (1-12) of the date of service -> paid claims."""

    def status_counts(self, first: date, last: date) -> dict[str, int]:
        """How many claims, by their own status."""

    def reject_reasons(self, first: date, last: date) -> Iterable[tuple[str, str]]:
        """(code, message) of each reason of each claim now rejected, once per claim."""

    def paid_by_chain(self, first: date, last: date) -> dict[str, Spend]: ...
    def paid_by_state(self, first: date, last: date) -> dict[str, Spend]:
        """The patient's state (its enrollment year's address; "" when none) -> paid claims."""

    def years_starting(self, first: date, last: date) -> list[YearUse]:
        """Enrollment years whose benefit period starts in [first, last], oldest first."""


class Events(Protocol):
    def add(
        self,
        *,
        actor: str,
        entity_type: str,
        entity_id: str,
        cardholder_id: str | None,
        type: str,
        data: JSON,
    ) -> None: ...
    def of(self, entity_type: str, entity_id: str) -> list[EventRecord]: ...
    def page(
        self, *, cardholder_id: str | None, claim_id: str | None, limit: int, after_seq: int | None
    ) -> list[EventRecord]:
        """The audit trail, oldest first, optionally of one cardholder and/or one claim."""


class TermsVersions(Protocol):
    def documents(self) -> list[JSON]:
        """Every version's document, by effective date."""

    def generation(self) -> tuple[Any, ...]:
        """(how many versions, the latest `created_at`): changes whenever a version is
        added, and equals the `terms_generation` claims.to_decide reads with a claim."""

    def add(self, version: str, effective: date, document: JSON, created_by: str) -> None: ...
    def exists(self, version: str) -> bool: ...


class Jobs(Protocol):
    """Re-adjudication jobs (their scope, progress and changes), and the batch reads and
    writes a job makes of claims and members, a chunk of cardholders at a time."""

    def add(
        self,
        job_id: str,
        *,
        mode: str,
        date_from: date,
        date_to: date,
        cardholder_id: str | None,
        created_by: str,
    ) -> None: ...
    def get(self, job_id: str) -> JobRecord | None: ...
    def recent(self, limit: int) -> list[JobRecord]:
        """Newest first."""

    def take(self, job_id: str, runner: str, lease_until: datetime) -> bool:
        """Take the job for `runner`: queued, or running under a lease that ran out."""

    def set_total(self, job_id: str, runner: str, total: int) -> bool:
        """The claims in scope, once listed; False when `runner` lost the job."""

    def finish(
        self, job_id: str, runner: str, status: JobStatus, error: str | None, total: int
    ) -> bool:
        """End the job and drop its lease; False when `runner` lost the job."""

    def add_progress(
        self,
        job_id: str,
        runner: str,
        *,
        resume_after: str,
        lease_until: datetime,
        claims: int,
        unchanged: int,
        changed: int,
        before: int,
        after: int,
    ) -> bool:
        """Count a chunk in the job's progress and summary; False when `runner` lost it."""

    def add_changes(self, job_id: str, found: Iterable[Change]) -> None: ...
    def changes(self, job_id: str, after_seq: int | None, limit: int) -> list[Change]:
        """In the order they were found, after the change at `after_seq`."""

    def scope_cardholders(
        self, date_from: date, date_to: date, cardholder_id: str | None
    ) -> Iterable[str]:
        """The cardholders with paid or rejected claims served in the window, in order."""

    def count_in_scope(self, date_from: date, date_to: date, cardholder_id: str | None) -> int: ...

    def add_scope(self, job_id: str, cardholder_ids: Sequence[str]) -> None: ...
    def next_cardholders(self, job_id: str, after: str | None, limit: int) -> list[str]:
        """The job's next `limit` cardholders, in cardholder order, after `after`."""

    def forget_scope(self, job_id: str) -> None: ...
    def claims_of(
        self,
        cardholder_ids: Sequence[str],
        first_day: date,
        last_day: date,
        *,
        with_decision: bool = False,
        for_update: bool = False,
    ) -> list[ClaimRecord]:
        """Their claims served in [first_day, last_day], by cardholder and seq, with the
        columns a replay reads (`decision` too with `with_decision`); `for_update` locks
        them until the unit of work ends."""

    def claim_states(
        self, cardholder_ids: Sequence[str], first_day: date, last_day: date
    ) -> dict[str, list[ClaimState]]:
        """cardholder -> its claims' states, as claims_of orders them, locked."""

    def enrollments_of(self, cardholder_ids: Sequence[str]) -> list[EnrollmentRecord]: ...
    def members_among(self, cardholder_ids: Sequence[str]) -> set[str]: ...
    def paid_key_holders(self, keys: Iterable[str]) -> dict[str, str]:
        """paid_key -> the claim now paid under that NCPDP key."""

    def chain_lookup(self) -> Callable[[str], str]:
        """pharmacy NPI -> chain ("" for an unknown pharmacy), while the unit is open."""

    def set_readjudicated(
        self, decisions: Sequence[tuple[str, ClaimStatus, int, dict[str, Any]]]
    ) -> bool:
        """New decisions, (claim_id, status before, program_paid before, new values) each,
        in order; False when any claim moved on since it was read. Raises DuplicatePaidKey."""

    def add_claim_events(self, rows: Sequence[JSON]) -> None:
        """Claim events (at, actor, entity_type, entity_id, cardholder_id, type, data)."""


class UnitOfWork(Protocol):
    @property
    def credentials(self) -> Credentials: ...
    @property
    def members(self) -> Members: ...
    @property
    def claims(self) -> Claims: ...
    @property
    def events(self) -> Events: ...
    @property
    def terms(self) -> TermsVersions: ...
    @property
    def money(self) -> MoneyEvents: ...
    @property
    def payments(self) -> Payments: ...
    @property
    def jobs(self) -> Jobs: ...
    @property
    def program(self) -> ProgramReport: ...


class Ledger(Protocol):
    def writing(self) -> AbstractContextManager[UnitOfWork]:
        """One transaction: committed when the block ends, rolled back if it raises."""

    def reading(self, **options: Any) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that only reads (on SQLite it takes no write lock)."""

    def now(self) -> datetime: ...
    @property
    def writers_poll(self) -> bool:
        """A waiting writer polls with growing sleeps (SQLite: one writer at a time), so
        back-to-back write transactions would starve it: a long batch leaves it gaps."""

    def dispose(self) -> None: ...
    def ping(self) -> None:
        """Raise if the ledger cannot be reached."""


class DuplicatePaidKey(Exception):
    """Another claim was paid under the same NCPDP key meanwhile (the ledger enforces
    one paid claim per key, even when two workers race)."""
