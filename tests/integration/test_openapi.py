"""/openapi.json as outside tools use it: every `pattern` is ECMA-262, and schemathesis,
fuzzing every operation in-process as a pharmacy, a switch and an admin, finds nothing wrong.

The pass is short and reproducible: a fixed number of examples per operation and mode,
derandomized, no example database. What it checks (schemathesis's checks, all but one):
no 5xx; every answer has a documented status, media type, headers and body schema; data
that breaks the document is refused (negative_data_rejection); a wrong method is 405.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from adjudicator.config import Config, Rate
from adjudicator.services import identity, readjudication
from adjudicator.services.runtime import Runtime
from adjudicator.web import create_app
from adjudicator.wiring import build_runtime
from tasks.claims import decide_and_announce
from tests.integration.builders import valid_npi
from tests.ledgers import forget_accumulators, fresh_ledger
from tests.openapi_patterns import ecma_262_error, patterns

pytestmark = pytest.mark.integration

SEED = 20261206
EXAMPLES = 15  # per operation and generation mode: about 10 s a role on this 2-core machine

SCHEMATHESIS = {
    "seed": SEED,
    # NUL and every other control character are generated too: a text field refuses them
    # (422) and an id holding one matches no route (404), on PostgreSQL as on SQLite.
    "generation": {"allow-x00": True},
    "checks": {
        # "Data the document allows is accepted" cannot hold: the document cannot say an
        # NPI's check digit, "not in the future", a cursor this API issued, or that drug
        # lines need a quantity. The reverse, invalid data refused, is checked.
        "positive_data_acceptance": {"enabled": False},
    },
}


@pytest.fixture
def fuzzed(tmp_path: Path, redis_url: str) -> Iterator[tuple[Runtime, list[str]]]:
    """(a runtime on a ledger of its own, what went wrong on the worker's side).

    Its own ledger, since the fuzzer enrolls members and posts terms versions, which would
    decide other tests' claims. Claims are decided and jobs run in-process when queued, as
    the worker would, so answers are the real decisions and job views; a worker-side
    failure is recorded (the API would still have answered 202), and the test fails on it.
    """
    trouble: list[str] = []
    with fresh_ledger(tmp_path, "fuzz") as url:
        unlimited = Rate(10_000, 10_000)  # the fuzzer checks the document, not rate limits
        config = Config(
            data_dir=tmp_path,
            database_url=url,
            redis_url=redis_url,
            sync_timeout=1,
            rate_pharmacy=unlimited,
            rate_staff=unlimited,
        )
        rt = build_runtime(
            config,
            enqueue=lambda claim_id: _decide(rt, claim_id, trouble),
            send_job=lambda job_id: _run_job(rt, job_id, trouble),
        )
        try:
            yield rt, trouble
        finally:
            forget_accumulators(rt)
            rt.close()


def _decide(rt: Runtime, claim_id: str, trouble: list[str]) -> None:
    try:
        decide_and_announce(rt, claim_id)
    except Exception as error:
        trouble.append(f"adjudicating {claim_id}: {error!r}")


@pytest.fixture
def app(fuzzed: tuple[Runtime, list[str]]) -> Iterator[Flask]:
    rt, trouble = fuzzed
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # create_app() configures logging
    try:
        yield create_app(rt.config, runtime=rt)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _run_job(rt: Runtime, job_id: str, trouble: list[str]) -> None:
    outcome = readjudication.run(rt, job_id).status
    if outcome != "succeeded":
        trouble.append(f"re-adjudication job {job_id}: {outcome}")


def test_every_pattern_in_the_document_is_an_ecma_262_regular_expression(app: Flask) -> None:
    document = app.test_client().get("/openapi.json").json

    found = list(patterns(document))

    assert found  # the walk sees them (the review note's, at least)
    assert [(where, p, ecma_262_error(p)) for where, p in found if ecma_262_error(p)] == []


def _bearer(rt: Runtime, role: str) -> str:
    if role == "pharmacy":
        pharmacy = identity.add_pharmacy(rt.ledger, valid_npi(), "Fuzzing Pharmacy", "accredo")
        return pharmacy["api_key"]
    if role == "switch":
        return identity.add_switch(rt.ledger, f"fuzz-{uuid.uuid4().hex[:8]}")["api_key"]
    username = f"fuzz-{uuid.uuid4().hex[:8]}"
    return identity.add_user(rt.ledger, username, role, None)["api_token"]


@pytest.mark.parametrize("role", ["pharmacy", "switch", "admin"])
def test_schemathesis_finds_nothing_wrong(
    role: str, app: Flask, fuzzed: tuple[Runtime, list[str]]
) -> None:
    rt, trouble = fuzzed
    config = schemathesis.Config.from_dict(
        {**SCHEMATHESIS, "headers": {"Authorization": f"Bearer {_bearer(rt, role)}"}}
    )
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    found: list[str] = []

    for result in schema.get_all_operations():
        operation = result.ok()  # an operation schemathesis cannot read raises here
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            found.extend(_fuzz(operation, mode))

    assert found == [], "\n\n".join(found)
    assert trouble == []


def _fuzz(operation: Any, mode: schemathesis.GenerationMode) -> list[str]:
    """Failures schemathesis found in one operation, in one generation mode."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same examples on every run
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),  # slow, filtered data is expected here
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate()

    try:
        call()
    except hypothesis.errors.Unsatisfiable:
        return []  # nothing to break in this mode (e.g. no parameters: no negative data)
    except (Exception, schemathesis.errors.FailureGroup) as failure:  # failed checks, or
        return [f"{operation.label} ({mode.value}): {failure}"]  # a document it cannot use
    return []
