"""POST /v1/claims over the Flask test client, the worker's part run in-process: what a
pharmacy is answered when the decision is made between its request's steps."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adjudicator.adapters.decision_channel import DecisionChannel
from adjudicator.config import Config
from adjudicator.services import adjudication, identity, intake
from adjudicator.services.runtime import Runtime
from adjudicator.web import create_app
from tests.integration.builders import claim_payload, enroll, valid_npi

repeated = intake._repeated  # the real answer to a resubmission, before a test wraps it

pytestmark = pytest.mark.integration

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def api(runtime: Runtime, tmp_path: Path) -> Iterator[tuple[FlaskClient, dict[str, str], str]]:
    """(a test client, a pharmacy's bearer header, its NPI)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # create_app() configures logging
    config = Config(data_dir=tmp_path, database_url=runtime.config.database_url, redis_url="x")
    npi = valid_npi()
    key = identity.add_pharmacy(runtime.ledger, npi, "Async Pharmacy", "accredo")["api_key"]
    try:
        with create_app(config, runtime=runtime).test_client() as client:
            yield client, {"Authorization": f"Bearer {key}"}, npi
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_an_async_resubmission_of_a_claim_paid_meanwhile_answers_duplicate(
    api, runtime: Runtime, enqueued: list[str], monkeypatch: pytest.MonkeyPatch
):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    first = client.post("/v1/claims", json=payload, headers={**auth, **ASYNC})
    assert (first.status_code, first.json["status"]) == (202, "received")
    shown = client.get(first.headers["Location"], headers=auth).json
    assert first.json == {k: v for k, v in shown.items() if k != "events"}  # as the ledger has it

    def found_received_then_the_worker_pays(rt: Runtime, *args: Any) -> Any:
        # The intake found the first claim still `received`, which the worker pays right then.
        adjudication.adjudicate(rt, enqueued[-1])
        return repeated(rt, *args)

    monkeypatch.setattr(intake, "_repeated", found_received_then_the_worker_pays)
    again = client.post("/v1/claims", json=payload, headers={**auth, **ASYNC})

    assert again.status_code == 200  # a 202 says `received`; this claim is decided
    assert (again.json["status"], again.json["claim_id"]) == ("duplicate", first.json["claim_id"])
    assert again.json["amounts"]["program_paid"] == "1500.00"


def test_the_prefer_header_is_read_regardless_of_case(api, runtime: Runtime):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    began = time.monotonic()
    answer = client.post("/v1/claims", json=payload, headers={**auth, "Prefer": "Respond-Async"})
    assert (answer.status_code, answer.json["status"]) == (202, "received")
    assert time.monotonic() - began < runtime.config.sync_timeout / 2  # did not wait for it


def _streamed(client: FlaskClient, auth: dict[str, str], body: bytes) -> TestResponse:
    """POST /v1/claims without Content-Length, as a chunked request reaches the app."""
    return client.post(
        "/v1/claims",
        input_stream=io.BytesIO(body),
        headers={
            **auth,
            **ASYNC,
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},  # the server de-chunks
    )


def test_a_streamed_body_over_64_kib_is_413(api, runtime: Runtime, enqueued: list[str]):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    body = json.dumps(payload).encode()
    over = body[:-1] + b" " * (64 * 1024 + 1 - len(body)) + b"}"
    at_limit = body[:-1] + b" " * (64 * 1024 - len(body)) + b"}"

    refused = _streamed(client, auth, over)
    assert refused.status_code == 413
    assert refused.mimetype == "application/problem+json"
    assert enqueued == []  # nothing stored, nothing sent
    accepted = _streamed(client, auth, at_limit)
    assert (accepted.status_code, len(enqueued)) == (202, 1)


def test_a_reversal_by_id_refuses_a_body_with_fields_and_takes_an_empty_one(
    api, runtime: Runtime, enqueued: list[str]
):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    claim_id = client.post("/v1/claims", json=payload, headers={**auth, **ASYNC}).json["claim_id"]
    adjudication.adjudicate(runtime, claim_id)
    path = f"/v1/claims/{claim_id}/reversal"

    refused = client.post(path, json={"bogus": 1}, headers=auth)
    assert refused.status_code == 422
    assert refused.json["errors"] == {"bogus": ["Unknown field."]}
    assert client.get(f"/v1/claims/{claim_id}", headers=auth).json["status"] == "paid"

    not_json = client.post(path, data=b"{", headers={**auth, "Content-Type": "application/json"})
    assert not_json.status_code == 400

    reversed_ = client.post(path, json={}, headers=auth)
    assert (reversed_.status_code, reversed_.json["status"]) == (200, "reversed")


def test_a_reversal_by_id_with_an_empty_chunked_body_reverses(api, runtime: Runtime):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    claim_id = client.post("/v1/claims", json=payload, headers={**auth, **ASYNC}).json["claim_id"]
    adjudication.adjudicate(runtime, claim_id)

    answer = client.post(
        f"/v1/claims/{claim_id}/reversal",
        input_stream=io.BytesIO(b""),
        headers={**auth, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert (answer.status_code, answer.json["status"]) == (200, "reversed")


def test_a_new_async_claim_answers_202_received_even_when_decided_before_the_answer(
    api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    client, auth, npi = api

    def decide_at_once(claim_id: str) -> None:
        adjudication.adjudicate(runtime, claim_id)  # the worker is quicker than the answer

    quick = DecisionChannel(runtime.redis, runtime.config.sync_timeout, decide_at_once)
    monkeypatch.setattr(runtime, "decisions", quick)
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    answer = client.post("/v1/claims", json=payload, headers={**auth, **ASYNC})

    assert (answer.status_code, answer.json["status"]) == (202, "received")
    assert answer.json["amounts"]["program_paid"] == "0.00"
    shown = client.get(answer.headers["Location"], headers=auth)
    assert (shown.json["status"], shown.json["claim_id"]) == ("paid", answer.json["claim_id"])


@pytest.mark.parametrize(
    ("body", "status"), [(b"", 400), (b"{", 400), (b"null", 422), (b"[1]", 422)]
)
def test_a_body_that_is_not_json_is_400_and_json_that_is_no_object_422(
    api, enqueued: list[str], body: bytes, status: int
):
    client, auth, _ = api
    headers = {**auth, "Content-Type": "application/json"}
    answer = client.post("/v1/claims", data=body, headers=headers)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    if status == 422:
        assert answer.json["errors"] == {"_schema": ["Invalid input type."]}
    assert enqueued == []


@pytest.mark.parametrize("position", ["99999999999999999999999", "0", "-5"])
def test_a_cursor_beyond_any_row_is_422_not_a_database_error(api, position: str):
    client, pharmacy, _npi = api
    cursor = base64.urlsafe_b64encode(f"s:{position}".encode()).decode().rstrip("=")

    answer = client.get(f"/v1/claims?cursor={cursor}", headers=pharmacy)

    assert answer.status_code == 422, answer.json
    assert list(answer.json["errors"]) == ["cursor"]


def test_no_answer_of_the_api_is_kept_by_a_cache(api):
    client, pharmacy, _npi = api

    listed = client.get("/v1/claims", headers=pharmacy)
    refused = client.get("/v1/claims")

    assert (listed.status_code, refused.status_code) == (200, 401)
    assert listed.headers["Cache-Control"] == refused.headers["Cache-Control"] == "no-store"


def _redis_gone(*_args, **_kwargs):
    raise redis.ConnectionError("Redis went away")


def test_a_claim_stored_while_redis_is_down_answers_202_at_once(api, runtime, monkeypatch):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    unreachable = DecisionChannel(runtime.redis, runtime.config.sync_timeout, _redis_gone)
    monkeypatch.setattr(unreachable, "await_answer", lambda *_: pytest.fail("waited for nobody"))
    monkeypatch.setattr(runtime, "decisions", unreachable)

    answer = client.post("/v1/claims", json=payload, headers=auth)

    assert (answer.status_code, answer.json["status"]) == (202, "received")
    shown = client.get(answer.headers["Location"], headers=auth)
    assert shown.json["status"] == "received"  # stored: the sweep will enqueue it


def test_a_wait_cut_short_by_redis_going_away_answers_202(api, runtime, monkeypatch):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    monkeypatch.setattr(runtime.redis, "blpop", _redis_gone)

    answer = client.post("/v1/claims", json=payload, headers=auth)

    assert (answer.status_code, answer.json["status"]) == (202, "received")
