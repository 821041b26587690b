"""Shared fixtures: real SQL (SQLite or TEST_DATABASE_URL), real Redis (embedded or REDIS_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from adjudicator.config import Config
from adjudicator.services.runtime import Runtime
from adjudicator.wiring import build_runtime
from tasks.celery_app import make_celery
from tests.ledgers import fresh_ledger

pytest_plugins = ["tests.integration.redis_fixtures", "tests.integration.web_fixtures"]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """A freshly migrated ledger for this test session."""
    with fresh_ledger(data_dir, "test") as url:
        yield url


def _config(database_url: str, redis_url: str | None, data_dir: Path) -> Config:
    return Config(data_dir=data_dir, database_url=database_url, redis_url=redis_url)


@pytest.fixture
def enqueued() -> list[str]:
    """Claim ids the services asked to enqueue (integration tests run the task inline)."""
    return []


@pytest.fixture
def runtime(
    database_url: str,
    redis_url: str,
    data_dir: Path,
    enqueued: list[str],
) -> Iterator[Runtime]:
    rt = build_runtime(_config(database_url, redis_url, data_dir), enqueue=enqueued.append)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def celery_app(runtime: Runtime) -> Iterator[Celery]:
    """The Celery app of `runtime`'s config, as web and worker build it."""
    app = make_celery(runtime.config)
    try:
        yield app
    finally:
        app.close()
