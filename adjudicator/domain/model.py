"""The facts the rules read and the decisions they produce: plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from adjudicator.domain.money import Cents
from adjudicator.domain.outcomes import ClaimStatus

# --- enrollment ---------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str
    zip: str
    country: str
    line2: str | None = None


@dataclass(frozen=True)
class Patient:
    first_name: str
    last_name: str
    date_of_birth: date
    address: Address
    sex: str | None = None


@dataclass(frozen=True)
class Coverage:
    type: str
    covers_product: bool = True
    payer_name: str | None = None
    bin: str | None = None
    pcn: str | None = None


@dataclass(frozen=True)
class Attestations:
    government_program: bool = False
    other_assistance: bool = False


@dataclass(frozen=True)
class EnrollmentFacts:
    """What hub staff record when they enroll a patient for one year."""

    patient: Patient
    coverage: Coverage
    attestations: Attestations
    effective_date: date
    weight_kg: Decimal | None = None


@dataclass(frozen=True)
class Reason:
    """A coded explanation: an ineligibility reason or a step of a claim's trace."""

    code: str
    message: str


@dataclass(frozen=True)
class Eligibility:
    status: str  # "active" | "ineligible"
    reasons: tuple[Reason, ...]
    cash_pay: bool


@dataclass(frozen=True)
class EnrollmentYear:
    """One enrollment year of a member, as the claim rules need it."""

    enrollment_id: str
    period_start: date
    period_end: date
    status: str  # "active" | "ineligible"
    reasons: tuple[Reason, ...]
    cash_pay: bool
    date_of_birth: date
    state: str
    weight_kg: Decimal | None = None

    def contains(self, day: date) -> bool:
        return self.period_start <= day <= self.period_end


# --- claims -------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    kind: str  # "drug" | "service"
    code: str  # NDC without hyphens, HCPCS or CPT code
    patient_responsibility: Cents
    quantity: Decimal | None = None
    days_supply: int | None = None


@dataclass(frozen=True)
class Cob:
    """Coordination of benefits: what the claim says about other coverage."""

    other_coverage_code: int = 1
    other_payer_bin: str | None = None
    other_payer_pcn: str | None = None
    other_payer_reject_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Claim:
    claim_id: str
    cardholder_id: str
    service_provider_id: str
    rx_number: str
    fill_number: int
    date_of_service: date
    lines: tuple[Line, ...]
    cob: Cob = Cob()
    date_of_birth: date | None = None


@dataclass(frozen=True)
class ClaimContext:
    """What the service layer looked up for a claim before the rules run."""

    member_exists: bool
    years: tuple[EnrollmentYear, ...]  # all the member's years, any order
    pharmacy_chain: str
    other_paid_claim_with_same_key: bool = False  # a paid claim, different content
    overrides: frozenset[str] = frozenset()  # reviewable rule ids approved by hub staff


# --- outcomes -----------------------------------------------------------------


@dataclass(frozen=True)
class RejectCode:
    rule: str
    code: str
    message: str


@dataclass(frozen=True)
class TraceEntry:
    """One step of a decision's rule trace."""

    rule: str
    outcome: str  # "rejected" | "excluded" | "limited"
    message: str


@dataclass(frozen=True)
class Evaluation:
    """Everything decided before the annual maximum is applied atomically."""

    rejects: tuple[RejectCode, ...]
    trace: tuple[TraceEntry, ...]
    year: EnrollmentYear | None
    cash_pay: bool
    patient_responsibility: Cents
    eligible: Cents
    per_rx_max: Cents | None  # the cash-pay maximum per prescription, None if not cash-pay
    terms_version: str
    annual_max: Cents
    # False after a 40 or a 09: the decision then shows no benefit (rules.CONCEALING_RULES).
    discloses_coverage: bool = True

    @property
    def requested(self) -> Cents:
        """What the claim asks of the annual maximum: eligible, capped per Rx."""
        if self.per_rx_max is None:
            return self.eligible
        return min(self.eligible, self.per_rx_max)

    @property
    def reviewable_rules(self) -> tuple[str, ...]:
        """Every failed reviewable rule: from the trace, which keeps the failures past the
        five reported codes (a review opens even then, decisions #10)."""
        failed = (t.rule for t in self.trace if t.outcome == "rejected")
        return tuple(rule for rule in failed if rule in REVIEWABLE_RULES)


REVIEWABLE_RULES = frozenset({"patient_age", "dose"})


@dataclass(frozen=True)
class Benefit:
    period_start: date
    period_end: date
    annual_max: Cents
    used_before: Cents
    used_after: Cents

    @property
    def remaining(self) -> Cents:
        return max(self.annual_max - self.used_after, 0)


@dataclass(frozen=True)
class Amounts:
    patient_responsibility: Cents
    eligible: Cents
    program_paid: Cents
    patient_pay: Cents


@dataclass(frozen=True)
class Decision:
    status: ClaimStatus  # paid or rejected
    reject_codes: tuple[RejectCode, ...]
    amounts: Amounts
    benefit: Benefit | None
    cash_pay: bool
    trace: tuple[TraceEntry, ...]
    messages: tuple[str, ...]
    terms_version: str
    reviewable_rules: tuple[str, ...] = field(default=())
