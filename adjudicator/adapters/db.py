"""Engine creation and migrations for the SQL ledger (SQLite file or PostgreSQL)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import QueuePool

MIGRATIONS = Path(__file__).parent / "migrations"
_READ_ONLY = "adjudicator_read_only"  # marks a pooled SQLite connection checked out to read


def reading(engine: Engine, **options: Any) -> Connection:
    """A connection that only reads: on SQLite it does not take the write lock."""
    conn = engine.connect()
    if options:
        conn = conn.execution_options(**options)
    if engine.dialect.name == "sqlite":
        conn.connection.info[_READ_ONLY] = True  # seen by _begin, dropped at check-in
    return conn


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool_size)
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds PHI
    # Pooled: opening a connection (and its PRAGMAs) costs more than most queries.
    # Engines are built after fork (gunicorn workers, Celery children), never before.
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=20,
        connect_args={"timeout": 30, "check_same_thread": False},
    )
    # Our BEGIN replaces the dialect's (a no-op for pysqlite), rather than a "begin"
    # event listener: any engine-level listener makes SQLAlchemy dispatch events around
    # every statement, which cost more than the claim path's SQLite queries themselves.
    engine.dialect.do_begin = _begin  # type: ignore[method-assign, assignment]  # our BEGIN, see above

    # Pool events (connect, checkin) are dispatched per connection, not per statement.
    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]  # DBAPI objects
        # Let _begin issue BEGIN itself (pysqlite defers it badly).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "checkin")
    def _forget_read_only(_dbapi_connection, record):  # type: ignore[no-untyped-def]  # DBAPI objects
        record.info.pop(_READ_ONLY, None)

    return engine


# How often a writer tries SQLite's write lock again while another holds it.
WRITE_LOCK_POLL_SECONDS = 0.001
WRITE_LOCK_WAIT_SECONDS = 30.0  # as busy_timeout: then "database is locked"


def _begin(connection: Any) -> None:
    """IMMEDIATE takes the write lock up front, so a read-then-write transaction never
    fails half way with "database is locked"; connections from reading() opt out.

    The lock is tried every millisecond, every writer alike, rather than by SQLite's busy
    handler, which sleeps up to 100 ms between tries while a writer that has just arrived
    tries at once: under a flood of asynchronous claims the web's newcomers took the lock
    again and again while a worker's decision slept (1.2 s seen; docs/decisions.md #94)."""
    driver = connection.driver_connection
    if connection.info.get(_READ_ONLY):
        driver.execute("BEGIN DEFERRED")
        return
    driver.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + WRITE_LOCK_WAIT_SECONDS
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(WRITE_LOCK_POLL_SECONDS)
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(WRITE_LOCK_WAIT_SECONDS * 1000)}")


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration (idempotent)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
