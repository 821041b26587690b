"""The console's re-adjudication pages: the job list, the start form, a job and its changes.

Each test has a ledger of its own (readjudication_support), so its jobs are the only ones
listed and its windows touch no other test's claims. Jobs go to a list, not a worker: the
tests run them in-process with readjudication.run when they need them finished.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adjudicator.config import Config
from adjudicator.services import enrollments, identity, readjudication
from adjudicator.services.runtime import Runtime
from adjudicator.web.console.words import event_text
from tests.integration.builders import (
    OwnAddressClient,
    claim_payload,
    enroll,
    load_patch,
    pay,
    pharmacy,
)

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
REFRESH = '<meta http-equiv="refresh" content="3">'


@pytest.fixture
def app(rt: Runtime, tmp_path: Path, queued: list[str]) -> Iterator[Flask]:
    from adjudicator.web import create_app

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = Config(data_dir=tmp_path, database_url=rt.config.database_url, redis_url="unused")
    app = create_app(config, runtime=rt)
    app.test_client_class = OwnAddressClient
    try:
        yield app
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _signed_in(app: Flask, rt: Runtime, role: str) -> FlaskClient:
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    identity.add_user(rt.ledger, username, role, PASSWORD)
    client = app.test_client()
    form = {"username": username, "password": PASSWORD, "csrf_token": _token(client)}
    assert client.post("/console/login", data=form).status_code == 302
    return client


@pytest.fixture
def admin(app: Flask, rt: Runtime) -> FlaskClient:
    return _signed_in(app, rt, "admin")


@pytest.fixture
def reviewer(app: Flask, rt: Runtime) -> FlaskClient:
    return _signed_in(app, rt, "reviewer")


def _token(client: FlaskClient, path: str = "/console/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, "the page has no CSRF token"
    return found.group(1)


@pytest.fixture
def medicaid_member(rt: Runtime) -> dict[str, Any]:
    """Two claims paid in 2021 ($1,500 and $2,000), then the enrollment turns out Medicaid."""
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2021-01-01")
    for dos, amount in (("2021-02-01", "1500.00"), ("2021-03-01", "2000.00")):
        pay(
            rt,
            claim_payload(member["cardholder_id"], npi, responsibility=amount, date_of_service=dos),
        )
    patch = load_patch({"coverage": {"type": "medicaid"}})
    enrollments.update(rt, member["enrollment_id"], patch, "user:hub")
    return member


def _start(client: FlaskClient, **fields: str) -> Any:
    form = {"csrf_token": _token(client, "/console/readjudications/new"), **fields}
    return client.post("/console/readjudications/new", data=form)


def test_an_admin_starts_a_dry_run_and_follows_it(
    admin: FlaskClient, rt: Runtime, queued: list[str], medicaid_member: dict[str, Any]
):
    listing = admin.get("/console/readjudications")
    assert listing.status_code == 200
    assert "No re-adjudication jobs yet." in listing.text
    assert REFRESH not in listing.text
    assert 'href="/console/readjudications"' in listing.text  # the nav link
    cardholder = medicaid_member["cardholder_id"]

    answer = _start(
        admin,
        date_from="2021-01-01",
        date_to="2021-12-31",
        cardholder_id=cardholder,
        mode="dry_run",
    )

    assert answer.status_code == 302
    job_id = answer.headers["Location"].rsplit("/", 1)[1]
    assert answer.headers["Location"] == f"/console/readjudications/{job_id}"
    assert queued == [job_id]  # sent to the batch queue, as the API sends it
    waiting = admin.get(answer.headers["Location"])
    assert waiting.status_code == 200
    assert "The job is queued" in waiting.text
    assert "Queued" in waiting.text and REFRESH in waiting.text
    listed = admin.get("/console/readjudications").text
    assert REFRESH in listed and job_id in listed and cardholder in listed
    assert readjudication.get(rt, job_id)["created_by"].endswith(
        re.search(r"Signed in as <strong>([^<]+)", listed).group(1)
    )

    readjudication.run(rt, job_id)
    done = admin.get(f"/console/readjudications/{job_id}").text

    assert REFRESH not in done
    assert "Succeeded" in done
    assert 'max="2" value="2"' in done
    assert "$3,500.00" in done and "-$3,500.00" in done
    assert done.count('href="/console/claims/') == 2
    listed = admin.get("/console/readjudications").text
    assert REFRESH not in listed and "-$3,500.00" in listed


def test_the_job_page_pages_its_changes_with_the_cursor(
    admin: FlaskClient, rt: Runtime, medicaid_member: dict[str, Any], monkeypatch: Any
):
    from adjudicator.web.console import views

    data = {"date_from": date(2021, 1, 1), "date_to": date(2021, 12, 31), "mode": "dry_run"}
    job = readjudication.create(
        rt, {**data, "cardholder_id": medicaid_member["cardholder_id"]}, "user:t"
    )
    readjudication.run(rt, job["job_id"])
    monkeypatch.setattr(views, "CHANGES_PER_PAGE", 1)
    path = f"/console/readjudications/{job['job_id']}"

    first = admin.get(path).text
    next_link = re.search(r'href="([^"]+\?cursor=[^"]+)">Next page', first)
    assert next_link and first.count('href="/console/claims/') == 1
    second = admin.get(next_link.group(1).replace("&amp;", "&")).text

    assert second.count('href="/console/claims/') == 1 and "Next page" not in second
    assert "First page" in second
    claims = re.findall(r'href="/console/claims/([^"]+)"', first + second)
    assert len(set(claims)) == 2
    assert "Paid" in first and "Rejected" in first


def test_bad_dates_are_shown_next_to_their_fields(admin: FlaskClient, queued: list[str]):
    answer = _start(admin, date_from="2021-13-01", date_to="", mode="dry_run")
    assert answer.status_code == 422
    assert 'id="f-date_from-error"' in answer.text and 'id="f-date_to-error"' in answer.text
    assert "This field is required." in answer.text

    backwards = _start(admin, date_from="2021-06-01", date_to="2021-01-01", mode="dry_run")
    assert backwards.status_code == 422
    assert 'id="f-date_to-error"' in backwards.text
    assert "The end date must not be before the start date." in backwards.text
    assert 'value="2021-06-01"' in backwards.text  # the form keeps what was typed

    sideways = _start(admin, date_from="2021-01-01", date_to="2021-01-31", mode="sideways")
    assert sideways.status_code == 422 and 'id="f-mode-error"' in sideways.text
    assert queued == []


def test_starting_a_job_needs_the_csrf_token(admin: FlaskClient, queued: list[str]):
    form = {"date_from": "2021-01-01", "date_to": "2021-12-31", "mode": "dry_run"}
    for extra in ({}, {"csrf_token": "forged"}):
        answer = admin.post("/console/readjudications/new", data={**form, **extra})
        assert answer.status_code == 400
        assert "security token" in answer.text
    assert queued == []


def test_reviewers_have_no_re_adjudication(reviewer: FlaskClient, rt: Runtime, queued: list[str]):
    job = readjudication.create(
        rt,
        {"date_from": date(2021, 1, 1), "date_to": date(2021, 1, 31), "mode": "dry_run"},
        "user:t",
    )
    assert "Re-adjudication" not in reviewer.get("/console/queue").text
    for path in (
        "/console/readjudications",
        "/console/readjudications/new",
        f"/console/readjudications/{job['job_id']}",
    ):
        answer = reviewer.get(path)
        assert answer.status_code == 403, path
        assert "Only admins" in answer.text
    form = {
        "csrf_token": _token(reviewer, "/console/queue"),
        "date_from": "2021-01-01",
        "date_to": "2021-12-31",
        "mode": "apply",
    }
    assert reviewer.post("/console/readjudications/new", data=form).status_code == 403
    assert queued == []


def test_strangers_are_sent_to_sign_in(app: Flask):
    answer = app.test_client().get("/console/readjudications")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login")


def test_an_unknown_job_is_a_404_page(admin: FlaskClient):
    answer = admin.get("/console/readjudications/" + uuid.uuid4().hex)
    assert answer.status_code == 404
    assert "re-adjudication job" in answer.text


def test_the_claim_timeline_says_what_a_re_adjudication_changed():
    event = {
        "actor": "readjudication:abc123",
        "type": "readjudicated",
        "data": {
            "job_id": "abc123",
            "before": {"status": "paid", "program_paid": 100000, "decision": {}},
            "after": {"status": "paid", "program_paid": 80000},
        },
    }
    assert event_text(event) == "Re-adjudicated by job abc123: Paid $1,000.00 → Paid $800.00"
    event["data"]["after"] = {"status": "rejected", "program_paid": 0}
    assert event_text(event) == "Re-adjudicated by job abc123: Paid $1,000.00 → Rejected"
