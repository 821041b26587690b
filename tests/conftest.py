"""Shared fixtures: real SQL (SQLite or TEST_DATABASE_URL), real Redis (embedded or REDIS_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from adjudicator.adapters.db import make_engine
from adjudicator.adapters.tables import metadata
from adjudicator.config import Config, normalize_database_url
from adjudicator.services.runtime import Runtime, build_runtime
from adjudicator.services.setup import migrate

pytest_plugins = ["tests.integration.redis_fixtures"]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> str:
    """A freshly migrated ledger for this test session."""
    url = os.environ.get("TEST_DATABASE_URL")
    url = normalize_database_url(url) if url else f"sqlite:///{data_dir / 'test.db'}"
    _reset(url)
    migrate(_config(url, None, data_dir))
    return url


def _reset(url: str) -> None:
    """Start from an empty schema (the PostgreSQL test database outlives a run)."""
    engine = make_engine(url)
    try:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


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
