"""Shared fixtures: real SQL (SQLite or TEST_DATABASE_URL), real Redis (embedded or REDIS_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from adjudicator.adapters.db import make_engine
from adjudicator.config import Config, normalize_database_url
from adjudicator.services.runtime import Runtime, build_runtime
from adjudicator.services.setup import migrate

pytest_plugins = ["tests.integration.redis_fixtures"]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """A freshly migrated ledger for this test session."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{data_dir / 'test.db'}"
        migrate(_config(url, None, data_dir))
        yield url
        return
    # A schema of its own per session: runs sharing one PostgreSQL never collide.
    server_url = normalize_database_url(url)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    _execute(server_url, f"CREATE SCHEMA {schema}")
    session_url = f"{server_url}{'&' if '?' in server_url else '?'}options=-csearch_path%3D{schema}"
    try:
        migrate(_config(session_url, None, data_dir))
        yield session_url
    finally:
        _execute(server_url, f"DROP SCHEMA {schema} CASCADE")


def _execute(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
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
