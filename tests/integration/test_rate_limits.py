"""Per-credential rate limits over the Flask test client (API.md's Conventions): 429
problem+json with Retry-After, one budget per credential, kept in Redis across processes,
after authentication, and none for the public endpoints."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from adjudicator.config import Config, Rate
from adjudicator.services import adjudication, identity
from adjudicator.services.runtime import Runtime
from adjudicator.web import create_app
from tests.integration.builders import claim_payload, enroll, valid_npi

pytestmark = pytest.mark.integration

BURST = 5  # a budget of 5 requests in any 3 seconds: 2/s with bursts of 5


@pytest.fixture
def make_app(runtime: Runtime, tmp_path: Path) -> Iterator[object]:
    """Builds apps, as each web process does, on the runtime's Redis and ledger."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # create_app() configures logging

    def make(**settings: object) -> Flask:
        limits = {"rate_pharmacy": Rate(2, BURST), "rate_staff": Rate(2, BURST), **settings}
        config = dataclasses.replace(runtime.config, **limits)  # type: ignore[arg-type]  # the test's own settings
        return create_app(config, runtime=dataclasses.replace(runtime, config=config))

    try:
        yield make
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _pharmacy(rt: Runtime) -> dict[str, str]:
    key = identity.add_pharmacy(rt.ledger, valid_npi(), "Busy Pharmacy", "accredo")["api_key"]
    return {"Authorization": f"Bearer {key}"}


def _reviewer(rt: Runtime) -> dict[str, str]:
    token = identity.add_user(rt.ledger, f"busy-{uuid.uuid4().hex[:8]}", "reviewer", None)
    return {"Authorization": f"Bearer {token['api_token']}"}


def _statuses(client: object, count: int, headers: dict[str, str], path: str = "/v1/claims"):
    return [client.get(path, headers=headers).status_code for _ in range(count)]  # type: ignore[attr-defined]  # a FlaskClient


