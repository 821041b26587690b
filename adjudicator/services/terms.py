"""Terms versions from the ledger, parsed once per process and version."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from adjudicator.domain import terms as domain_terms
from adjudicator.domain.terms import (
    Routing,
    Terms,
    bundled_terms,
    terms_for_claim,
    terms_in_force,
)
from adjudicator.services.errors import Conflict, Invalid, NotFound
from adjudicator.services.unit_of_work import Ledger, UnitOfWork

_parsed: dict[str, Terms] = {}
_latest: tuple[object, tuple[Terms, ...]] = (None, ())  # (generation, versions) last read


def all_versions(uow: UnitOfWork) -> tuple[Terms, ...]:
    return tuple(_parse(doc) for doc in uow.terms.documents())


def in_force(uow: UnitOfWork, on: date) -> Terms:
    return terms_in_force(all_versions(uow), on)


def for_claim(uow: UnitOfWork, on: date) -> Terms:
    """The version a claim of date of service `on` is decided under (the first one before
    every version)."""
    return terms_for_claim(all_versions(uow), on)


def routing_on(uow: UnitOfWork, day: date | None) -> Routing:
    """The routing of the terms version in force on `day`; the earliest version's when
    `day` is None (unreadable) or before every version (NCPDP.md, Routing). Reads the
    versions' generation, and the documents only when it changed (the D.0 door asks for
    every transmission)."""
    return domain_terms.routing_on(_versions_at(uow, uow.terms.generation()), day)


def for_claim_at_generation(uow: UnitOfWork, on: date, generation: object) -> Terms:
    """The terms for a claim of date of service `on` (domain.terms_for_claim), reading
    the documents only when `generation` changed since the last read (the caller read it
    with its own query)."""
    return terms_for_claim(_versions_at(uow, generation), on)


def _versions_at(uow: UnitOfWork, generation: object) -> tuple[Terms, ...]:
    """Every version, read again only when `generation` differs from the last read's.
    Versions are only ever added, so the count of versions and the latest `created_at`
    tell when there is a new one."""
    global _latest
    seen, versions = _latest
    if generation != seen:
        versions = all_versions(uow)
        _latest = (generation, versions)  # one assignment: safe across threads
    return versions


def _parse(doc: dict[str, Any]) -> Terms:
    version = doc["version"]
    if version not in _parsed:
        _parsed[version] = Terms.from_document(doc)
    return _parsed[version]


def seed_bundled(ledger: Ledger) -> None:
    """Store the terms documents shipped with the code (2020-01 first), once each."""
    with ledger.writing() as uow:
        for terms in bundled_terms():
            if not uow.terms.exists(terms.version):
                uow.terms.add(terms.version, terms.effective_date, terms.to_document(), "system")


def summaries(ledger: Ledger) -> list[dict[str, Any]]:
    """Every version, oldest first: version, program and effective date."""
    with ledger.reading() as uow:
        return [
            {
                "version": t.version,
                "program_id": t.program_id,
                "effective_date": t.effective_date,
                "links": {"self": f"/v1/terms/{t.version}"},
            }
            for t in all_versions(uow)
        ]


def document(ledger: Ledger, version: str) -> dict[str, Any]:
    with ledger.reading() as uow:
        for terms in all_versions(uow):
            if terms.version == version:
                return terms.to_document()
    raise NotFound(f"no terms version {version!r}")


def create(ledger: Ledger, doc: dict[str, Any], actor: str) -> dict[str, Any]:
    """Store a new version (the JSON document as posted); 409 when the version exists.
    A document without `routing` takes the routing of the latest version effective on or
    before its effective date (the earliest's when none is): resolved now and stored, so
    the version answers the same routing whatever is posted later."""
    inherits = doc.get("routing") is None
    terms = _parsed_or_invalid({**doc, "routing": _ANY_ROUTING} if inherits else doc)
    with ledger.writing() as uow:
        versions = all_versions(uow)
        if uow.terms.exists(terms.version):
            raise Conflict(f"terms version {terms.version!r} exists; post a new version")
        programs = {t.program_id for t in versions}
        if programs and terms.program_id not in programs:
            # Every version governs this program's claims: another program's is a mistake.
            runs = f"This adjudicator runs {', '.join(sorted(programs))}."
            raise Invalid({"program_id": [runs]})
        if inherits:
            if not versions:
                raise Invalid({"routing": ["Required: there is no version to take it from."]})
            routing = domain_terms.routing_on(versions, terms.effective_date)
            terms = dataclasses.replace(terms, routing=routing)
        uow.terms.add(terms.version, terms.effective_date, terms.to_document(), actor)
    return terms.to_document()


# Stands in for a routing not posted while the other fields are checked; never stored.
_ANY_ROUTING = {"bin": "000000", "pcn": "X", "group_id": "X"}


def _parsed_or_invalid(doc: dict[str, Any]) -> Terms:
    try:
        return Terms.from_document(doc)
    except ValueError as error:
        field, _, problem = str(error).partition(": ")
        raise Invalid({field if problem else "_schema": [problem or str(error)]}) from None
