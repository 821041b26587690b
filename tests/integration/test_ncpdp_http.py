"""`POST /ncpdp/d0`: auth before the body, the 64 KiB cap, framing bytes stripped, 400 for
an unreadable header, the response as application/octet-stream (the D.0 service itself
is stood in for by tests/d0_echo.py)."""

from __future__ import annotations

import dataclasses
import io
import random
import uuid

import pytest
from flask.testing import FlaskClient

from adjudicator.config import Rate
from adjudicator.services import identity
from adjudicator.services import ncpdp as ncpdp_service
from adjudicator.services.runtime import Runtime
from tests import d0_echo
from tests.integration.builders import web_app

pytestmark = pytest.mark.integration

PATH = "/ncpdp/d0"
SEED = 20261206


@pytest.fixture(autouse=True)
def _echo_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ncpdp_service, "answer", lambda _rt, who, body: d0_echo.echo(who, body))


@pytest.fixture
def switch(runtime: Runtime) -> tuple[dict[str, str], str]:
    """(a new switch's bearer header, its name)."""
    name = f"switch-{uuid.uuid4().hex[:8]}"
    key = identity.add_switch(runtime.ledger, name)["api_key"]
    return {"Authorization": f"Bearer {key}"}, name


def _post(web: FlaskClient, headers: dict[str, str], body: bytes, **kwargs):  # type: ignore[no-untyped-def]  # a test client's answer
    return web.post(PATH, data=body, headers=headers, **kwargs)


def test_a_switch_gets_the_response_as_octet_stream(web: FlaskClient, switch):
    headers, name = switch

    answer = _post(web, headers, d0_echo.request("1234567893"))

    assert answer.status_code == 200
    assert answer.mimetype == "application/octet-stream"
    assert d0_echo.served(answer.data) == ("1234567893", f"switch:{name} 56")
    assert answer.headers["Cache-Control"] == "no-store"  # Rx numbers and money, as /v1
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_pharmacy_key_bills_for_its_own_npi_only(web: FlaskClient, pharmacy_api):
    headers, npi = pharmacy_api

    own = _post(web, headers, d0_echo.request(npi))
    other = _post(web, headers, d0_echo.request("1245319599"))

    assert own.status_code == 200 and d0_echo.served(own.data)[0] == npi
    assert other.status_code == 403 and other.mimetype == "application/problem+json"


def test_no_credentials_is_401_and_staff_is_403(runtime: Runtime, web: FlaskClient):
    token = identity.add_user(runtime.ledger, f"u-{uuid.uuid4().hex[:8]}", "admin", None)
    staff = {"Authorization": f"Bearer {token['api_token']}"}

    nobody = _post(web, {}, d0_echo.request())
    unknown = _post(web, {"Authorization": "Bearer sk_nope"}, d0_echo.request())
    admin = _post(web, staff, d0_echo.request())

    assert (nobody.status_code, unknown.status_code, admin.status_code) == (401, 401, 403)
    assert {a.mimetype for a in (nobody, unknown, admin)} == {"application/problem+json"}


def test_the_role_is_checked_before_the_body_is_read(runtime: Runtime, web: FlaskClient):
    token = identity.add_user(runtime.ledger, f"u-{uuid.uuid4().hex[:8]}", "reviewer", None)
    staff = {"Authorization": f"Bearer {token['api_token']}"}
    assert _post(web, staff, b"x" * (65 * 1024)).status_code == 403
    assert _post(web, {}, b"x" * (65 * 1024)).status_code == 401


def test_stx_and_etx_are_stripped_before_the_service_sees_it(web: FlaskClient, switch):
    headers, name = switch
    body = d0_echo.request("1234567893", "\x1e\x1cAM04\x1cC2ABC")

    for framed in (b"\x02" + body + b"\x03", b"\x02" + body, body + b"\x03", body):
        answer = _post(web, headers, framed, content_type="text/plain")
        assert answer.status_code == 200
        assert d0_echo.served(answer.data)[1] == f"switch:{name} {len(body)}"


@pytest.mark.parametrize(
    "body",
    [b"", b"\x02\x03", d0_echo.request()[:55], d0_echo.request()[:40] + "é".encode() + b"x" * 20],
    ids=["empty", "empty frame", "55 characters", "not ASCII"],
)
def test_an_unreadable_header_is_400_problem_json(web: FlaskClient, switch, body: bytes):
    answer = _post(web, switch[0], body)

    assert answer.status_code == 400
    assert answer.mimetype == "application/problem+json"
    assert "56" in answer.json["detail"]


def test_a_body_over_64_kib_is_413_and_one_at_64_kib_is_read(web: FlaskClient, switch):
    at_limit = d0_echo.request(body="A" * (64 * 1024 - 56))

    over = _post(web, switch[0], at_limit + b"A")
    just = _post(web, switch[0], at_limit)

    assert over.status_code == 413 and over.mimetype == "application/problem+json"
    assert just.status_code == 200


def test_a_chunked_body_over_64_kib_is_413_too(web: FlaskClient, switch):
    def streamed(body: bytes) -> int:
        return web.post(
            PATH,
            input_stream=io.BytesIO(body),
            headers={**switch[0], "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},  # the server de-chunks
        ).status_code

    at_limit = d0_echo.request(body="A" * (64 * 1024 - 56))
    assert (streamed(at_limit + b"A"), streamed(at_limit)) == (413, 200)


def test_the_switch_has_its_own_rate_limit(runtime: Runtime, tmp_path, switch):
    limits = {"rate_switch": Rate(1, 3), "rate_pharmacy": Rate(1, 1), "rate_staff": Rate(1, 1)}
    limited = dataclasses.replace(runtime, config=dataclasses.replace(runtime.config, **limits))
    with web_app(limited, tmp_path) as app:
        client = app.test_client()
        answers = [_post(client, switch[0], d0_echo.request()) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].mimetype == "application/problem+json" and answers[-1].headers["Retry-After"]


def test_random_bodies_never_get_a_5xx(web: FlaskClient, switch):
    rng = random.Random(SEED)
    statuses = set()
    for _ in range(300):
        size = rng.choice([0, 1, 10, 55, 56, 57, 200, 2000])
        noise = bytes(rng.randrange(256) for _ in range(size))
        if rng.random() < 0.5:  # a readable header followed by noise
            noise = d0_echo.request() + noise
        answer = _post(web, switch[0], noise)
        statuses.add(answer.status_code)
        assert answer.status_code < 500, noise
    assert statuses == {200, 400}  # both ways were taken