def test_a_credential_past_its_burst_gets_a_429_problem_with_retry_after(make_app, runtime):
    client = make_app().test_client()
    pharmacy = _pharmacy(runtime)

    assert _statuses(client, BURST, pharmacy) == [200] * BURST
    refused = client.get("/v1/claims", headers=pharmacy)

    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"] == "about:blank"
    assert (refused.json["status"], refused.json["title"]) == (429, "Too Many Requests")
    assert "2 requests a second, in bursts of at most 5" in refused.json["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 3  # the window is 3 seconds


def test_every_endpoint_of_a_credential_draws_on_one_budget_and_post_is_refused_unread(
    make_app, runtime
):
    client = make_app().test_client()
    pharmacy = _pharmacy(runtime)
    assert _statuses(client, BURST, pharmacy, "/v1/claims/unknown") == [404] * BURST

    refused = client.post("/v1/claims", data=b"not even JSON", headers=pharmacy)

    assert refused.status_code == 429  # not 400: the body was never read


def test_each_credential_has_a_budget_of_its_own(make_app, runtime):
    client = make_app().test_client()
    busy, other, staff = _pharmacy(runtime), _pharmacy(runtime), _reviewer(runtime)
    _statuses(client, BURST, busy)
    assert client.get("/v1/claims", headers=busy).status_code == 429

    assert _statuses(client, BURST, other) == [200] * BURST
    assert _statuses(client, BURST, staff) == [200] * BURST


def test_the_limit_holds_across_web_processes(make_app, runtime):
    # Two apps, two limiters, as two web processes have: the budget is in Redis.
    first, second = make_app().test_client(), make_app().test_client()
    pharmacy = _pharmacy(runtime)

    assert _statuses(first, 3, pharmacy) + _statuses(second, 2, pharmacy) == [200] * BURST
    assert first.get("/v1/claims", headers=pharmacy).status_code == 429
    assert second.get("/v1/claims", headers=pharmacy).status_code == 429


def test_the_budget_comes_back_as_the_window_moves_on(make_app, runtime):
    client = make_app(rate_pharmacy=Rate(BURST, BURST)).test_client()  # 5 in any second
    pharmacy = _pharmacy(runtime)
    _statuses(client, BURST, pharmacy)
    assert client.get("/v1/claims", headers=pharmacy).status_code == 429

    time.sleep(1.1)

    assert _statuses(client, BURST, pharmacy) == [200] * BURST


def test_unknown_credentials_are_401_and_count_against_nobody(make_app, runtime):
    client = make_app().test_client()
    pharmacy = _pharmacy(runtime)
    wrong = {"Authorization": pharmacy["Authorization"] + "x"}

    assert _statuses(client, 2 * BURST, wrong) == [401] * (2 * BURST)
    assert _statuses(client, 2 * BURST, {}) == [401] * (2 * BURST)
    assert _statuses(client, BURST, pharmacy) == [200] * BURST


def test_a_role_refusal_counts_like_any_request_of_that_credential(make_app, runtime):
    client = make_app().test_client()
    pharmacy = _pharmacy(runtime)

    assert _statuses(client, BURST, pharmacy, "/v1/terms") == [403] * BURST
    assert client.get("/v1/claims", headers=pharmacy).status_code == 429


def test_health_readiness_and_the_documents_are_not_limited(make_app, runtime):
    client = make_app().test_client()
    pharmacy = _pharmacy(runtime)

    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert set(_statuses(client, 2 * BURST, pharmacy, path)) == {200}, path
    assert _statuses(client, BURST, pharmacy) == [200] * BURST  # none of those counted


def test_each_kind_of_credential_has_its_rate_from_the_environment():
    config = Config.from_env(
        {
            "ADJUDICATOR_RATE_PHARMACY": "30,90",
            "ADJUDICATOR_RATE_STAFF": "5,10",
            "ADJUDICATOR_RATE_SWITCH": "300,1500",
        }
    )

    assert config.rate_for("pharmacy").limit() == "90 per 3 second"
    assert config.rate_for("reviewer") == config.rate_for("admin") == Rate(5, 10)
    assert config.rate_for("switch").limit() == "1500 per 5 second"
    defaults = Config.from_env({})
    assert [defaults.rate_for(kind) for kind in ("pharmacy", "admin", "switch")] == [
        Rate(20, 100),
        Rate(20, 100),
        Rate(200, 1000),
    ]
    assert Rate(30, 100).limit() == "100 per 4 second"  # never above 30/s sustained
    with pytest.raises(ValueError, match="ADJUDICATOR_RATE_STAFF"):
        Config.from_env({"ADJUDICATOR_RATE_STAFF": "100,20"})


# --- the undecided-claims cap ------------------------------------------------------


def test_a_pharmacy_with_too_many_undecided_claims_gets_429_for_async_ones_only(
    make_app, runtime, enqueued
):
    # The claims are stored and published (`enqueued`), never decided: no worker runs.
    client = make_app(max_undecided=3, rate_pharmacy=Rate(100, 100)).test_client()
    npi = valid_npi()
    key = identity.add_pharmacy(runtime.ledger, npi, "Flooding Pharmacy", "accredo")["api_key"]
    pharmacy = {"Authorization": f"Bearer {key}", "Prefer": "respond-async"}
    cardholder = enroll(runtime)["cardholder_id"]

    accepted = [
        client.post("/v1/claims", json=claim_payload(cardholder, npi), headers=pharmacy)
        for _ in range(3)
    ]
    refused = client.post("/v1/claims", json=claim_payload(cardholder, npi), headers=pharmacy)

    assert [a.status_code for a in accepted] == [202] * 3
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["title"] == "Too Many Requests"
    assert "3 claims still waiting for a decision" in refused.json["detail"]
    assert refused.headers["Retry-After"] == "1"
    assert len(enqueued) == 3  # the refused claim was neither stored nor published

    # Another pharmacy is not held back; an identical resubmission answers the claim it repeats.
    other = _pharmacy(runtime) | {"Prefer": "respond-async"}
    other_npi = identity.authenticate(runtime.ledger, other["Authorization"][7:]).npi  # type: ignore[union-attr]  # just created
    assert (
        client.post(
            "/v1/claims", json=claim_payload(cardholder, other_npi), headers=other
        ).status_code
        == 202
    )
    first = claim_payload(cardholder, npi)
    assert client.post("/v1/claims", json=first, headers=pharmacy).status_code == 429
    # Once one of them is decided, the pharmacy may send again.
    adjudication.adjudicate(runtime, enqueued[0])
    assert client.post("/v1/claims", json=first, headers=pharmacy).status_code == 202


def test_the_undecided_count_reads_the_partial_index(runtime):
    with runtime.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("the plan is SQLite's to show here")
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM (SELECT seq FROM claims "
            "WHERE pharmacy_npi = ? AND status = 'received' LIMIT ?)",
            ("1234567893", 1000),
        ).all()
    assert any("ix_claims_undecided" in str(row) for row in plan), plan
