"""Headers of every answer: nosniff everywhere, HSTS when the request came over https, and
a /docs page whose one inline script runs by its hash, never by 'unsafe-inline'."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from adjudicator.services import claim_queries
from adjudicator.services.runtime import Runtime
from tests.integration import builders

pytestmark = pytest.mark.integration

HSTS = "max-age=31536000; includeSubDomains"
Pharmacy = tuple[dict[str, str], str]  # the pharmacy_api fixture: bearer header, NPI


def _answers(web: FlaskClient, pharmacy: dict[str, str], **request: str) -> dict[str, Any]:
    """One answer of every kind: API, error, console, docs, static files, operations."""
    paths = {
        "listing": ("GET", "/v1/claims", pharmacy),
        "401": ("GET", "/v1/claims", {}),
        "404 problem": ("GET", "/v1/claims/nope", pharmacy),
        "422 problem": ("GET", "/v1/claims?limit=0", pharmacy),
        "no route": ("GET", "/nowhere", {}),
        "405": ("DELETE", "/healthz", {}),
        "healthz": ("GET", "/healthz", {}),
        "openapi": ("GET", "/openapi.json", {}),
        "docs": ("GET", "/docs", {}),
        "docs asset": ("GET", "/docs/assets/swagger-ui.css", {}),
        "console page": ("GET", "/console/login", {}),
        "console static": ("GET", "/console/static/console.css", {}),
        "console redirect": ("GET", "/console/queue", {}),
    }
    return {
        name: web.open(path, method=method, headers=headers, **request)
        for name, (method, path, headers) in paths.items()
    }


def test_every_answer_says_nosniff(web: FlaskClient, pharmacy_api: Pharmacy):
    answers = _answers(web, pharmacy_api[0])

    sniffable = {n: a.status_code for n, a in answers.items() if _nosniff(a) != "nosniff"}
    assert sniffable == {}
    assert answers["docs asset"].status_code == answers["console static"].status_code == 200


def test_an_unexpected_error_says_nosniff_too(
    web: FlaskClient, pharmacy_api: Pharmacy, monkeypatch: pytest.MonkeyPatch
):
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(claim_queries, "listing", broken)
    answer = web.get("/v1/claims", headers=pharmacy_api[0])

    assert (answer.status_code, _nosniff(answer)) == (500, "nosniff")


def _nosniff(answer: Any) -> str | None:
    return answer.headers.get("X-Content-Type-Options")


def test_over_http_there_is_no_hsts(web: FlaskClient, pharmacy_api: Pharmacy):
    answers = _answers(web, pharmacy_api[0])

    assert [n for n, a in answers.items() if "Strict-Transport-Security" in a.headers] == []


def test_over_https_every_answer_has_hsts(web: FlaskClient, pharmacy_api: Pharmacy):
    answers = _answers(web, pharmacy_api[0], base_url="https://hub.example")

    hsts = {n: a.headers.get("Strict-Transport-Security") for n, a in answers.items()}
    assert set(hsts.values()) == {HSTS}, hsts


def test_behind_a_proxy_that_terminates_tls_answers_have_hsts(
    runtime: Runtime, tmp_path: Path, pharmacy_api: Pharmacy
):
    with builders.web_app(runtime, tmp_path, proxy_hops=1) as app:
        client, auth = app.test_client(), pharmacy_api[0]
        over_https = client.get("/v1/claims", headers={**auth, "X-Forwarded-Proto": "https"})
        over_http = client.get("/v1/claims", headers={**auth, "X-Forwarded-Proto": "http"})

    assert over_https.headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in over_http.headers


def test_without_a_trusted_proxy_a_forwarded_https_is_not_believed(web: FlaskClient):
    answer = web.get("/healthz", headers={"X-Forwarded-Proto": "https"})

    assert "Strict-Transport-Security" not in answer.headers


class _Scripts(HTMLParser):
    """The text of every inline script of a page, as a browser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not dict(attrs).get("src"):
            self._open = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.inline.append("".join(self._open))
            self._open = None


def test_the_docs_page_allows_its_inline_script_by_hash_and_no_other(web: FlaskClient):
    page = web.get("/docs")
    scripts = _Scripts()
    scripts.feed(page.text)

    assert len(scripts.inline) == 1  # flask-smorest's configuration of Swagger UI
    digest = base64.b64encode(hashlib.sha256(scripts.inline[0].encode()).digest()).decode()
    policy = _policy(page)
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert _policy(web.get("/docs/assets/swagger-ui-bundle.js"))["script-src"] == "'self'"


def _policy(answer: Any) -> dict[str, str]:
    directives = answer.headers["Content-Security-Policy"].split(";")
    return dict(directive.strip().split(" ", 1) for directive in directives)
