"""E1 eligibility (placeholder until the routing branch lands)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adjudicator.services.runtime import Runtime


@dataclass(frozen=True)
class Inquiry:
    reject_codes: tuple[tuple[str, str], ...]
    benefit_period: tuple[date, date] | None
    remaining: int | None


def inquire(
    rt: Runtime,
    *,
    cardholder_id: str,
    date_of_birth: date | None,
    date_of_service: date,
    pharmacy_npi: str,
    actor: str,
) -> Inquiry:
    raise NotImplementedError
