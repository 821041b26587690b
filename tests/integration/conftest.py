"""Fixtures of the integration tests beyond tests/conftest.py's: a ledger of one test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adjudicator.config import Config
from adjudicator.services.runtime import Runtime
from adjudicator.wiring import build_runtime
from tests.ledgers import forget_accumulators, fresh_ledger


@pytest.fixture
def queued() -> list[str]:
    """Job ids sent to the `batch` queue (the tests run the jobs in-process)."""
    return []


@pytest.fixture(name="private_ledger_url")
def private_ledger_url_fixture(tmp_path: Path) -> Iterator[str]:
    """A freshly migrated ledger for one test."""
    with fresh_ledger(tmp_path, "readj") as url:
        yield url


@pytest.fixture(name="rt")
def rt_fixture(
    private_ledger_url: str, redis_url: str, tmp_path: Path, queued: list[str]
) -> Iterator[Runtime]:
    """A Runtime on the private ledger; enqueued claims are ignored (tests adjudicate inline)
    and jobs sent to the batch queue are listed in `queued`."""
    config = Config(data_dir=tmp_path, database_url=private_ledger_url, redis_url=redis_url)
    runtime = build_runtime(config, enqueue=lambda claim_id: None, send_job=queued.append)
    try:
        yield runtime
    finally:
        forget_accumulators(runtime)
        runtime.close()
