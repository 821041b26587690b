"""Operations endpoints: liveness, readiness, the OpenAPI document and its docs page."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def test_healthz_answers_ok_without_credentials(server: Server) -> None:
    response = server.call("GET", "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ok_when_database_redis_and_broker_answer(server: Server) -> None:
    response = server.call("GET", "/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_json_is_an_openapi_3_document_of_the_claims_and_enrollments_api(
    server: Server,
) -> None:
    response = server.call("GET", "/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert {"/v1/claims", "/v1/enrollments"} <= set(document["paths"])
    assert "post" in document["paths"]["/v1/claims"]


def test_the_docs_page_answers(server: Server) -> None:
    response = server.call("GET", "/docs")

    assert response.status_code == 200
    assert "text/html" in response.headers["Content-Type"]


def test_metrics_add_up_every_worker_process_and_show_the_ledger(server: Server) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from tests.e2e.helpers import claim_payload, enroll, submit

    member = enroll(server)
    assert submit(server, claim_payload(member["cardholder_id"]))["status"] == "paid"
    answer = server.call("GET", "/metrics")
    assert answer.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    decisions = [v for (name, _), v in samples.items() if name == "adjudicator_decisions_total"]
    assert sum(decisions) >= 1  # written by a Celery pool process, read by a web process
    assert samples[("adjudicator_claims", (("door", "json"), ("status", "paid")))] >= 1
