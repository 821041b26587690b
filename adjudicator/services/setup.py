"""Bring a ledger up to date: migrations, then the bundled terms versions."""

from __future__ import annotations

from adjudicator.adapters.db import upgrade
from adjudicator.adapters.sql_ledger import SqlLedger
from adjudicator.config import Config
from adjudicator.services.terms import seed_bundled


def migrate(config: Config) -> None:
    ledger = SqlLedger.from_url(config.database_url)
    try:
        upgrade(ledger.engine)
        seed_bundled(ledger)
    finally:
        ledger.dispose()
