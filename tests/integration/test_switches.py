"""Switch credentials: `sk_` keys, the CLI that makes them, and what they may not do."""

from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services import identity
from adjudicator.services.identity import Principal
from adjudicator.services.runtime import Runtime
from tests.integration.builders import one_json_object, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh_cache():
    identity.forget_credentials()
    yield
    identity.forget_credentials()


def _name() -> str:
    return f"switch-{uuid.uuid4().hex[:8]}"


def test_a_switch_key_authenticates_as_its_switch(runtime: Runtime):
    name = _name()
    added = identity.add_switch(runtime.ledger, name)

    assert added["api_key"].startswith("sk_")
    principal = identity.authenticate(runtime.ledger, added["api_key"])
    assert principal == Principal("switch", name, None)
    assert principal.actor == f"switch:{name}"
    assert identity.authenticate(runtime.ledger, added["api_key"] + "x") is None
    assert identity.switch_named(runtime.ledger, name)
    assert not identity.switch_named(runtime.ledger, name + "-other")


def test_adding_a_switch_again_replaces_its_key(runtime: Runtime):
    name = _name()
    old = identity.add_switch(runtime.ledger, name)["api_key"]
    new = identity.add_switch(runtime.ledger, name)["api_key"]

    assert identity.authenticate(runtime.ledger, old) is None
    assert identity.authenticate(runtime.ledger, new) == Principal("switch", name)


def test_a_switch_key_is_not_a_pharmacy_key_or_a_token(runtime: Runtime):
    """The prefix says where to look: a switch's key with another prefix finds nothing."""
    added = identity.add_switch(runtime.ledger, _name(), api_key="sk_" + uuid.uuid4().hex)
    disguised = "pk_" + added["api_key"][3:]
    assert identity.authenticate(runtime.ledger, disguised) is None


@pytest.mark.parametrize("name", ["", " lead", "trail ", "a\x00b", "x" * 101])
def test_a_switch_name_must_be_plain(runtime: Runtime, name: str):
    with pytest.raises(ValueError):
        identity.add_switch(runtime.ledger, name)


def test_pharmacy_and_staff_principals_keep_their_actors():
    assert Principal("pharmacy", "1234567893", "1234567893").actor == "pharmacy:1234567893"
    assert Principal("admin", "ann").actor == "user:ann"
    assert Principal("reviewer", "rob").actor == "user:rob"


def test_switches_add_prints_the_switch_and_a_key_that_authenticates(
    runtime: Runtime, redis_url: str, tmp_path
):
    name = _name()

    done = run_cli(runtime, redis_url, tmp_path, "switches", "add", "--name", name)

    assert done.returncode == 0, done.stderr
    printed = one_json_object(done.stdout)
    assert set(printed) == {"name", "api_key"} and printed["name"] == name
    assert identity.authenticate(runtime.ledger, printed["api_key"]) == Principal("switch", name)
    with reading(runtime.engine) as conn:
        stored = ledger.switch_by_name(conn, name)
    assert stored.api_key_hash == identity.token_hash(printed["api_key"])
    assert printed["api_key"] not in stored  # only the hash is kept


def test_switches_add_refuses_a_name_with_surrounding_spaces(
    runtime: Runtime, redis_url: str, tmp_path
):
    done = run_cli(runtime, redis_url, tmp_path, "switches", "add", "--name", " x ")
    assert done.returncode == 2 and done.stdout == ""
    assert "name" in done.stderr


def _v1_operations(app: Flask) -> list[tuple[str, str]]:
    """Every /v1 route and method, its path variables filled with a made-up id."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = re.sub(r"<[^>]+>", "x" + uuid.uuid4().hex[:8], rule.rule)
        found.extend((method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return found


def test_a_switch_gets_403_on_every_v1_endpoint(runtime: Runtime, web_app: Flask):
    key = identity.add_switch(runtime.ledger, _name())["api_key"]
    client: FlaskClient = web_app.test_client()
    operations = _v1_operations(web_app)
    assert len(operations) >= 15  # the walk sees the API

    answers = {
        (method, path): client.open(
            path, method=method, json={}, headers={"Authorization": f"Bearer {key}"}
        ).status_code
        for method, path in operations
    }

    assert {op: status for op, status in answers.items() if status != 403} == {}


def test_a_switch_key_does_not_open_the_console(runtime: Runtime, web: FlaskClient):
    """The console reads only its own signed-in session, never a bearer token."""
    key = identity.add_switch(runtime.ledger, _name())["api_key"]

    answer = web.get("/console/queue", headers={"Authorization": f"Bearer {key}"})

    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]
