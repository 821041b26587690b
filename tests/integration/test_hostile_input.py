"""Odd bytes from a client: control characters (and lone surrogates) are refused field by
field (422), an id in a path that holds one answers 404, and nothing is ever a 5xx, on
SQLite and on PostgreSQL (TEST_DATABASE_URL), where a NUL reaching a query was a 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adjudicator.services import identity
from adjudicator.services.runtime import Runtime
from tests.integration import builders

pytestmark = pytest.mark.integration

CONTROL = "Must not contain control characters (U+0000-U+001F, U+007F)."
BAD_IDS = ["a\x00b", "a\r\nb", "\x7f", "\x1b[31m"]


@pytest.fixture
def admin(runtime: Runtime) -> dict[str, str]:
    user = identity.add_user(runtime.ledger, f"ada-{uuid.uuid4().hex[:8]}", "admin", None)
    return {"Authorization": f"Bearer {user['api_token']}"}


def _path(text: str) -> str:
    return quote(text, safe="")


# --- ids in paths: 404 -------------------------------------------------------------------

PHARMACY_PATHS = [
    ("GET", "/v1/claims/{}"),
    ("POST", "/v1/claims/{}/reversal"),
]
STAFF_PATHS = [
    ("GET", "/v1/claims/{}"),
    ("POST", "/v1/claims/{}/review"),
    ("GET", "/v1/enrollments/{}"),
    ("PATCH", "/v1/enrollments/{}"),
    ("GET", "/v1/members/{}/benefit"),
    ("GET", "/v1/readjudications/{}"),
    ("GET", "/v1/readjudications/{}/changes"),
    ("GET", "/v1/terms/{}"),
]
CONSOLE_PATHS = [
    "/console/claims/{}",
    "/console/members/{}",
    "/console/enrollments/{}/edit",
    "/console/readjudications/{}",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_with_a_control_character_in_the_path_is_404(
    web: FlaskClient, pharmacy_api: tuple[dict[str, str], str], admin: dict[str, str], bad: str
):
    as_pharmacy, _npi = pharmacy_api
    calls = [(m, p, as_pharmacy) for m, p in PHARMACY_PATHS] + [
        (m, p, admin) for m, p in STAFF_PATHS
    ]
    answers = {}
    for method, template, auth in calls:
        path = template.format(_path(bad))
        answer = web.open(path, method=method, headers=auth, json={})
        answers[(method, template)] = (answer.status_code, answer.mimetype)

    assert set(answers.values()) == {(404, "application/problem+json")}, answers


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_console_page_for_an_id_with_a_control_character_is_404(
    web_app: Flask, runtime: Runtime, bad: str
):
    stranger = web_app.test_client()
    staff = builders.OwnAddressClient(web_app)  # its own address: the sign-in limit
    username, password = f"rita-{uuid.uuid4().hex[:8]}", "correct horse battery staple"
    identity.add_user(runtime.ledger, username, "admin", password)
    login = staff.get("/console/login").text
    csrf = login.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"username": username, "password": password, "csrf_token": csrf}
    assert staff.post("/console/login", data=form).status_code == 302

    statuses = {t: staff.get(t.format(_path(bad))).status_code for t in CONSOLE_PATHS}
    strangers = {t: stranger.get(t.format(_path(bad))).status_code for t in CONSOLE_PATHS}

    assert set(statuses.values()) == {404}, statuses
    assert set(strangers.values()) == {404}, strangers


def test_a_path_variable_is_documented_as_text(web: FlaskClient):
    document = web.get("/openapi.json").json
    (claim_id,) = document["paths"]["/v1/claims/{claim_id}"]["parameters"]

    assert (claim_id["in"], claim_id["name"]) == ("path", "claim_id")
    assert claim_id["schema"]["pattern"] == r"^[^/\x00-\x1f\x7f]+$"


# --- text in bodies and query strings: 422, field by field --------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\r\nb", "\x1b"])
def test_a_claim_with_a_control_character_is_422_field_by_field(
    web: FlaskClient,
    runtime: Runtime,
    pharmacy_api: tuple[dict[str, str], str],
    enqueued: list[str],
    bad: str,
):
    auth, npi = pharmacy_api
    payload = builders.claim_payload(bad, npi, rx_number=f"RX{bad}")

    answer = web.post("/v1/claims", json=payload, headers=auth)

    assert (answer.status_code, answer.mimetype) == (422, "application/problem+json")
    assert answer.json["errors"] == {"cardholder_id": [CONTROL], "rx_number": [CONTROL]}
    assert enqueued == []  # nothing stored, nothing sent


def test_a_lone_surrogate_is_422_not_a_database_error(
    web: FlaskClient, pharmacy_api: tuple[dict[str, str], str], admin: dict[str, str]
):
    auth, npi = pharmacy_api
    # Python's JSON encoder writes "\ud800" as the escape a client would send.
    claim = web.post("/v1/claims", json=builders.claim_payload("\ud800", npi), headers=auth)
    enrollment = builders.enrollment_payload(cardholder_id="x\udfff")
    enrolled = web.post("/v1/enrollments", json=enrollment, headers=admin)

    assert (claim.status_code, list(claim.json["errors"])) == (422, ["cardholder_id"])
    assert (enrolled.status_code, list(enrolled.json["errors"])) == (422, ["cardholder_id"])


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_reversal_by_key_with_a_control_character_is_422(
    web: FlaskClient, pharmacy_api: tuple[dict[str, str], str], bad: str
):
    auth, npi = pharmacy_api
    key = {"service_provider_id": npi, "rx_number": bad, "fill_number": 0}

    answer = web.post("/v1/reversals", json={**key, "date_of_service": "2024-03-01"}, headers=auth)

    assert (answer.status_code, answer.json["errors"]) == (422, {"rx_number": [CONTROL]})


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_query_with_a_control_character_is_422_field_by_field(
    web: FlaskClient, pharmacy_api: tuple[dict[str, str], str], admin: dict[str, str], bad: str
):
    as_pharmacy, _npi = pharmacy_api
    q = _path(bad)

    listed = web.get(f"/v1/claims?cardholder_id={q}&cursor={q}", headers=as_pharmacy)
    audited = web.get(f"/v1/audit?cardholder_id={q}&claim_id={q}", headers=admin)

    assert listed.status_code == 422
    assert listed.json["errors"] == {"cardholder_id": [CONTROL], "cursor": [CONTROL]}
    assert audited.status_code == 422
    assert audited.json["errors"] == {"cardholder_id": [CONTROL], "claim_id": [CONTROL]}


@pytest.mark.parametrize("bad", BAD_IDS)
def test_staff_writes_with_a_control_character_are_422(
    web: FlaskClient, admin: dict[str, str], bad: str
):
    patient = {**builders.enrollment_payload()["patient"], "last_name": bad}
    job = {"date_from": "2024-01-01", "date_to": "2024-01-31", "mode": "dry_run"}

    enrolled = web.post(
        "/v1/enrollments",
        json=builders.enrollment_payload(cardholder_id=bad, patient=patient),
        headers=admin,
    )
    started = web.post("/v1/readjudications", json={**job, "cardholder_id": bad}, headers=admin)

    assert enrolled.status_code == 422
    assert enrolled.json["errors"] == {"cardholder_id": [CONTROL], "patient.last_name": [CONTROL]}
    assert (started.status_code, started.json["errors"]) == (422, {"cardholder_id": [CONTROL]})


def _request_strings(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every string a request may carry (bodies and query strings), with where it is."""
    components = document["components"]["schemas"]

    def walk(node: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if "$ref" in node:
            yield from walk(components[node["$ref"].rsplit("/", 1)[1]], where)
        elif node.get("type") == "string":
            yield where, node
        for name, child in node.get("properties", {}).items():
            yield from walk(child, f"{where}.{name}")
        if "items" in node:
            yield from walk(node["items"], f"{where}.0")

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # the path's own: its variables
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    yield from walk(parameter["schema"], f"{method} {path}?{parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from walk(content["schema"], f"{method} {path} body")


def test_every_string_a_request_carries_is_checked_by_a_field_that_publishes_its_rule(
    web: FlaskClient,
):
    """Each is a schemas.fields.Text (its rule: no control character, or a format of its
    own that holds none), Money, a decimal or a date: a plain marshmallow String, which takes
    anything, would come without a pattern."""
    document = web.get("/openapi.json").json

    strings = dict(_request_strings(document))

    assert len(strings) > 40  # the walk sees bodies, nested objects, lists and queries
    # A `binary` body (POST /ncpdp/d0, a D.0 transmission) is bytes, not text: its field
    # separators are control characters by design, and the service reads it (NCPDP.md).
    unchecked = [
        w
        for w, node in strings.items()
        if "pattern" not in node and node.get("format") not in ("date", "binary")
    ]
    assert unchecked == []
