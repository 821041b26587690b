"""The terms' routing (NCPDP.md, Routing): posted, inherited by a version posted without
it, answered on every GET, found for a date of service, and filled in by migration 0007
in documents stored before it. Each test has a ledger of its own: versions are global."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from flask.testing import FlaskClient
from sqlalchemy import create_engine

from adjudicator.adapters import ledger
from adjudicator.adapters.db import MIGRATIONS
from adjudicator.domain.terms import Routing, bundled_terms
from adjudicator.services import identity, terms
from adjudicator.services.errors import Invalid
from adjudicator.services.runtime import Runtime
from adjudicator.web import create_app

pytestmark = pytest.mark.integration

FIRST = Routing("999999", "IPSENCARES", "IPSENCARES")
ADMIN = "user:routing-tests"


def _version(label: str) -> str:
    # Parsed versions are cached per process by name: a name of this test's own.
    return f"{label}-{uuid.uuid4().hex[:10]}"


def _document(version: str, effective: str, routing: dict[str, str] | None) -> dict[str, Any]:
    document = bundled_terms()[0].to_document()
    document.update(version=version, effective_date=effective)
    if routing is None:
        del document["routing"]
    else:
        document["routing"] = routing
    return document


@pytest.fixture
def client(rt: Runtime) -> Iterator[FlaskClient]:
    app = create_app(rt.config, runtime=rt)
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def admin(rt: Runtime) -> dict[str, str]:
    token = identity.add_user(rt.ledger, "admin-routing", "admin", None)["api_token"]
    return {"Authorization": f"Bearer {token}"}


def test_2020_01_answers_the_program_s_routing(client: FlaskClient, admin: dict[str, str]):
    document = client.get("/v1/terms/2020-01", headers=admin).json
    assert document["routing"] == {"bin": "999999", "pcn": "IPSENCARES", "group_id": "IPSENCARES"}


def test_a_version_posted_with_a_routing_keeps_it(client: FlaskClient, admin: dict[str, str]):
    routing = {"bin": "610279", "pcn": "newpcn", "group_id": "Grp-2"}
    document = _document(_version("r"), "2030-01-01", routing)

    created = client.post("/v1/terms", json=document, headers=admin)

    assert created.status_code == 201, created.json
    stored = client.get(f"/v1/terms/{document['version']}", headers=admin).json
    assert stored == created.json
    assert stored["routing"] == {"bin": "610279", "pcn": "NEWPCN", "group_id": "Grp-2"}


def test_a_version_posted_without_takes_the_routing_of_the_version_in_force_on_its_date(
    client: FlaskClient, admin: dict[str, str]
):
    changed = {"bin": "610279", "pcn": "NEWPCN", "group_id": "G2"}
    posted = client.post(
        "/v1/terms", json=_document(_version("a"), "2030-01-01", changed), headers=admin
    )
    assert posted.status_code == 201, posted.json
    after = _document(_version("b"), "2031-01-01", None)
    between = _document(_version("c"), "2025-01-01", None)

    for document in (after, between):
        created = client.post("/v1/terms", json=document, headers=admin)
        assert created.status_code == 201, created.json

    def routing(document: dict[str, Any]) -> dict[str, str]:
        return client.get(f"/v1/terms/{document['version']}", headers=admin).json["routing"]  # type: ignore[no-any-return]  # JSON

    assert routing(after) == changed
    assert routing(between) == {"bin": "999999", "pcn": "IPSENCARES", "group_id": "IPSENCARES"}


def test_a_version_before_every_other_takes_the_earliest_routing(rt: Runtime):
    version = _version("early")
    terms.create(rt.ledger, _document(version, "2019-06-01", None), ADMIN)

    assert terms.document(rt.ledger, version)["routing"]["bin"] == "999999"


def test_an_inherited_routing_is_resolved_once_when_posted(rt: Runtime):
    inherits = _version("inherits")
    terms.create(rt.ledger, _document(inherits, "2030-06-01", None), ADMIN)
    # A version posted later, effective before it, does not change what it holds.
    other = {"bin": "123456", "pcn": "LATER", "group_id": "LATER"}
    terms.create(rt.ledger, _document(_version("later"), "2030-01-01", other), ADMIN)

    assert terms.document(rt.ledger, inherits)["routing"]["pcn"] == "IPSENCARES"


@pytest.mark.parametrize(
    ("routing", "field"),
    [
        ({"bin": "99999", "pcn": "P", "group_id": "G"}, "routing.bin"),
        ({"bin": "999999", "pcn": "ABCDEFGHIJK", "group_id": "G"}, "routing.pcn"),
        ({"bin": "999999", "pcn": "P", "group_id": "GROUP ONE"}, "routing.group_id"),
        ({"bin": "999999", "pcn": "P", "group_id": ""}, "routing.group_id"),
        ({"bin": "999999", "pcn": "P"}, "routing.group_id"),
    ],
)
def test_a_bad_routing_is_422_at_its_field(
    client: FlaskClient, admin: dict[str, str], routing: dict[str, str], field: str
):
    document = _document(_version("bad"), "2030-01-01", routing)

    refused = client.post("/v1/terms", json=document, headers=admin)

    assert refused.status_code == 422
    assert list(refused.json["errors"]) == [field]
    assert client.get(f"/v1/terms/{document['version']}", headers=admin).status_code == 404


def test_a_bad_routing_given_to_the_service_is_invalid_naming_routing(rt: Runtime):
    document = _document(_version("bad"), "2030-01-01", {"bin": "1", "pcn": "P", "group_id": "G"})
    with pytest.raises(Invalid) as refused:
        terms.create(rt.ledger, document, ADMIN)
    assert list(refused.value.errors) == ["routing"]


# --- routing_on ------------------------------------------------------------------


@pytest.fixture
def two_routings(rt: Runtime) -> Routing:
    """A second version effective 2030-07-01 with a routing of its own."""
    second = Routing("610279", "SECOND", "G2")
    routing = {"bin": second.bin, "pcn": second.pcn, "group_id": second.group_id}
    terms.create(rt.ledger, _document(_version("second"), "2030-07-01", routing), ADMIN)
    return second


@pytest.mark.parametrize(
    ("day", "which"),
    [
        (None, "first"),  # unreadable: the earliest version's
        (date(2019, 12, 31), "first"),  # before every version: the earliest's
        (date(2020, 1, 1), "first"),
        (date(2030, 6, 30), "first"),
        (date(2030, 7, 1), "second"),  # on the second's effective date
        (date(2035, 1, 1), "second"),
    ],
)
def test_routing_on_a_date_is_that_of_the_version_in_force(
    rt: Runtime, two_routings: Routing, day: date | None, which: str
):
    with rt.ledger.reading() as uow:
        found = terms.routing_on(uow, day)

    assert found == (FIRST if which == "first" else two_routings)


def test_routing_on_reads_the_documents_again_only_when_a_version_is_added(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
):
    reads: list[int] = []
    read_documents = terms.all_versions

    def counted(uow: Any) -> Any:
        reads.append(1)
        return read_documents(uow)

    monkeypatch.setattr(terms, "all_versions", counted)
    with rt.ledger.reading() as uow:
        terms.routing_on(uow, None)  # what another test's ledger left cached gives way
    reads.clear()
    with rt.ledger.reading() as uow:
        unchanged = [terms.routing_on(uow, day) for day in (None, date(2030, 7, 1))]
    with rt.ledger.reading() as uow:
        unchanged.append(terms.routing_on(uow, date(2035, 1, 1)))
    assert (unchanged, reads) == ([FIRST] * 3, [])

    second = {"bin": "610279", "pcn": "SECOND", "group_id": "G2"}
    terms.create(rt.ledger, _document(_version("second"), "2030-07-01", second), ADMIN)
    reads.clear()
    with rt.ledger.reading() as uow:
        found = [terms.routing_on(uow, day) for day in (date(2030, 6, 30), date(2030, 7, 1))]
    with rt.ledger.reading() as uow:
        found.append(terms.routing_on(uow, date(2035, 1, 1)))

    assert found == [FIRST, Routing("610279", "SECOND", "G2"), Routing("610279", "SECOND", "G2")]
    assert len(reads) == 1


# --- migration 0007 ----------------------------------------------------------------


def _alembic(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_migration_0007_fills_in_the_routing_of_documents_stored_before_it(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    old = {k: v for k, v in bundled_terms()[0].to_document().items() if k != "routing"}
    later = {**old, "version": "2024-06", "effective_date": "2024-06-01"}
    try:
        with engine.begin() as conn:
            _upgrade(conn, url, "0006")
            ledger.insert_terms(conn, "2024-06", date(2024, 6, 1), later)
            ledger.insert_terms(conn, "2020-01", date(2020, 1, 1), old)
        with engine.begin() as conn:
            _upgrade(conn, url, "head")
            documents = ledger.terms_documents(conn)
    finally:
        engine.dispose()

    assert [d["version"] for d in documents] == ["2020-01", "2024-06"]
    expected = {"bin": "999999", "pcn": "IPSENCARES", "group_id": "IPSENCARES"}
    assert [d["routing"] for d in documents] == [expected, expected]
    assert documents[0] == {**old, "routing": expected}


def test_migration_0007_goes_back_to_documents_without_routing(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'back.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _upgrade(conn, url, "head")
            ledger.insert_terms(conn, "2020-01", date(2020, 1, 1), bundled_terms()[0].to_document())
        with engine.begin() as conn:
            config = _alembic(url)
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")
            documents = ledger.terms_documents(conn)
    finally:
        engine.dispose()

    assert "routing" not in documents[0]


def _upgrade(conn: Any, url: str, revision: str) -> None:
    config = _alembic(url)
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
