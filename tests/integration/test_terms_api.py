"""Terms versions over the Flask test client: list, read, post (admin only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from adjudicator.services import identity
from adjudicator.services.runtime import Runtime
from adjudicator.web import create_app

pytestmark = pytest.mark.integration

Headers = dict[str, str]


@pytest.fixture
def client(runtime: Runtime) -> Iterator[FlaskClient]:
    app = create_app(runtime.config, runtime=runtime)
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def admin(runtime: Runtime, key_prefix: str) -> dict[str, str]:
    token = identity.add_user(runtime.ledger, f"admin-{key_prefix}", "admin", None)["api_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def reviewer(runtime: Runtime, key_prefix: str) -> dict[str, str]:
    token = identity.add_user(runtime.ledger, f"rev-{key_prefix}", "reviewer", None)["api_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_first_version_is_2020_01_exactly_as_the_spec_writes_it(
    client: FlaskClient, admin: Headers
) -> None:
    listing = client.get("/v1/terms", headers=admin).json
    assert listing["items"][0]["version"] == "2020-01"
    document = client.get("/v1/terms/2020-01", headers=admin).json
    assert document["annual_max"] == "12000.00"
    assert document["cash_pay_per_rx_max"] == "1000.00"
    assert document["government_payers"] == [{"bin": "610014", "pcn": "MEDDPRIME"}]
    assert document["max_dose_mg_per_kg_per_day"] == "0.24"
    assert document["routing"] == {"bin": "999999", "pcn": "IPSENCARES", "group_id": "IPSENCARES"}


def test_a_fetched_document_posted_under_a_new_version_is_stored(
    client: FlaskClient, admin: Headers, key_prefix: str
) -> None:
    document: dict[str, Any] = client.get("/v1/terms/2020-01", headers=admin).json
    document.update(version=f"v-{key_prefix[:20]}", effective_date="2099-01-01")
    document["cash_pay_per_rx_max"] = "800.00"
    created = client.post("/v1/terms", json=document, headers=admin)
    assert created.status_code == 201, created.json
    assert client.get(f"/v1/terms/{document['version']}", headers=admin).json == document
    again = client.post("/v1/terms", json=document, headers=admin)
    assert again.status_code == 409


def test_codes_are_stored_as_claims_spell_them(
    client: FlaskClient, admin: Headers, key_prefix: str
) -> None:
    document: dict[str, Any] = client.get("/v1/terms/2020-01", headers=admin).json
    document.update(version=f"lc-{key_prefix[:20]}", effective_date="2099-02-01")
    document.update(
        covered_ndcs=["15054-1040-05"],
        covered_hcpcs=["j2170"],
        covered_service_codes=["96372"],
        drug_only_states=["ma", "mn"],
        excluded_jurisdictions=["pr"],
        product_not_covered_reject_codes=["70", "mr"],
        government_payers=[{"bin": "610014", "pcn": "meddprime"}],
    )
    created = client.post("/v1/terms", json=document, headers=admin)
    assert created.status_code == 201, created.json
    stored = client.get(f"/v1/terms/{document['version']}", headers=admin).json
    assert stored == created.json
    assert stored["covered_ndcs"] == ["15054104005"]
    assert stored["covered_hcpcs"] == ["J2170"]
    assert stored["drug_only_states"] == ["MA", "MN"]
    assert stored["excluded_jurisdictions"] == ["PR"]
    assert stored["product_not_covered_reject_codes"] == ["70", "MR"]
    assert stored["government_payers"] == [{"bin": "610014", "pcn": "MEDDPRIME"}]


def test_a_jurisdiction_is_a_state_code(client: FlaskClient, admin: Headers) -> None:
    document: dict[str, Any] = client.get("/v1/terms/2020-01", headers=admin).json
    document.update(version="never-stored", excluded_jurisdictions=["Puerto Rico"])
    refused = client.post("/v1/terms", json=document, headers=admin)
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["excluded_jurisdictions.0"]


def test_bad_values_are_422_field_by_field(client: FlaskClient, admin: Headers) -> None:
    document = client.get("/v1/terms/2020-01", headers=admin).json
    document.update(version="bad-1", annual_max="12000", covered_ndcs=[], extra=1)
    answer = client.post("/v1/terms", json=document, headers=admin)
    assert answer.status_code == 422
    assert {"annual_max", "covered_ndcs", "extra"} <= set(answer.json["errors"])


def test_a_version_of_another_program_is_refused(
    client: FlaskClient, admin: Headers, key_prefix: str
) -> None:
    document = client.get("/v1/terms/2020-01", headers=admin).json
    document.update(version=f"o-{key_prefix[:20]}", program_id="another-program")
    answer = client.post("/v1/terms", json=document, headers=admin)
    assert answer.status_code == 422
    assert answer.json["errors"] == {"program_id": ["This adjudicator runs ipsen-cares-increlex."]}
    assert client.get(f"/v1/terms/{document['version']}", headers=admin).status_code == 404


def test_terms_are_for_admins_only(client: FlaskClient, reviewer: Headers) -> None:
    assert client.get("/v1/terms", headers=reviewer).status_code == 403
    assert client.post("/v1/terms", json={}, headers=reviewer).status_code == 403
    assert client.get("/v1/terms").status_code == 401


def test_an_unknown_version_is_404(client: FlaskClient, admin: Headers) -> None:
    assert client.get("/v1/terms/1999-01", headers=admin).status_code == 404
