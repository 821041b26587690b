"""Bring a ledger up to date: migrations, then the bundled terms versions."""

from __future__ import annotations

from adjudicator.adapters.db import make_engine, upgrade
from adjudicator.config import Config
from adjudicator.services.terms import seed_bundled


def migrate(config: Config) -> None:
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        seed_bundled(engine)
    finally:
        engine.dispose()
