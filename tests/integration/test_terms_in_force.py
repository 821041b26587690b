"""The worker decides each claim under the terms in force on its date of service, and a
version posted while it runs counts from the next claim on (the worker caches parsed
terms per generation of the terms table)."""

from __future__ import annotations

import pytest

from adjudicator.services import claim_queries
from adjudicator.services.runtime import Runtime
from tests.integration.builders import claim_payload, enroll, pay, pharmacy
from tests.integration.readjudication_support import (
    post_terms,
)

pytestmark = pytest.mark.integration


def decided(rt: Runtime, payload: dict) -> dict:
    return claim_queries.get(rt, pay(rt, payload).claim_id)


def test_a_terms_version_posted_between_two_claims_decides_the_second(rt: Runtime):
    member = enroll(rt, effective_date="2024-01-01")
    npi = pharmacy(rt)
    before = decided(rt, claim_payload(member["cardholder_id"], npi, date_of_service="2024-03-01"))

    post_terms(rt, "2024-06", "2024-06-01", annual_max="2000.00")
    after = decided(rt, claim_payload(member["cardholder_id"], npi, date_of_service="2024-07-01"))
    earlier_date = claim_payload(member["cardholder_id"], npi, date_of_service="2024-05-01")
    still_old = decided(rt, earlier_date)

    assert (before["terms_version"], before["amounts"]["program_paid"]) == ("2020-01", 150_000)
    # 2024-06 caps the year at $2,000: $1,500 used, $500 left.
    assert (after["terms_version"], after["amounts"]["program_paid"]) == ("2024-06", 50_000)
    assert still_old["terms_version"] == "2020-01"
