"""Hub review: approve re-adjudicates with the reviewable rules overridden; deny closes."""

from __future__ import annotations

import pytest

from adjudicator.services import adjudication, review
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.runtime import Runtime
from tests.integration import builders

pytestmark = pytest.mark.integration

REVIEWER = "rita"


def _under_two_claim(rt: Runtime, **overrides: object) -> tuple[str, dict]:
    """A claim for a toddler: rejected 60 (patient_age) with an open review."""
    member = builders.enroll(
        rt,
        patient={
            **builders.enrollment_payload()["patient"],
            "date_of_birth": "2023-06-01",
        },
    )
    npi = builders.pharmacy(rt)
    payload = builders.claim_payload(
        member["cardholder_id"], npi, patient={"date_of_birth": "2023-06-01"}, **overrides
    )
    row = builders.pay(rt, payload)
    assert row.status == "rejected"
    assert [r["code"] for r in row.decision["reject_codes"]] == ["60"]
    assert row.review_state == "open"
    return row.claim_id, payload


def test_approving_an_under_age_claim_pays_it_and_records_the_note(runtime: Runtime) -> None:
    claim_id, _ = _under_two_claim(runtime)
    row = review.review(runtime, claim_id, "approve", "Endocrinologist confirmed", REVIEWER)
    assert row.status == "paid"
    assert row.program_paid == 150_000
    assert row.review["state"] == "approved" and row.review["note"] == "Endocrinologist confirmed"
    assert row.review["by"] == REVIEWER
    types = [e.type for e in builders.events(runtime, "claim", claim_id)]
    assert types == ["received", "decided", "review_approved", "decided"]


def test_a_resubmission_after_approval_is_a_duplicate(runtime: Runtime) -> None:
    claim_id, payload = _under_two_claim(runtime)
    review.review(runtime, claim_id, "approve", "ok", REVIEWER)
    intake = builders.submit(runtime, payload)
    assert intake.duplicate and intake.claim_id == claim_id


def test_denying_closes_the_review_and_pays_nothing(runtime: Runtime) -> None:
    claim_id, _ = _under_two_claim(runtime)
    row = review.review(runtime, claim_id, "deny", "Not indicated", REVIEWER)
    assert row.status == "rejected" and row.review_state == "denied"
    with pytest.raises(Conflict):
        review.review(runtime, claim_id, "approve", "changed my mind", REVIEWER)


def test_approval_still_respects_the_annual_maximum(runtime: Runtime) -> None:
    claim_id, payload = _under_two_claim(runtime)
    # Another claim takes the whole year while the review is open (held in Redis only,
    # and given back afterwards, so the ledger and the accumulator agree again).
    year = builders.claim_row(runtime, claim_id).enrollment_id
    holder = "other-" + claim_id
    runtime.accumulator.reserve(payload["cardholder_id"], year, holder, 1_200_000, 1_200_000)
    try:
        row = review.review(runtime, claim_id, "approve", "ok", REVIEWER)
    finally:
        runtime.accumulator.cancel(payload["cardholder_id"], holder)
    assert row.status == "rejected"
    assert [r["code"] for r in row.decision["reject_codes"]] == ["76"]


def test_a_claim_without_an_open_review_cannot_be_reviewed(runtime: Runtime) -> None:
    member = builders.enroll(runtime)
    npi = builders.pharmacy(runtime)
    paid = builders.pay(runtime, builders.claim_payload(member["cardholder_id"], npi))
    with pytest.raises(Conflict):
        review.review(runtime, paid.claim_id, "approve", "x", REVIEWER)
    with pytest.raises(NotFound):
        review.review(runtime, "no-such-claim", "deny", "x", REVIEWER)


def test_adjudicate_is_what_approval_reuses(runtime: Runtime) -> None:
    # Guard: approval relies on the worker path; a claim not `received` is left alone.
    claim_id, _ = _under_two_claim(runtime)
    adjudication.adjudicate(runtime, claim_id)
    assert builders.claim_row(runtime, claim_id).status == "rejected"
