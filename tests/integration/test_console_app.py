"""The hub console through Flask's test client: sign-in, CSRF, session expiry, pages.

Real SQL and Redis (the session's); claims are decided in-process by the services.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adjudicator.adapters import ledger
from adjudicator.config import Config
from adjudicator.services import console_queries, identity, login_throttle, records
from adjudicator.services.runtime import Runtime
from adjudicator.web import console
from adjudicator.web.console import secret
from adjudicator.web.console.session import _key as session_key
from tests.integration import builders

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
TODDLER_BIRTH = "2023-06-01"


@pytest.fixture
def root_logging() -> Iterator[None]:
    """create_app() configures the root logger; give this process its own back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def app(runtime: Runtime, tmp_path: Path, root_logging: None) -> Flask:
    from adjudicator.web import create_app

    config = Config(data_dir=tmp_path, database_url=runtime.config.database_url, redis_url="unused")
    app = create_app(config, runtime=runtime)
    app.test_client_class = builders.OwnAddressClient
    return app


@pytest.fixture
def reviewer(runtime: Runtime) -> str:
    username = f"rita-{uuid.uuid4().hex[:8]}"
    identity.add_user(runtime.ledger, username, "reviewer", PASSWORD)
    return username


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def signed_in(client: FlaskClient, reviewer: str) -> FlaskClient:
    answer = sign_in(client, reviewer, PASSWORD)
    assert answer.status_code == 302, answer.text
    return client


def token(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str, **extra: str) -> Any:
    csrf = token(client.get("/console/login").text)
    form = {"username": username, "password": password, "csrf_token": csrf, **extra}
    return client.post("/console/login", data=form)


def form_token(client: FlaskClient, path: str = "/console/queue") -> str:
    return token(client.get(path).text)


def under_age_claim(rt: Runtime, **claim: Any) -> Any:
    member = builders.enroll(
        rt, patient={**builders.enrollment_payload()["patient"], "date_of_birth": TODDLER_BIRTH}
    )
    payload = builders.claim_payload(
        member["cardholder_id"],
        builders.pharmacy(rt),
        patient={"date_of_birth": TODDLER_BIRTH},
        **claim,
    )
    row = builders.pay(rt, payload)
    assert row.review_state == "open"
    return row


# --- sign-in and the cookie --------------------------------------------------------------


def test_signing_in_sets_an_httponly_samesite_cookie_for_the_console_only(
    client: FlaskClient, reviewer: str
):
    answer = sign_in(client, reviewer, PASSWORD)

    assert answer.status_code == 302 and answer.headers["Location"] == "/console/queue"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert client.get("/console/queue").status_code == 200


def test_over_https_the_cookie_is_secure(app: Flask, reviewer: str):
    client = app.test_client()
    page = client.get("/console/login", base_url="https://hub.example")
    assert "Secure" in page.headers["Set-Cookie"]
    form = {"username": reviewer, "password": PASSWORD, "csrf_token": token(page.text)}
    answer = client.post("/console/login", data=form, base_url="https://hub.example")
    assert answer.status_code == 302 and "Secure" in answer.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_with_a_message(client: FlaskClient, reviewer: str):
    answer = sign_in(client, reviewer, "wrong")
    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text
    assert client.get("/console/queue").status_code == 302


@pytest.fixture
def elsewhere(app: Flask) -> FlaskClient:
    """A client from an address of its own, so the sign-in counters start at zero."""
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_after_five_wrong_passwords_even_the_right_one_waits(
    elsewhere: FlaskClient, app: Flask, runtime: Runtime, reviewer: str
):
    wrong = [sign_in(elsewhere, reviewer, f"guess {n}").status_code for n in range(5)]
    refused = sign_in(elsewhere, reviewer, PASSWORD)

    assert wrong == [401] * 5
    assert refused.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in refused.text
    assert 14 * 60 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert elsewhere.get("/console/queue").status_code == 302
    # Other staff at that address, and this reviewer elsewhere, still sign in.
    colleague = f"cole-{uuid.uuid4().hex[:8]}"
    identity.add_user(runtime.ledger, colleague, "reviewer", PASSWORD)
    assert sign_in(elsewhere, colleague, PASSWORD).status_code == 302
    assert sign_in(app.test_client(), reviewer, PASSWORD).status_code == 302


