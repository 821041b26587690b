"""POST/GET /v1/readjudications over the Flask test client, and `adjudicator readjudicate`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from adjudicator.adapters.embedded_redis import EmbeddedRedis
from adjudicator.services import enrollments, identity, readjudication
from adjudicator.services.runtime import Runtime
from adjudicator.web import create_app
from tests.integration.builders import claim_payload, enroll, load_patch, pay, pharmacy
from tests.integration.readjudication_support import (
    claim_rows,
)

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
Headers = dict[str, str]


@pytest.fixture
def client(rt: Runtime, queued: list[str]) -> Iterator[FlaskClient]:
    app = create_app(rt.config, runtime=rt)
    with app.test_client() as test_client:
        yield test_client


def _bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(rt: Runtime) -> Headers:
    return _bearer(identity.add_user(rt.ledger, "admin", "admin", None)["api_token"])


@pytest.fixture
def reviewer(rt: Runtime) -> Headers:
    return _bearer(identity.add_user(rt.ledger, "reviewer", "reviewer", None)["api_token"])


@pytest.fixture
def medicaid_member(rt: Runtime) -> dict[str, Any]:
    """Two claims paid in 2021 ($1,500 and $2,000), then the enrollment turns out Medicaid."""
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2021-01-01")
    for dos, amount in (("2021-02-01", "1500.00"), ("2021-03-01", "2000.00")):
        payload = claim_payload(
            member["cardholder_id"], npi, responsibility=amount, date_of_service=dos
        )
        pay(rt, payload)
    patch = load_patch({"coverage": {"type": "medicaid"}})
    enrollments.update(rt, member["enrollment_id"], patch, "user:hub")
    return member


BODY = {"date_from": "2021-01-01", "date_to": "2021-12-31", "mode": "dry_run"}


def test_a_job_is_queued_then_reports_its_summary_and_changes(
    client: FlaskClient,
    admin: Headers,
    rt: Runtime,
    queued: list[str],
    medicaid_member: dict[str, Any],
) -> None:
    started = client.post("/v1/readjudications", json=BODY, headers=admin)

    assert started.status_code == 202, started.json
    job_id = started.json["job_id"]
    assert started.json == {
        "job_id": job_id,
        "status": "queued",
        "links": {
            "self": f"/v1/readjudications/{job_id}",
            "changes": f"/v1/readjudications/{job_id}/changes",
        },
    }
    assert started.headers["Location"] == f"/v1/readjudications/{job_id}"
    assert queued == [job_id]
    waiting = client.get(f"/v1/readjudications/{job_id}", headers=admin).json
    assert waiting["status"] == "queued"
    assert waiting["progress"] == {"total": 0, "done": 0}
    assert waiting["summary"]["delta"] == "0.00"

    readjudication.run(rt, job_id)
    job = client.get(f"/v1/readjudications/{job_id}", headers=admin).json

    assert job["status"] == "succeeded"
    assert job["mode"] == "dry_run"
    assert job["progress"] == {"total": 2, "done": 2}
    assert job["summary"] == {
        "claims": 2,
        "unchanged": 0,
        "changed": 2,
        "program_paid_before": "3500.00",
        "program_paid_after": "0.00",
        "delta": "-3500.00",
    }
    assert (job["date_from"], job["date_to"], job["cardholder_id"]) == (
        "2021-01-01",
        "2021-12-31",
        None,
    )
    first = client.get(f"/v1/readjudications/{job_id}/changes?limit=1", headers=admin).json
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = client.get(
        f"/v1/readjudications/{job_id}/changes?limit=1&cursor={first['next_cursor']}",
        headers=admin,
    ).json
    assert second["next_cursor"] is None
    rows = claim_rows(rt, medicaid_member["cardholder_id"])
    assert [item["claim_id"] for item in first["items"] + second["items"]] == [
        row.claim_id for row in rows
    ]
    assert first["items"][0]["before"] == {"status": "paid", "program_paid": "1500.00"}
    assert first["items"][0]["after"] == {"status": "rejected", "program_paid": "0.00"}
    assert first["items"][0]["date_of_service"] == "2021-02-01"
    listing = client.get("/v1/readjudications", headers=admin).json
    assert [j["job_id"] for j in listing["items"]] == [job_id]


def test_an_apply_job_for_one_cardholder(
    client: FlaskClient,
    admin: Headers,
    rt: Runtime,
    queued: list[str],
    medicaid_member: dict[str, Any],
) -> None:
    body = {**BODY, "mode": "apply", "cardholder_id": medicaid_member["cardholder_id"]}
    job_id = client.post("/v1/readjudications", json=body, headers=admin).json["job_id"]
    readjudication.run(rt, queued[0])

    job = client.get(f"/v1/readjudications/{job_id}", headers=admin).json

    assert (job["mode"], job["status"], job["summary"]["delta"]) == (
        "apply",
        "succeeded",
        "-3500.00",
    )
    assert job["cardholder_id"] == medicaid_member["cardholder_id"]
    assert [r.status for r in claim_rows(rt, medicaid_member["cardholder_id"])] == ["rejected"] * 2


def test_jobs_are_for_admins_only(
    client: FlaskClient, reviewer: Headers, admin: Headers, rt: Runtime, queued: list[str]
) -> None:
    job_id = client.post("/v1/readjudications", json=BODY, headers=admin).json["job_id"]
    pharmacy_key = identity.add_pharmacy(rt.ledger, pharmacy(rt), "P", "accredo")["api_key"]
    paths = [f"/v1/readjudications/{job_id}", f"/v1/readjudications/{job_id}/changes"]

    for headers, status in ((reviewer, 403), (_bearer(pharmacy_key), 403), ({}, 401)):
        assert client.post("/v1/readjudications", json=BODY, headers=headers).status_code == status
        assert client.get("/v1/readjudications", headers=headers).status_code == status
        for path in paths:
            assert client.get(path, headers=headers).status_code == status
    assert queued == [job_id]


def test_an_unknown_job_is_404(client: FlaskClient, admin: Headers) -> None:
    for path in ("/v1/readjudications/nope", "/v1/readjudications/nope/changes"):
        answer = client.get(path, headers=admin)
        assert answer.status_code == 404
        assert answer.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "date_to": "2020-12-31"}, "date_to"),
        ({**BODY, "mode": "wet_run"}, "mode"),
        ({"date_from": "2021-01-01", "date_to": "2021-12-31"}, "mode"),
        ({**BODY, "date_from": "2021-13-01"}, "date_from"),
        ({**BODY, "extra": 1}, "extra"),
    ],
)
def test_bad_requests_are_422_field_by_field_and_queue_nothing(
    client: FlaskClient, admin: Headers, queued: list[str], body: dict[str, Any], field: str
) -> None:
    answer = client.post("/v1/readjudications", json=body, headers=admin)

    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert queued == []


def test_a_bad_cursor_is_422(client: FlaskClient, admin: Headers) -> None:
    job_id = client.post("/v1/readjudications", json=BODY, headers=admin).json["job_id"]
    answer = client.get(f"/v1/readjudications/{job_id}/changes?cursor=zzz", headers=admin)
    assert answer.status_code == 422
    assert "cursor" in answer.json["errors"]
    assert answer.json["detail"] == "The request was refused; see `errors` for each field."
    malformed = client.get(f"/v1/readjudications/{job_id}/changes?limit=0", headers=admin)
    assert malformed.status_code == 422
    assert malformed.json["detail"].startswith("The query string does not match")


def test_the_openapi_document_describes_the_jobs(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    assert {"/v1/readjudications", "/v1/readjudications/{job_id}"} <= set(paths)
    assert "/v1/readjudications/{job_id}/changes" in paths


def _query_parameters(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


def test_the_openapi_document_names_every_query_parameter(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    assert _query_parameters(paths["/v1/claims"]["get"]) == [
        "cardholder_id",
        "status",
        "review",
        "date_from",
        "date_to",
        "limit",
        "cursor",
    ]
    assert _query_parameters(paths["/v1/members/{cardholder_id}/benefit"]["get"]) == ["date"]
    changes = paths["/v1/readjudications/{job_id}/changes"]["get"]
    assert _query_parameters(changes) == ["limit", "cursor"]


# --- the command line ---------------------------------------------------------------------


def adjudicator(
    rt: Runtime, tmp_path: Path, *args: str, redis_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The command on `rt`'s ledger and Redis (`redis_url=""`: its own embedded Redis)."""
    env = {
        **os.environ,
        "DATABASE_URL": rt.config.database_url,
        "REDIS_URL": (rt.config.redis_url or "") if redis_url is None else redis_url,
        "ADJUDICATOR_DATA_DIR": str(tmp_path / "cli"),
    }
    return subprocess.run(
        [str(BIN / "adjudicator"), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_cli_applies_with_a_progress_bar_and_prints_the_summary(
    rt: Runtime, tmp_path: Path, medicaid_member: dict[str, Any]
) -> None:
    holder, year = medicaid_member["cardholder_id"], medicaid_member["enrollment_id"]
    args = ("readjudicate", "--from", "2021-01-01", "--to", "2021-12-31", "--cardholder", holder)

    dry = adjudicator(rt, tmp_path, *args)
    applied = adjudicator(rt, tmp_path, *args, "--apply")

    assert dry.returncode == 0, dry.stderr
    assert applied.returncode == 0, applied.stderr
    for done, mode in ((dry, "dry_run"), (applied, "apply")):
        lines = done.stdout.splitlines()
        assert len(lines) == 1
        printed = json.loads(lines[0])
        assert (printed["status"], printed["mode"]) == ("succeeded", mode)
        assert printed["summary"]["delta"] == "-3500.00"
        assert "2/2 claims" in done.stderr  # the progress bar's last state
    assert [r.status for r in claim_rows(rt, holder)] == ["rejected", "rejected"]
    assert rt.accumulator.used(holder, year) == 0
    again = json.loads(adjudicator(rt, tmp_path, *args, "--apply").stdout)
    assert again["summary"]["changed"] == 0


def test_the_cli_refuses_a_window_that_ends_before_it_starts(rt: Runtime, tmp_path: Path) -> None:
    done = adjudicator(rt, tmp_path, "readjudicate", "--from", "2021-02-01", "--to", "2021-01-01")
    assert done.returncode == 2 and done.stdout == ""
    bad_date = adjudicator(rt, tmp_path, "readjudicate", "--from", "soon", "--to", "2021-01-01")
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr


def test_the_cli_stops_following_a_queued_job_that_no_worker_starts(
    rt: Runtime, tmp_path: Path
) -> None:
    args = ("readjudicate", "--from", "2021-01-01", "--to", "2021-12-31", "--queue")
    # On a Redis of its own (the embedded one under the CLI's data dir): the session's
    # Redis may have a worker on it (the e2e server's), which would take the message.
    done = adjudicator(rt, tmp_path, *args, "--start-timeout", "1", redis_url="")
    printed = json.loads(done.stdout)

    assert done.returncode == 3
    assert f"no worker started job {printed['job_id']} within 1 s" in done.stderr
    assert printed["status"] == "queued"
    assert readjudication.get(rt, printed["job_id"])["status"] == "queued"
    # The CLI's Redis, started again on the data it saved (AOF): the message waits there.
    with (
        EmbeddedRedis(tmp_path / "cli" / "redis") as server,
        redis.Redis.from_url(server.url) as client,
    ):
        assert _batch_messages_for(client, printed["job_id"]) == 1


def _batch_messages_for(client: redis.Redis, job_id: str) -> int:
    """How many task messages for the job wait on the batch queue (kombu's envelope)."""
    return sum(
        json.loads(base64.b64decode(json.loads(raw)["body"]))[0] == [job_id]
        for raw in client.lrange("batch", 0, -1)
    )
