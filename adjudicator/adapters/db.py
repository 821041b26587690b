"""Engine creation and migrations for the SQL ledger (SQLite file or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import QueuePool

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "adjudicator_read_only"  # execution option: this connection only reads


def reading(engine: Engine) -> Connection:
    """A connection that only reads: on SQLite it does not take the write lock."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool_size)
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Pooled: opening a connection (and its PRAGMAs) costs more than most queries.
    # Engines are built after fork (gunicorn workers, Celery children), never before.
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=20,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite defers it badly).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction
        # never fails half way with "database is locked"; pure reads opt out.
        mode = "DEFERRED" if conn.get_execution_options().get(READ_ONLY) else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration (idempotent)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
