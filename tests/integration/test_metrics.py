"""GET /metrics: the Prometheus text format, the workers' counts and the ledger's gauges,
no PHI, and the bearer token when one is configured."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adjudicator.services import accumulators, intake
from tasks.claims import decide_and_announce
from tests.integration.builders import claim_payload, enroll, load_claim, pharmacy, web_app

pytestmark = pytest.mark.integration


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_decisions_by_door_and_show_the_ledger(rt, tmp_path):
    member, npi = enroll(rt, effective_date="2024-01-01"), pharmacy(rt)
    payload = claim_payload(member["cardholder_id"], npi)
    submitted = intake.submit_claim(rt, load_claim(payload), wait=None)
    decide_and_announce(rt, submitted.claim_id)
    unknown = intake.submit_claim(rt, load_claim(claim_payload("IC0000000000", npi)), wait=None)
    decide_and_announce(rt, unknown.claim_id)
    accumulators.check(rt)

    with web_app(rt, tmp_path) as app, app.test_client() as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    found = _samples(answer.text)
    assert found[("adjudicator_decisions_total", (("door", "json"), ("status", "paid")))] >= 1
    assert found[("adjudicator_rejects_total", (("code", "52"), ("door", "json")))] >= 1
    assert found[("adjudicator_claims", (("door", "json"), ("status", "paid")))] == 1
    assert found[("adjudicator_money_dollars", (("kind", "payment"),))] == 1500.0
    assert ("adjudicator_accumulator_mismatches", ()) in found
    assert any(name == "adjudicator_decision_seconds_count" for name, _ in found)
    assert member["cardholder_id"] not in answer.text and npi not in answer.text  # no PHI


def test_a_metrics_token_is_required_when_configured(rt, tmp_path):
    rt.config = dataclasses.replace(rt.config, metrics_token="s3cret")
    with web_app(rt, tmp_path) as app, app.test_client() as client:
        refused = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert (refused.status_code, wrong.status_code, allowed.status_code) == (401, 401, 200)
