"""Fresh, migrated ledgers for tests: a SQLite file, or a PostgreSQL schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select, text

from adjudicator.adapters.accumulator import accumulator_key
from adjudicator.adapters.db import make_engine
from adjudicator.adapters.tables import members
from adjudicator.config import Config, normalize_database_url
from adjudicator.services.runtime import Runtime
from adjudicator.services.setup import migrate


@contextmanager
def fresh_ledger(data_dir: Path, name: str) -> Iterator[str]:
    """The URL of a new ledger: SQLite under `data_dir`, or on TEST_DATABASE_URL a schema
    of its own (dropped afterwards), so runs sharing one PostgreSQL never collide."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        url = f"sqlite:///{data_dir / f'{name}.db'}"
        migrate(Config(data_dir=data_dir, database_url=url, redis_url=None))
        yield url
        return
    server_url = normalize_database_url(server)
    schema = f"{name}_{uuid.uuid4().hex[:12]}"
    _execute(server_url, f"CREATE SCHEMA {schema}")
    url = f"{server_url}{'&' if '?' in server_url else '?'}options=-csearch_path%3D{schema}"
    try:
        migrate(Config(data_dir=data_dir, database_url=url, redis_url=None))
        yield url
    finally:
        _execute(server_url, f"DROP SCHEMA {schema} CASCADE")


def _execute(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def forget_accumulators(runtime: Runtime) -> None:
    """Drop the Redis accumulators of the members of a ledger that is going away (its
    Redis may be shared with other tests and later runs)."""
    with runtime.engine.connect() as conn:
        cardholders = list(conn.execute(select(members.c.cardholder_id)).scalars())
    for cardholder_id in cardholders:
        runtime.redis.delete(accumulator_key(cardholder_id))
