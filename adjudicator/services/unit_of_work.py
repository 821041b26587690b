"""The ledger as the use cases see it: a unit of work (one transaction) with a repository
per aggregate, each returning the typed records of adjudicator/domain/records.py.

The SQL adapter is adjudicator/adapters/sql_ledger.py; tests/fakes.py keeps an in-memory
one, and tests/integration/test_ledger_contract.py holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey
from adjudicator.domain.records import (
    JSON,
    ClaimRecord,
    ClaimToDecide,
    EnrollmentRecord,
    EventRecord,
    PharmacyRecord,
    UserRecord,
)


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


class Members(Protocol):
    def exists(self, cardholder_id: str, *, lock: bool = False) -> bool:
        """`lock`: no other transaction writes this member's years until this one ends."""

    def add(self, cardholder_id: str) -> None: ...
    def years_of(self, cardholder_id: str) -> list[EnrollmentRecord]:
        """Every enrollment year of the member, oldest first."""

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

    def add(self, version: str, effective: date, document: JSON, created_by: str) -> None: ...
    def exists(self, version: str) -> bool: ...


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


class Ledger(Protocol):
    def writing(self) -> AbstractContextManager[UnitOfWork]:
        """One transaction: committed when the block ends, rolled back if it raises."""

    def reading(self, **options: Any) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that only reads (on SQLite it takes no write lock)."""

    def now(self) -> datetime: ...
    def dispose(self) -> None: ...
    def ping(self) -> None:
        """Raise if the ledger cannot be reached."""


class DuplicatePaidKey(Exception):
    """Another claim was paid under the same NCPDP key meanwhile (the ledger enforces
    one paid claim per key, even when two workers race)."""
