"""What the ledger keeps, as the use cases see it: frozen records, no storage types.

The adapters map their rows onto these (adjudicator/adapters/repositories.py); the JSON
columns (a claim's normalized request and decision, an enrollment's facts) stay JSON
here and are read into domain objects by the methods below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from adjudicator.domain.model import (
    Address,
    Attestations,
    Claim,
    Cob,
    Coverage,
    EnrollmentFacts,
    EnrollmentYear,
    Line,
    Patient,
    Reason,
)
from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey, ReviewState

JSON = dict[str, Any]


def as_utc(moment: datetime) -> datetime:
    """A moment the ledger gave back, in UTC: the ledger writes UTC, and SQLite hands
    timestamps back without their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    """One claim as the ledger holds it. Columns a query did not read are None."""

    claim_id: str
    pharmacy_npi: str
    cardholder_id: str
    rx_number: str
    fill_number: int
    date_of_service: date
    request: JSON  # the normalized request (records of the intake)
    status: ClaimStatus
    program_paid: int = 0
    request_hash: str | None = None
    decision: JSON | None = None
    enrollment_id: str | None = None
    authorization_number: str | None = None
    paid_key: str | None = None
    duplicate_of: str | None = None
    review_state: ReviewState | None = None
    review: JSON | None = None
    seq: int | None = None
    created_at: datetime | None = None
    decided_at: datetime | None = None
    reversed_at: datetime | None = None
    released_at: datetime | None = None
    channel: str = "json"  # the door it came through: "json" (API.md) or "ncpdp" (D.0)
    rebill_of: str | None = None  # a B3 rebill: the paid claim it replaces

    @property
    def key(self) -> NcpdpKey:
        return NcpdpKey(self.pharmacy_npi, self.rx_number, self.fill_number, self.date_of_service)

    @property
    def release_pending(self) -> bool:
        """Reversed in the ledger, its grant not yet given back in Redis."""
        return (
            self.status == ClaimStatus.REVERSED
            and self.reversed_at is not None
            and self.released_at is None
        )

    def claim(self) -> Claim:
        """The claim as the rules read it."""
        return claim_from_request(self.claim_id, self.request)


@dataclass(frozen=True, slots=True)
class ClaimToDecide:
    """A `received` claim and what deciding it needs from other rows, read at once."""

    record: ClaimRecord
    pharmacy_chain: str  # "" for a pharmacy the ledger does not know
    paid_twin_id: str | None  # the paid claim with the same NCPDP key, if any
    paid_twin_hash: str | None
    terms_generation: tuple[Any, ...]  # changes whenever a terms version is added

    @property
    def repeats_paid_twin(self) -> bool:
        """An identical submission raced past the intake and its twin was paid first."""
        twin = self.paid_twin_hash
        return twin is not None and twin == self.record.request_hash


@dataclass(frozen=True, slots=True)
class EnrollmentRecord:
    enrollment_id: str
    cardholder_id: str
    period_start: date
    period_end: date
    status: str  # "active" | "ineligible"
    reasons: list[JSON]
    cash_pay: bool
    facts: JSON  # patient, coverage, attestations, weight, as facts_record() writes them
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def contains(self, day: date) -> bool:
        return self.period_start <= day <= self.period_end

    def year(self) -> EnrollmentYear:
        """The year as the claim rules need it."""
        facts = self.facts
        return EnrollmentYear(
            enrollment_id=self.enrollment_id,
            period_start=self.period_start,
            period_end=self.period_end,
            status=self.status,
            reasons=tuple(Reason(r["code"], r["message"]) for r in self.reasons),
            cash_pay=self.cash_pay,
            date_of_birth=date.fromisoformat(facts["patient"]["date_of_birth"]),
            state=facts["patient"]["address"]["state"],
            weight_kg=None if facts["weight_kg"] is None else Decimal(facts["weight_kg"]),
        )


@dataclass(frozen=True, slots=True)
class PharmacyRecord:
    npi: str
    name: str
    chain: str
    api_key_hash: str


