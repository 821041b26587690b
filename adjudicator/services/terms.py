"""Terms versions from the ledger, parsed once per process and version."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine

from adjudicator.adapters import ledger
from adjudicator.domain.terms import Terms, bundled_terms, terms_in_force

_parsed: dict[str, Terms] = {}


def all_versions(conn: Connection) -> tuple[Terms, ...]:
    return tuple(_parse(doc) for doc in ledger.terms_documents(conn))


def in_force(conn: Connection, on: date) -> Terms:
    return terms_in_force(all_versions(conn), on)


def _parse(doc: dict[str, Any]) -> Terms:
    version = doc["version"]
    if version not in _parsed:
        _parsed[version] = Terms.from_document(doc)
    return _parsed[version]


def seed_bundled(engine: Engine) -> None:
    """Store the terms documents shipped with the code (2020-01 first), once each."""
    with engine.begin() as conn:
        for terms in bundled_terms():
            if not ledger.terms_version_exists(conn, terms.version):
                ledger.insert_terms(conn, terms.version, terms.effective_date, terms.to_document())