def test_the_sign_in_counters_are_kept_as_the_api_rate_limits_are(
    elsewhere: FlaskClient, runtime: Runtime, reviewer: str
):
    # One mechanism for both (docs/decisions.md #95): the `limits` library's fixed windows
    # in Redis, each starting at its first attempt and lasting 15 minutes.
    address = elsewhere.environ_base["REMOTE_ADDR"]
    sign_in(elsewhere, reviewer, "a guess")

    key = f"LIMITS:login-attempts/address:{address}/100/15/minute"
    assert runtime.redis.get(key) == b"1"
    assert 14 * 60 < runtime.redis.ttl(key) <= 15 * 60


def test_simultaneous_guesses_get_no_more_tries_than_one_after_another(
    app: Flask, elsewhere: FlaskClient, reviewer: str
):
    address = elsewhere.environ_base["REMOTE_ADDR"]

    def guess(n: int) -> int:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return int(sign_in(client, reviewer, f"guess {n}").status_code)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = sorted(pool.map(guess, range(20)))

    assert answers == [401] * 5 + [429] * 15


def test_the_right_password_forgets_the_wrong_ones_before_it(elsewhere: FlaskClient, reviewer: str):
    for n in range(4):
        assert sign_in(elsewhere, reviewer, f"guess {n}").status_code == 401
    assert sign_in(elsewhere, reviewer, PASSWORD).status_code == 302
    elsewhere.post("/console/logout", data={"csrf_token": form_token(elsewhere)})

    again = [sign_in(elsewhere, reviewer, f"guess {n}").status_code for n in range(4)]
    assert again == [401] * 4
    assert sign_in(elsewhere, reviewer, PASSWORD).status_code == 302