@dataclass(frozen=True, slots=True)
class SwitchRecord:
    """A claims switch: bills D.0 for any registered pharmacy (NCPDP.md, Transports)."""

    name: str  # also the subject CN of its TLS client certificate
    api_key_hash: str


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    role: str  # "reviewer" | "admin"
    token_hash: str
    password_hash: str | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    at: datetime
    actor: str
    entity_type: str  # "claim" | "enrollment"
    entity_id: str
    cardholder_id: str | None
    type: str
    data: JSON


# --- batch re-adjudication ------------------------------------------------------------


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A re-adjudication job: its window, progress, summary (cents) and lease."""

    job_id: str
    mode: str  # "dry_run" | "apply"
    status: JobStatus
    date_from: date
    date_to: date
    cardholder_id: str | None
    total: int  # claims in scope, counted when the job listed its cardholders
    done: int
    unchanged: int
    changed: int
    program_paid_before: int
    program_paid_after: int
    resume_after: str | None  # the last cardholder done: a redelivered job goes on after it
    runner: str | None  # the worker holding the lease
    lease_until: datetime | None
    attempts: int
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A claim a job changed (a dry run: would change), before and after; the one form of
    a job's change, stored, listed, and sent back by the dry run's helper processes."""

    claim_id: str
    cardholder_id: str
    enrollment_id: str | None
    date_of_service: date
    before_status: ClaimStatus
    before_program_paid: int
    after_status: ClaimStatus
    after_program_paid: int
    seq: int | None = None  # its place in the job's list, once stored

    def to_json(self) -> list[Any]:
        """The compact JSON form (a list; `seq` is not sent), read back by from_json."""
        return [
            self.claim_id,
            self.cardholder_id,
            self.enrollment_id,
            self.date_of_service.isoformat(),
            self.before_status.value,
            self.before_program_paid,
            self.after_status.value,
            self.after_program_paid,
        ]

    @classmethod
    def from_json(cls, item: list[Any]) -> Change:
        claim_id, cardholder_id, enrollment_id, day, before, paid_before, after, paid_after = item
        return cls(
            claim_id,
            cardholder_id,
            enrollment_id,
            date.fromisoformat(day),
            ClaimStatus(before),
            paid_before,
            ClaimStatus(after),
            paid_after,
        )


# --- the JSON columns, read into domain objects -------------------------------------


def claim_from_request(claim_id: str, request: JSON) -> Claim:
    cob = request["cob"]
    return Claim(
        claim_id=claim_id,
        cardholder_id=request["cardholder_id"],
        service_provider_id=request["service_provider_id"],
        rx_number=request["rx_number"],
        fill_number=request["fill_number"],
        date_of_service=date.fromisoformat(request["date_of_service"]),
        date_of_birth=_date(request.get("date_of_birth")),
        cob=Cob(
            other_coverage_code=cob["other_coverage_code"],
            other_payer_bin=cob.get("other_payer_bin"),
            other_payer_pcn=cob.get("other_payer_pcn"),
            other_payer_reject_codes=tuple(cob.get("other_payer_reject_codes") or ()),
        ),
        lines=tuple(
            Line(
                kind=line["kind"],
                code=line["code"],
                patient_responsibility=line["patient_responsibility"],
                quantity=None if line["quantity"] is None else Decimal(line["quantity"]),
                days_supply=line["days_supply"],
            )
            for line in request["lines"]
        ),
    )


def facts_from_record(record: JSON) -> EnrollmentFacts:
    patient = record["patient"]
    address = patient["address"]
    coverage = record["coverage"]
    return EnrollmentFacts(
        patient=Patient(
            first_name=patient["first_name"],
            last_name=patient["last_name"],
            date_of_birth=date.fromisoformat(patient["date_of_birth"]),
            sex=patient.get("sex"),
            address=Address(
                line1=address["line1"],
                line2=address.get("line2"),
                city=address["city"],
                state=address["state"],
                zip=address["zip"],
                country=address["country"],
            ),
        ),
        coverage=Coverage(
            type=coverage["type"],
            covers_product=coverage.get("covers_product", True),
            payer_name=coverage.get("payer_name"),
            bin=coverage.get("bin"),
            pcn=coverage.get("pcn"),
        ),
        attestations=Attestations(**record["attestations"]),
        effective_date=date.fromisoformat(record["effective_date"]),
        weight_kg=None if record["weight_kg"] is None else Decimal(record["weight_kg"]),
    )


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
