"""What a pharmacy sees of a claim (API.md: the claim's `review`): a review's state and time,
never its note or who wrote it, in `review` and in `events`, whichever answer it reads: the
claim, the listing, a reversal, or the decision the worker renders for its waiting request.
Hub staff see everything."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from adjudicator.services import adjudication, identity, review
from adjudicator.services.runtime import Runtime
from tasks.claims import decide_and_announce
from tests.integration import builders

pytestmark = pytest.mark.integration

TODDLER_BIRTH = "2023-06-01"
NOTE = "Spoke with Dr. Example; weight confirmed at 11 kg."


@pytest.fixture
def reviewer(runtime: Runtime) -> tuple[dict[str, str], str]:
    """(a reviewer's bearer header, their username)."""
    username = f"rhoda-{uuid.uuid4().hex[:8]}"
    token = identity.add_user(runtime.ledger, username, "reviewer", None)["api_token"]
    return {"Authorization": f"Bearer {token}"}, username


def _under_review(
    web: FlaskClient, runtime: Runtime, pharmacy_api: tuple[dict[str, str], str]
) -> dict[str, Any]:
    """A toddler's claim, sent by the pharmacy and decided: rejected 60, review open."""
    auth, npi = pharmacy_api
    patient = {**builders.enrollment_payload()["patient"], "date_of_birth": TODDLER_BIRTH}
    member = builders.enroll(runtime, patient=patient)
    payload = builders.claim_payload(
        member["cardholder_id"], npi, patient={"date_of_birth": TODDLER_BIRTH}
    )
    sent = web.post("/v1/claims", json=payload, headers={**auth, "Prefer": "respond-async"})
    adjudication.adjudicate(runtime, sent.json["claim_id"])
    return {**sent.json, "cardholder_id": member["cardholder_id"]}


def _reviewed(
    web: FlaskClient, reviewer: tuple[dict[str, str], str], claim_id: str, action: str
) -> dict[str, Any]:
    auth, username = reviewer
    answer = web.post(
        f"/v1/claims/{claim_id}/review", json={"action": action, "note": NOTE}, headers=auth
    )
    assert answer.status_code == 200, answer.json
    assert (answer.json["review"]["note"], answer.json["review"]["by"]) == (NOTE, username)
    return answer.json


def _shows_no_staff_record(answer: dict[str, Any], username: str) -> None:
    """The pharmacy's view of a claim: state and time of its review, no note, no who."""
    assert set(answer["review"]) == {"state", "at"}
    assert answer["review"]["at"] is not None
    for event in answer.get("events", []):
        assert set(event) == {"at", "type", "data"}
    text = json.dumps(answer)
    assert NOTE not in text and username not in text


def test_a_pharmacy_sees_a_reviews_state_and_time_only(
    web: FlaskClient, runtime: Runtime, pharmacy_api, reviewer
):
    auth, _npi = pharmacy_api
    claim = _under_review(web, runtime, pharmacy_api)
    _reviewed(web, reviewer, claim["claim_id"], "deny")

    shown = web.get(f"/v1/claims/{claim['claim_id']}", headers=auth).json
    listed = web.get(f"/v1/claims?cardholder_id={claim['cardholder_id']}", headers=auth).json

    assert shown["review"]["state"] == "denied"
    assert [e["type"] for e in shown["events"]] == ["received", "decided", "review_denied"]
    _shows_no_staff_record(shown, reviewer[1])
    (item,) = listed["items"]
    _shows_no_staff_record(item, reviewer[1])


def test_hub_staff_still_see_the_note_who_wrote_it_and_every_actor(
    web: FlaskClient, runtime: Runtime, pharmacy_api, reviewer
):
    claim = _under_review(web, runtime, pharmacy_api)
    _reviewed(web, reviewer, claim["claim_id"], "deny")
    auth, username = reviewer

    shown = web.get(f"/v1/claims/{claim['claim_id']}", headers=auth).json
    listed = web.get(f"/v1/claims?cardholder_id={claim['cardholder_id']}", headers=auth).json

    assert (shown["review"]["note"], shown["review"]["by"]) == (NOTE, username)
    assert shown["events"][-1]["actor"] == f"user:{username}"
    assert shown["events"][-1]["data"]["note"] == NOTE
    assert listed["items"][0]["review"]["note"] == NOTE


def test_a_reversal_answers_the_pharmacy_without_the_note(
    web: FlaskClient, runtime: Runtime, pharmacy_api, reviewer
):
    auth, npi = pharmacy_api
    claim = _under_review(web, runtime, pharmacy_api)
    approved = _reviewed(web, reviewer, claim["claim_id"], "approve")
    assert approved["status"] == "paid"

    by_id = web.post(f"/v1/claims/{claim['claim_id']}/reversal", headers=auth)
    rx_number = builders.claim_row(runtime, claim["claim_id"]).rx_number
    key = {"service_provider_id": npi, "rx_number": rx_number, "fill_number": 0}
    key["date_of_service"] = "2024-03-01"
    by_key = web.post("/v1/reversals", json=key, headers=auth)

    for answer in (by_id, by_key):
        assert (answer.status_code, answer.json["status"]) == (200, "reversed")
        _shows_no_staff_record(answer.json, reviewer[1])


def test_the_decision_the_worker_renders_for_the_pharmacy_has_no_note(
    web: FlaskClient,
    runtime: Runtime,
    pharmacy_api,
    reviewer,
    monkeypatch: pytest.MonkeyPatch,
):
    claim = _under_review(web, runtime, pharmacy_api)
    with monkeypatch.context() as later:  # approved, and left for a worker to decide again
        later.setattr(adjudication, "adjudicate", lambda *_args: None)
        review.review(runtime, claim["claim_id"], "approve", NOTE, reviewer[1])

    decide_and_announce(runtime, claim["claim_id"])
    rendered = runtime.decisions.await_answer(claim["claim_id"], 1)

    assert rendered is not None
    decision = json.loads(rendered)
    assert (decision["status"], decision["review"]["state"]) == ("paid", "approved")
    _shows_no_staff_record(decision, reviewer[1])
