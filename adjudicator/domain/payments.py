"""Money events (PAYMENTS.md): every change to what the program owes a pharmacy for a
claim is one, recorded in the transaction that makes the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from adjudicator.domain.money import Cents
from adjudicator.domain.outcomes import ClaimStatus


class MoneyKind(StrEnum):
    PAYMENT = "payment"  # nothing was owed, now something is
    REVERSAL = "reversal"  # something was owed, now nothing is
    ADJUSTMENT = "adjustment"  # owed before and after, another amount (re-adjudication)


@dataclass(frozen=True, slots=True)
class MoneyEvent:
    claim_id: str
    pharmacy_npi: str
    kind: MoneyKind
    amount: Cents  # signed: what the program owes the pharmacy more (or less)


def owed_for(status: str, program_paid: Cents) -> Cents:
    """What the program owes for a claim in this state: its program paid while paid."""
    return program_paid if status == ClaimStatus.PAID else 0


def money_moved(claim_id: str, npi: str, before: Cents, after: Cents) -> MoneyEvent | None:
    """The event of a claim whose amount owed goes from `before` to `after`; None if equal.
    A rebill is two: the old claim's reversal and the new claim's payment."""
    if before == after:
        return None
    if before == 0:
        kind = MoneyKind.PAYMENT
    elif after == 0:
        kind = MoneyKind.REVERSAL
    else:
        kind = MoneyKind.ADJUSTMENT
    return MoneyEvent(claim_id, npi, kind, after - before)


@dataclass(frozen=True, slots=True)
class RemittanceTotals:
    """A pharmacy's remittance in one cycle (PAYMENTS.md), in cents."""

    total: Cents  # the sum of its lines
    balance_forward: Cents  # what it still owed from its previous remittance (<= 0)
    payment: Cents  # the money sent: max(0, total + balance_forward)
    owed: Cents  # carried to its next remittance: min(0, total + balance_forward)

    @property
    def recovered(self) -> Cents:
        """What of an earlier debt this remittance paid off."""
        return max(0, self.owed - self.balance_forward)


def remittance_totals(total: Cents, balance_forward: Cents) -> RemittanceTotals:
    if balance_forward > 0:
        raise ValueError("a balance forward is what a pharmacy owes: zero or negative")
    due = total + balance_forward
    return RemittanceTotals(total, balance_forward, max(0, due), min(0, due))


@dataclass(frozen=True, slots=True)
class CycleRecord:
    cycle_id: str
    through: datetime
    closed_at: datetime
    closed_by: str
    events: int
    pharmacies: int
    total: Cents
    sent: Cents
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class RemittanceRecord:
    remittance_id: str
    cycle_id: str
    npi: str
    totals: RemittanceTotals
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class RemittanceLine:
    """One money event of a remitted claim."""

    claim_id: str
    rx_number: str
    fill_number: int
    date_of_service: date
    kind: MoneyKind
    amount: Cents


@dataclass(frozen=True, slots=True)
class PharmacyTotal:
    """What a cycle took of one pharmacy's money events."""

    npi: str
    events: int
    total: Cents
