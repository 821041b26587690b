"""External PostgreSQL / Redis for `--database-url` / `--redis-url`, isolated per run.

- PostgreSQL: a schema of its own (`bench_<random>`, reached through the URL's
  search_path option, as the test suite does), dropped afterwards, so runs sharing
  one server never see each other's ledger.
- Redis: the database must be empty when the bench starts (the accumulator check
  compares every cardholder it finds there with the ledger); the bench flushes it
  afterwards, since everything in it is then its own.
"""

from __future__ import annotations

import uuid

from bench.procs import BenchError


class PostgresSchema:
    def __init__(self, url: str) -> None:
        from adjudicator.config import normalize_database_url

        self.server_url = normalize_database_url(url)
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        separator = "&" if "?" in self.server_url else "?"
        self.url = f"{self.server_url}{separator}options=-csearch_path%3D{self.schema}"
        self._execute(f"CREATE SCHEMA {self.schema}")
        self._dropped = False

    def stop(self) -> None:
        if not self._dropped:
            self._execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            self._dropped = True

    def _execute(self, statement: str) -> None:
        from sqlalchemy import text

        from adjudicator.adapters.db import make_engine

        engine = make_engine(self.server_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement))
        except Exception as error:  # a bad URL or a server that is down: say so plainly
            raise BenchError(f"PostgreSQL {self.server_url}: {error}") from error
        finally:
            engine.dispose()


class RedisDatabase:
    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url)
        try:
            keys = self.client.dbsize()
        except redis.RedisError as error:
            raise BenchError(f"Redis {url}: {error}") from error
        if keys:
            raise BenchError(
                f"Redis {url} holds {keys} keys; give the bench an unused database "
                "(e.g. redis://127.0.0.1:6379/13): it flushes that database afterwards"
            )

    def stop(self) -> None:
        self.client.flushdb()
        self.client.close()


def database_url(url: str | None) -> tuple[str | None, PostgresSchema | None]:
    """The URL the service should use, and the schema to drop afterwards (PostgreSQL)."""
    if url and url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        schema = PostgresSchema(url)
        return schema.url, schema
    return url, None
