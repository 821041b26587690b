"""Money events (PAYMENTS.md): every change to what the program owes a pharmacy for a
claim is one, recorded in the transaction that makes the change."""

from __future__ import annotations

from dataclasses import dataclass
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
