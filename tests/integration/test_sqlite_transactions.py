"""SQLite: a writer takes the lock up front (BEGIN IMMEDIATE); reading() does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from adjudicator.adapters.db import make_engine, reading

pytestmark = pytest.mark.integration


@pytest.fixture
def traced(tmp_path) -> Iterator[tuple[Engine, list[str]]]:  # type: ignore[no-untyped-def]  # tmp_path: a fixture
    """A SQLite engine of one pooled connection, and every statement SQLite was given."""
    statements: list[str] = []
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}", pool_size=1)

    @event.listens_for(engine, "connect")
    def _trace(dbapi_connection, _record):  # type: ignore[no-untyped-def]  # DBAPI objects
        dbapi_connection.set_trace_callback(statements.append)

    try:
        yield engine, statements
    finally:
        engine.dispose()


def _begins(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("BEGIN")]


def test_a_write_transaction_begins_immediate(traced):
    engine, statements = traced
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert _begins(statements) == ["BEGIN IMMEDIATE"]


def test_a_reading_connection_begins_deferred(traced):
    engine, statements = traced
    with reading(engine) as conn:
        conn.exec_driver_sql("SELECT 1")
    assert _begins(statements) == ["BEGIN DEFERRED"]


def test_the_read_only_mark_does_not_outlive_the_checkout(traced):
    engine, statements = traced
    with reading(engine):
        pass  # returned unused: the mark must still go
    with pytest.raises(ZeroDivisionError), reading(engine) as conn:
        conn.exec_driver_sql("SELECT 1")
        1 / 0  # noqa: B018  # a reader that fails half way
    with engine.begin() as conn:  # the same pooled connection, now to write
        conn.exec_driver_sql("SELECT 1")
    assert _begins(statements) == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]


def test_a_writer_shuts_out_other_writers_but_not_readers(traced, tmp_path):
    engine, _ = traced
    other = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}", pool_size=1)
    try:
        with other.connect() as conn:  # its one pooled connection: fail at once, not wait
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")
        with engine.begin():  # BEGIN IMMEDIATE: the write lock from the start
            with reading(other) as reader:
                assert reader.exec_driver_sql("SELECT 1").scalar() == 1
            with pytest.raises(OperationalError, match="locked"), other.begin():
                pass
    finally:
        other.dispose()