def test_one_address_cannot_sweep_through_usernames(
    elsewhere: FlaskClient, reviewer: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(login_throttle, "ATTEMPTS_PER_ADDRESS", 3)
    tried = [sign_in(elsewhere, f"user{n}", "guess").status_code for n in range(3)]
    assert tried == [401] * 3
    assert sign_in(elsewhere, reviewer, PASSWORD).status_code == 429


@pytest.fixture
def behind_a_proxy(runtime: Runtime, tmp_path: Path, root_logging: None) -> Flask:
    """The app as deployed behind one reverse proxy (ADJUDICATOR_PROXY_HOPS=1)."""
    from adjudicator.web import create_app

    env = {"ADJUDICATOR_DATA_DIR": str(tmp_path), "DATABASE_URL": runtime.config.database_url}
    config = Config.from_env({**env, "ADJUDICATOR_PROXY_HOPS": "1"})
    return create_app(config, runtime=runtime)


def _via_proxy(app: Flask, client_address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"  # the proxy: every request comes from it
    client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
    return client


def test_behind_a_proxy_the_limit_counts_each_client_address(behind_a_proxy: Flask, reviewer: str):
    guesser = _via_proxy(behind_a_proxy, f"203.0.113.{uuid.uuid4().int % 250}")
    colleague = _via_proxy(behind_a_proxy, f"198.51.100.{uuid.uuid4().int % 250}")
    wrong = [sign_in(guesser, reviewer, f"guess {n}").status_code for n in range(5)]

    assert wrong == [401] * 5
    assert sign_in(guesser, reviewer, PASSWORD).status_code == 429
    assert sign_in(colleague, reviewer, PASSWORD).status_code == 302  # not locked out


def test_behind_two_proxies_the_scheme_is_the_nearest_ones_word(
    runtime: Runtime, tmp_path: Path, root_logging: None, reviewer: str
):
    from adjudicator.web import create_app

    env = {"ADJUDICATOR_DATA_DIR": str(tmp_path), "DATABASE_URL": runtime.config.database_url}
    app = create_app(Config.from_env({**env, "ADJUDICATOR_PROXY_HOPS": "2"}), runtime=runtime)
    client = _via_proxy(app, "203.0.113.8, 10.0.0.2")  # client, then the outer proxy
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"  # one value: the nearest proxy's
    assert "Secure" in client.get("/console/login").headers["Set-Cookie"]


def test_behind_a_proxy_that_terminates_tls_the_cookie_is_secure(behind_a_proxy: Flask):
    client = _via_proxy(behind_a_proxy, "203.0.113.7")
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    assert "Secure" in client.get("/console/login").headers["Set-Cookie"]


def test_a_forged_forwarded_address_gains_no_tries(
    behind_a_proxy: Flask, app: Flask, reviewer: str
):
    # Behind one proxy, only the entry it appended counts; without a proxy, none does.
    real = f"203.0.113.{uuid.uuid4().int % 250}"
    for n in range(5):
        forged = f"192.0.2.{n}, {real}"  # the client wrote the first, the proxy the second
        proxied = _via_proxy(behind_a_proxy, forged)
        assert sign_in(proxied, reviewer, f"guess {n}").status_code == 401
    assert (
        sign_in(_via_proxy(behind_a_proxy, f"192.0.2.99, {real}"), reviewer, PASSWORD).status_code
        == 429
    )

    direct = app.test_client()
    direct.environ_base["REMOTE_ADDR"] = f"10.{uuid.uuid4().int % 250}.1.1"
    for n in range(5):
        direct.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{n}"
        assert sign_in(direct, reviewer, f"guess {n}").status_code == 401
    assert sign_in(direct, reviewer, PASSWORD).status_code == 429


def test_the_proxy_hops_come_from_the_environment():
    env = {"ADJUDICATOR_DATA_DIR": "/tmp/x"}
    assert Config.from_env(env).proxy_hops == 0
    assert Config.from_env({**env, "ADJUDICATOR_PROXY_HOPS": "2"}).proxy_hops == 2
    with pytest.raises(ValueError, match="0 or more"):
        Config.from_env({**env, "ADJUDICATOR_PROXY_HOPS": "-1"})


def test_an_unknown_user_and_a_user_without_password_are_refused(
    client: FlaskClient, runtime: Runtime
):
    token_only = f"tok-{uuid.uuid4().hex[:8]}"
    identity.add_user(runtime.ledger, token_only, "admin", None)
    assert sign_in(client, token_only, "").status_code == 401
    assert sign_in(client, token_only, "anything").status_code == 401
    assert sign_in(client, "nobody-" + uuid.uuid4().hex, PASSWORD).status_code == 401


def test_pages_send_strangers_to_sign_in_and_come_back_after(client: FlaskClient, reviewer: str):
    answer = client.get("/console/enroll")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console/login?next=/console/enroll"
    back = sign_in(client, reviewer, PASSWORD, next="/console/enroll")
    assert back.headers["Location"] == "/console/enroll"


def test_sign_in_never_redirects_off_the_console(app: Flask, reviewer: str):
    for target in ("https://evil.example/", "//evil.example/x", "/v1/claims"):
        answer = sign_in(app.test_client(), reviewer, PASSWORD, next=target)
        assert answer.headers["Location"] == "/console/queue", target


@pytest.mark.parametrize(
    "target",
    [
        "/console/queue\r\nSet-Cookie: x=1",  # a CR/LF in the Location header was a 500
        "/console/claims/a\nb",
        "/console/a\x00b",
        "/console\\..\\..\\evil",
        "/\\evil.example/console",
        "/console//evil.example",
        "/consoleevil",
        "http://[::1/console",
    ],
)
def test_a_next_that_is_no_plain_console_path_is_ignored(app: Flask, reviewer: str, target: str):
    client = app.test_client()
    assert client.get("/console/login", query_string={"next": target}).status_code == 200

    answer = sign_in(client, reviewer, PASSWORD, next=target)
    again = client.get("/console/login", query_string={"next": target})  # signed in already

    assert (answer.status_code, answer.headers["Location"]) == (302, "/console/queue")
    assert (again.status_code, again.headers["Location"]) == (302, "/console/queue")


def test_a_next_with_a_query_is_kept(client: FlaskClient, reviewer: str):
    answer = sign_in(client, reviewer, PASSWORD, next="/console/search?q=RX1")
    assert answer.headers["Location"] == "/console/search?q=RX1"


@pytest.mark.parametrize("name", ["a\x00b", "rita\r\n", "\x7f"])
def test_a_username_with_a_control_character_signs_nobody_in(client: FlaskClient, name: str):
    answer = sign_in(client, name, PASSWORD)

    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text


@pytest.mark.parametrize("text", ["a\x00b", "RX1\r\n", "\x1b"])
def test_searching_for_a_control_character_finds_nothing(signed_in: FlaskClient, text: str):
    answer = signed_in.get("/console/search", query_string={"q": text})

    assert answer.status_code == 404
    assert "Nothing found for" in answer.text


def test_bearer_tokens_open_nothing_in_the_console(client: FlaskClient, runtime: Runtime):
    pharmacy_key = identity.add_pharmacy(runtime.ledger, builders.valid_npi(), "P", "accredo")[
        "api_key"
    ]
    staff_token = identity.add_user(runtime.ledger, f"t-{uuid.uuid4().hex[:6]}", "admin", None)
    for key in (pharmacy_key, staff_token["api_token"]):
        headers = {"Authorization": f"Bearer {key}"}
        for path in ("/console/", "/console/queue", "/console/members/X", "/console/search?q=x"):
            answer = client.get(path, headers=headers)
            assert answer.status_code == 302, path
            assert answer.headers["Location"].startswith("/console/login")


def test_the_console_cookie_opens_nothing_in_the_api(signed_in: FlaskClient):
    cookie = signed_in.get_cookie("adjudicator_console", path="/console")
    assert cookie is not None
    # Scoped to /console, the browser would not even send it; send it anyway.
    sent = {"Cookie": f"adjudicator_console={cookie.value}"}
    for path in ("/v1/claims?review=open", "/v1/audit", "/v1/enrollments/x"):
        answer = signed_in.get(path, headers=sent)
        assert answer.status_code == 401, path
        assert answer.mimetype == "application/problem+json"


# --- CSRF ----------------------------------------------------------------------------------


def test_posts_without_the_csrf_token_are_refused(signed_in: FlaskClient, runtime: Runtime):
    claim = under_age_claim(runtime)
    path = f"/console/claims/{claim.claim_id}/review"
    for form in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        answer = signed_in.post(path, data={"action": "approve", "note": "ok", **form})
        assert answer.status_code == 400
        assert "security token" in answer.text
    assert builders.claim_row(runtime, claim.claim_id).review_state == "open"


def test_the_login_form_needs_its_token_too(client: FlaskClient, reviewer: str):
    client.get("/console/login")
    answer = client.post("/console/login", data={"username": reviewer, "password": PASSWORD})
    assert answer.status_code == 400
    assert client.get("/console/queue").status_code == 302


def test_a_token_from_another_session_does_not_work(
    app: Flask, signed_in: FlaskClient, reviewer: str
):
    other = app.test_client()
    sign_in(other, reviewer, PASSWORD)
    stolen = form_token(other)
    answer = signed_in.post("/console/logout", data={"csrf_token": stolen})
    assert answer.status_code == 400


def test_the_token_changes_at_sign_in(client: FlaskClient, reviewer: str):
    before = token(client.get("/console/login").text)
    client.post(
        "/console/login", data={"username": reviewer, "password": PASSWORD, "csrf_token": before}
    )
    assert form_token(client) != before


# --- signing out and idling ----------------------------------------------------------------


def test_signing_out_ends_the_session_even_for_a_copied_cookie(signed_in: FlaskClient, app: Flask):
    cookie = signed_in.get_cookie("adjudicator_console", path="/console")
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie(cookie.key, cookie.value, path="/console")
    assert copy.get("/console/queue").status_code == 200

    answer = signed_in.post("/console/logout", data={"csrf_token": form_token(signed_in)})

    assert answer.status_code == 302 and answer.headers["Location"] == "/console/login"
    assert signed_in.get("/console/queue").status_code == 302
    assert copy.get("/console/queue").status_code == 302


def test_logout_is_a_post(signed_in: FlaskClient):
    assert signed_in.get("/console/logout").status_code == 405
    assert signed_in.get("/console/queue").status_code == 200


def test_an_idle_session_expires_back_to_sign_in(
    signed_in: FlaskClient, runtime: Runtime, app: Flask
):
    assert signed_in.get("/console/queue").status_code == 200
    runtime.redis.hset(_server_side_key(app, signed_in), "last_seen", "0")  # long ago

    answer = signed_in.get("/console/queue")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login")
    page = signed_in.get(answer.headers["Location"])
    assert "signed out after 30 minutes without activity" in page.text


@pytest.mark.parametrize(
    "change",
    [
        {"role": "admin", "password": PASSWORD},  # promoted or demoted
        {"role": "reviewer", "password": "a new password"},
        {"role": "reviewer", "password": None},  # re-keyed without one: disabled
    ],
)
def test_a_session_ends_when_the_users_credentials_change(
    signed_in: FlaskClient, runtime: Runtime, reviewer: str, change: dict[str, Any]
):
    assert signed_in.get("/console/queue").status_code == 200

    identity.add_user(runtime.ledger, reviewer, change["role"], change["password"])
    answer = signed_in.get("/console/queue")

    assert answer.status_code == 302
    page = signed_in.get(answer.headers["Location"])
    assert "role, password or token changed" in page.text
    assert signed_in.get("/console/queue").status_code == 302  # and it stays ended


@pytest.mark.parametrize("field", ["role", "token_hash", "password_hash"])
def test_a_change_of_any_one_credential_ends_the_session(
    signed_in: FlaskClient, runtime: Runtime, reviewer: str, field: str
):
    assert signed_in.get("/console/queue").status_code == 200
    changed = {"role": "admin", "token_hash": "0" * 64, "password_hash": "scrypt:other"}
    with runtime.engine.begin() as conn:
        user = ledger.user_by_name(conn, reviewer)
        values = {name: getattr(user, name) for name in changed}
        ledger.upsert_user(conn, reviewer, **{**values, field: changed[field]})

    assert signed_in.get("/console/queue").status_code == 302


def test_a_session_ends_hours_after_sign_in_however_active(
    signed_in: FlaskClient, runtime: Runtime, app: Flask
):
    key = _server_side_key(app, signed_in)
    runtime.redis.hset(key, "started", f"{time.time() - 12 * 3600 - 1}")

    answer = signed_in.get("/console/queue")

    assert answer.status_code == 302
    assert "12 hours after signing in" in signed_in.get(answer.headers["Location"]).text


def test_the_server_side_session_lives_only_as_long_as_the_idle_time(
    signed_in: FlaskClient, runtime: Runtime, app: Flask
):
    ttl = runtime.redis.ttl(_server_side_key(app, signed_in))
    assert 0 < ttl <= app.config["CONSOLE_IDLE_SECONDS"] == 30 * 60


def test_the_idle_time_comes_from_the_environment():
    assert console.idle_minutes({}) == 30
    assert console.idle_minutes({"ADJUDICATOR_CONSOLE_IDLE_MINUTES": "5"}) == 5
    with pytest.raises(ValueError):
        console.idle_minutes({"ADJUDICATOR_CONSOLE_IDLE_MINUTES": "soon"})
    with pytest.raises(ValueError):
        console.idle_minutes({"ADJUDICATOR_CONSOLE_IDLE_MINUTES": "0"})


# --- the secret key --------------------------------------------------------------------


def test_the_secret_key_is_made_once_and_kept_private(tmp_path: Path):
    first = secret.load_or_create(tmp_path / "data")
    second = secret.load_or_create(tmp_path / "data")
    path = tmp_path / "data" / "secret_key"
    assert first == second and len(first) >= 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_processes_racing_for_the_secret_key_agree(tmp_path: Path):
    data, seen = tmp_path / "data", tmp_path / "seen"
    seen.mkdir()
    children = []
    for number in range(8):
        pid = os.fork()
        if pid == 0:  # the child: report the key it got, then leave without pytest's cleanup
            status = 1
            try:
                (seen / str(number)).write_text(secret.load_or_create(data))
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    assert statuses == [0] * 8
    assert {path.read_text() for path in seen.iterdir()} == {secret.load_or_create(data)}
    assert sorted(p.name for p in data.iterdir()) == ["secret_key"]


def test_the_app_uses_the_configured_key_before_the_file(
    runtime: Runtime, tmp_path: Path, root_logging: None
):
    from adjudicator.web import create_app

    base = {"data_dir": tmp_path, "database_url": runtime.config.database_url, "redis_url": "x"}
    from_file = create_app(Config(**base), runtime=runtime)
    again = create_app(Config(**base), runtime=runtime)
    configured = create_app(Config(**base, secret_key="k" * 64), runtime=runtime)
    assert from_file.secret_key == again.secret_key == secret.load_or_create(tmp_path)
    assert configured.secret_key == "k" * 64


# --- pages -------------------------------------------------------------------------------


def test_the_queue_lists_open_reviews_with_age_reason_amount_and_year(
    signed_in: FlaskClient, runtime: Runtime
):
    claim = under_age_claim(runtime)
    page = signed_in.get("/console/queue").text
    row = _row_of(page, claim.claim_id)
    assert "Patient age" in row and "NCPDP 60" in row
    assert "$1,500.00" in row
    assert "2024-01-01 to 2024-12-31" in row
    assert re.search(r"<td><span [^>]*>(&lt;1 min|\d+ (min|h|d))</span></td>", row)


def test_the_queue_filters_by_rule_and_date(signed_in: FlaskClient, runtime: Runtime):
    claim = under_age_claim(runtime)
    assert claim.claim_id in signed_in.get("/console/queue?rule=patient_age").text
    assert claim.claim_id not in signed_in.get("/console/queue?rule=dose").text
    inside = "/console/queue?date_from=2024-03-01&date_to=2024-03-01"
    assert claim.claim_id in signed_in.get(inside).text
    assert claim.claim_id not in signed_in.get("/console/queue?date_from=2024-03-02").text
    bad = signed_in.get("/console/queue?date_from=2024-03-02&date_to=2024-03-01")
    assert bad.status_code == 422 and "must not be before" in bad.text


def test_the_queue_pages_through_open_reviews_oldest_first(
    signed_in: FlaskClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    day = "2024-11-17"  # no other test bills this date of service
    claims = [under_age_claim(runtime, date_of_service=day).claim_id for _ in range(3)]
    monkeypatch.setattr(console_queries, "QUEUE_PAGE", 2)
    window = f"date_from={day}&date_to={day}"

    first = signed_in.get(f"/console/queue?{window}").text
    next_link = re.search(r'href="(/console/queue\?[^"]*after=\d+[^"]*)">Next page', first)
    assert next_link, "the first page links to the next"
    second = signed_in.get(next_link.group(1).replace("&amp;", "&")).text

    assert [c in first for c in claims] == [True, True, False]
    assert [c in second for c in claims] == [False, False, True]
    assert "Later in the queue: 1 open review match the filters." in second
    assert "Next page" not in second and "The oldest" in second
    for bad in ("soon", "²", "9" * 30):
        assert signed_in.get(f"/console/queue?after={bad}").status_code == 422, bad


def test_approving_on_the_claim_page_pays_and_records_the_note(
    signed_in: FlaskClient, runtime: Runtime, reviewer: str
):
    claim = under_age_claim(runtime)
    path = f"/console/claims/{claim.claim_id}"
    page = signed_in.get(path).text
    assert 'role="meter"' in page and "Patient age: rejected." in page

    answer = signed_in.post(
        path + "/review",
        data={"csrf_token": token(page), "action": "approve", "note": "Confirmed by the MD"},
    )

    assert answer.status_code == 302 and answer.headers["Location"] == path
    after = signed_in.get(path).text
    assert "Approved: the claim is now paid, program paid $1,500.00." in after
    assert f"Review approved by {reviewer}" in after and "Confirmed by the MD" in after
    row = builders.claim_row(runtime, claim.claim_id)
    assert row.status == "paid" and row.review["by"] == reviewer


def test_the_claim_page_shows_the_door_the_claim_came_through(
    signed_in: FlaskClient, runtime: Runtime
):
    json_claim = under_age_claim(runtime)
    npi = builders.pharmacy(runtime)
    data = builders.load_claim(
        builders.claim_payload(builders.enroll(runtime)["cardholder_id"], npi)
    )
    request = records.normalized_claim_request(data)
    d0_claim = records.received_claim(uuid.uuid4().hex, data, request, channel="ncpdp")
    with runtime.ledger.writing() as uow:
        uow.claims.add(d0_claim)

    json_page = signed_in.get(f"/console/claims/{json_claim.claim_id}").text
    d0_page = signed_in.get(f"/console/claims/{d0_claim.claim_id}").text

    assert "Received through</dt><dd>JSON API</dd>" in json_page
    assert (
        "Received through</dt><dd>NCPDP D.0 (a pharmacy system, through a switch)</dd>" in d0_page
    )


def test_a_blank_note_is_an_inline_error_and_changes_nothing(
    signed_in: FlaskClient, runtime: Runtime
):
    claim = under_age_claim(runtime)
    path = f"/console/claims/{claim.claim_id}"
    csrf = form_token(signed_in, path)
    answer = signed_in.post(
        path + "/review", data={"csrf_token": csrf, "action": "deny", "note": "  "}
    )
    assert answer.status_code == 422
    assert 'id="note-error"' in answer.text and "Must not be blank." in answer.text
    assert builders.claim_row(runtime, claim.claim_id).review_state == "open"


def test_a_note_typed_on_several_lines_is_kept_as_one_paragraph(
    signed_in: FlaskClient, runtime: Runtime
):
    claim = under_age_claim(runtime)
    path = f"/console/claims/{claim.claim_id}"
    note = "Called the prescriber.\r\n\r\n  Dose confirmed.\n"
    data = {"csrf_token": form_token(signed_in, path), "action": "deny", "note": note}

    assert signed_in.post(path + "/review", data=data).status_code == 302
    row = builders.claim_row(runtime, claim.claim_id)
    assert row.review["note"] == "Called the prescriber. Dose confirmed."


def test_reviewing_a_closed_review_says_why(signed_in: FlaskClient, runtime: Runtime):
    claim = under_age_claim(runtime)
    path = f"/console/claims/{claim.claim_id}"
    csrf = form_token(signed_in, path)
    data = {"csrf_token": csrf, "action": "deny", "note": "no"}
    assert signed_in.post(path + "/review", data=data).status_code == 302
    again = signed_in.post(path + "/review", data=data)
    assert again.status_code == 409 and "cannot be reviewed now" in again.text


def test_the_member_page_shows_every_year_with_a_meter_and_the_claims(
    signed_in: FlaskClient, runtime: Runtime
):
    member = builders.enroll(runtime)
    builders.enroll(runtime, cardholder_id=member["cardholder_id"], effective_date="2025-01-01")
    paid = builders.pay(
        runtime, builders.claim_payload(member["cardholder_id"], builders.pharmacy(runtime))
    )
    page = signed_in.get(f"/console/members/{member['cardholder_id']}").text
    assert page.count('role="meter"') == 2
    assert page.index("2025-01-01 to 2025-12-31") < page.index("2024-01-01 to 2024-12-31")
    assert "$1,500.00 used, $10,500.00 remaining" in _text(page)
    assert paid.claim_id in page


def test_enrolling_shows_field_errors_next_to_fields(signed_in: FlaskClient):
    csrf = form_token(signed_in, "/console/enroll")
    answer = signed_in.post(
        "/console/enroll",
        data={
            "csrf_token": csrf,
            "patient.first_name": "Ada",
            "patient.address.zip": "nope",
            "patient.address.country": "US",
            "weight_kg": "heavy",
        },
    )
    assert answer.status_code == 422
    errors = _field_errors(answer.text)
    assert errors["f-patient-last_name"] == "This field is required."
    assert errors["f-effective_date"] == "This field is required."
    assert errors["f-coverage-type"] == "This field is required."
    assert "weight" in errors["f-weight_kg"].lower() or "decimal" in errors["f-weight_kg"].lower()
    assert 'value="Ada"' in answer.text


def test_enrolling_creates_the_member_and_editing_recomputes_the_status(
    signed_in: FlaskClient,
):
    csrf = form_token(signed_in, "/console/enroll")
    form = {
        "csrf_token": csrf,
        "patient.first_name": "Olive",
        "patient.last_name": "Example",
        "patient.date_of_birth": "2015-04-02",
        "patient.address.line1": "1 Main St",
        "patient.address.city": "Boston",
        "patient.address.state": "ma",
        "patient.address.zip": "02139",
        "patient.address.country": "US",
        "coverage.type": "commercial",
        "coverage.covers_product": "on",
        "effective_date": "2024-01-01",
    }
    answer = signed_in.post("/console/enroll", data=form)
    assert answer.status_code == 302
    member_path = answer.headers["Location"]
    page = signed_in.get(member_path).text
    assert "Enrolled for 2024-01-01 to 2024-12-31: active." in page
    edit_path = re.search(r'href="(/console/enrollments/[^"]+/edit)"', page).group(1)

    edit_page = signed_in.get(edit_path).text
    assert 'value="1 Main St"' in edit_page and "checked" in edit_page
    change = {k: v for k, v in form.items() if k.startswith(("patient.address", "coverage"))}
    change |= {"csrf_token": token(edit_page), "attestations.other_assistance": "on"}
    saved = signed_in.post(edit_path, data=change)
    assert saved.status_code == 302
    page = signed_in.get(member_path).text
    assert "is ineligible" in page and "Other assistance:" in page


def test_enrolling_an_overlapping_year_is_a_form_error(signed_in: FlaskClient, runtime: Runtime):
    member = builders.enroll(runtime)
    csrf = form_token(signed_in, "/console/enroll")
    payload = builders.enrollment_payload()
    form = {
        "csrf_token": csrf,
        "cardholder_id": member["cardholder_id"],
        "effective_date": "2024-06-01",
        "coverage.type": "commercial",
        **{f"patient.{k}": v for k, v in payload["patient"].items() if k != "address"},
        **{f"patient.address.{k}": v for k, v in payload["patient"]["address"].items()},
    }
    answer = signed_in.post("/console/enroll", data=form)
    assert answer.status_code == 422 and "overlaps" in answer.text


def test_search_goes_to_the_claim_the_member_or_the_rx_listing(
    signed_in: FlaskClient, runtime: Runtime
):
    claim = under_age_claim(runtime)
    by_claim = signed_in.get(f"/console/search?q={claim.claim_id}")
    assert by_claim.headers["Location"] == f"/console/claims/{claim.claim_id}"
    by_member = signed_in.get(f"/console/search?q={claim.cardholder_id}")
    assert by_member.headers["Location"] == f"/console/members/{claim.cardholder_id}"
    by_rx = signed_in.get(f"/console/search?q={claim.rx_number.lower()}")
    assert by_rx.headers["Location"] == f"/console/claims/{claim.claim_id}"
    assert signed_in.get("/console/search?q=nothing-like-this").status_code == 404


def test_every_page_labels_its_inputs_and_has_landmarks(signed_in: FlaskClient, runtime: Runtime):
    claim = under_age_claim(runtime)
    enrollment_id = builders.claim_row(runtime, claim.claim_id).enrollment_id
    for path in (
        "/console/queue",
        f"/console/claims/{claim.claim_id}",
        f"/console/members/{claim.cardholder_id}",
        "/console/enroll",
        f"/console/enrollments/{enrollment_id}/edit",
        "/console/search?q=x",
        "/console/program",
        "/console/program?year=2024",
    ):
        page = _Page.parse(signed_in.get(path).text)
        assert not page.unlabelled(), (path, page.unlabelled())
        assert {"header", "nav", "main"} <= page.tags, path
        assert 'role="search"' in signed_in.get(path).text


def test_pages_forbid_framing_scripts_and_caching(signed_in: FlaskClient):
    answer = signed_in.get("/console/queue")
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Frame-Options"] == "DENY"
    css = signed_in.get("/console/static/console.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_console_pages_log_no_phi(signed_in: FlaskClient, runtime: Runtime):
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(logging.getLogger().handlers[0].format(record))
    logging.getLogger().addHandler(handler)
    try:
        claim = under_age_claim(runtime)
        path = f"/console/claims/{claim.claim_id}"
        csrf = form_token(signed_in, path)
        signed_in.post(
            path + "/review", data={"csrf_token": csrf, "action": "approve", "note": "x"}
        )
        signed_in.get(f"/console/members/{claim.cardholder_id}")
        signed_in.get(f"/console/search?q={claim.cardholder_id}")
    finally:
        logging.getLogger().removeHandler(handler)
    text = "\n".join(lines)
    assert claim.claim_id in text  # claim ids are fine, and prove something was logged
    for phi in (claim.cardholder_id, "Olive", "Example", TODDLER_BIRTH, "1 Main St"):
        assert phi not in text


# --- helpers ---------------------------------------------------------------------------------


def _server_side_key(app: Flask, client: FlaskClient) -> str:
    """The Redis key of this client's session (never touch other runs' sessions)."""
    cookie = client.get_cookie("adjudicator_console", path="/console")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]  # Flask's own interface
    return session_key(serializer.loads(cookie.value)["sid"])


def _text(page: str) -> str:
    """The page's words: tags dropped, whitespace squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split()).replace(" ,", ",")


def _row_of(page: str, claim_id: str) -> str:
    rows = re.findall(r"<tr>.*?</tr>", page, re.S)
    return next(row for row in rows if claim_id in row)


def _field_errors(page: str) -> dict[str, str]:
    found = re.findall(
        r'<p class="field-error" id="([^"]+)-error"><span class="visually-hidden">Error: </span>'
        r"([^<]*)</p>",
        page,
    )
    return dict(found)


class _Page(HTMLParser):
    """Which inputs have no label, and which landmark tags a page has."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()

    @classmethod
    def parse(cls, html: str) -> _Page:
        page = cls()
        page.feed(html)
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        attributes = dict(attrs)
        if tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.inputs.append(attributes)

    def unlabelled(self) -> list[str | None]:
        return [
            i.get("name")
            for i in self.inputs
            if i.get("id") not in self.label_for and not i.get("aria-label")
        ]
