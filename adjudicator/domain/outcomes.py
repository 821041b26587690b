"""The states a claim and its review move through, the NCPDP key, and the policy every
path that decides a claim shares (live adjudication, review, reversal, re-adjudication)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from adjudicator.domain.money import Cents


class ClaimStatus(StrEnum):
    """A claim's status; the values are what the ledger stores and the API shows."""

    RECEIVED = "received"  # stored, not yet decided
    PAID = "paid"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"  # an identical resubmission of a paid claim
    REVERSED = "reversed"


class ReviewState(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    DENIED = "denied"


CHANNELS = ("json", "ncpdp")  # the doors a claim comes through: API.md's JSON, NCPDP D.0
DECIDED = frozenset({ClaimStatus.PAID, ClaimStatus.REJECTED})  # what re-adjudication replays
REVERSIBLE = frozenset({ClaimStatus.PAID, ClaimStatus.REVERSED})  # reversing again is a no-op
SETTLED_ELSEWHERE = frozenset({ClaimStatus.REJECTED, ClaimStatus.DUPLICATE})  # hold no grant
HOLD_NO_GRANT = SETTLED_ELSEWHERE | {ClaimStatus.REVERSED}  # decided; hold no grant now


@dataclass(frozen=True)
class NcpdpKey:
    """What identifies a prescription claim to NCPDP: at most one of them is paid."""

    service_provider_id: str
    rx_number: str
    fill_number: int
    date_of_service: date

    def paid_key(self) -> str:
        """The key's one-string form, unique among paid claims in the ledger."""
        return (
            f"{self.service_provider_id}|{self.rx_number}|{self.fill_number}|{self.date_of_service}"
        )


def approved_overrides(review: Mapping[str, Any] | None) -> frozenset[str]:
    """The reviewable rules hub staff approved on a claim: they stay set aside whenever
    the claim is decided again."""
    if not review or review.get("state") != ReviewState.APPROVED:
        return frozenset()
    return frozenset(review.get("rules", ()))


def reversed_benefit(
    benefit: Mapping[str, Any], used_before: Cents, released: Cents
) -> dict[str, Any]:
    """A reversed claim's benefit record: the year's use just before and after the
    reversal as the ledger counts it (decisions.md #8), never below zero."""
    used_after = max(used_before - released, 0)
    remaining = max(benefit["annual_max"] - used_after, 0)
    return {**benefit, "used_before": used_before, "used_after": used_after, "remaining": remaining}
