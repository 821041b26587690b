"""The door a claim came through (`channel`): stored with the claim, shown in the decision,
GET /v1/claims/{id} and the listing; one claim whichever door it used."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from adjudicator.adapters.decision_channel import DecisionChannel
from adjudicator.services import adjudication, claim_queries, intake, records
from adjudicator.services.intake import Answer
from adjudicator.services.runtime import Runtime
from tasks.claims import decide_and_announce
from tests.integration import builders
from tests.integration.builders import claim_payload, enroll, load_claim

pytestmark = pytest.mark.integration


@pytest.fixture
def deciding(runtime: Runtime) -> Runtime:
    """`runtime` whose published claims the worker's task decides at once, in this thread."""
    return dataclasses.replace(
        runtime,
        decisions=DecisionChannel(
            runtime.redis,
            runtime.config.sync_timeout,
            lambda claim_id: decide_and_announce(runtime, claim_id),
        ),
    )


@pytest.fixture
def api(deciding: Runtime, tmp_path: Path) -> Iterator[tuple[FlaskClient, dict[str, str], str]]:
    """(a test client whose claims are decided while the request waits, a pharmacy's
    bearer header, its NPI)."""
    auth, npi = builders.pharmacy_bearer(deciding)
    with builders.web_app(deciding, tmp_path) as app, app.test_client() as client:
        yield client, auth, npi


def _store_ncpdp_claim(rt: Runtime, payload: dict, *, rebill_of: str | None = None) -> str:
    """A claim stored as the D.0 door stores it (records.received_claim, uow.claims.add)."""
    data = load_claim(payload)
    request = records.normalized_claim_request(data)
    claim = records.received_claim(
        uuid.uuid4().hex, data, request, channel="ncpdp", rebill_of=rebill_of
    )
    with rt.ledger.writing() as uow:
        uow.claims.add(claim)
    return claim.claim_id


def test_a_json_claim_shows_json_in_its_decision_its_view_and_the_listing(api, runtime):
    client, auth, npi = api
    cardholder_id = enroll(runtime)["cardholder_id"]

    decision = client.post("/v1/claims", json=claim_payload(cardholder_id, npi), headers=auth)

    assert (decision.status_code, decision.json["status"]) == (200, "paid")
    assert decision.json["channel"] == "json"
    claim_id = decision.json["claim_id"]
    assert client.get(f"/v1/claims/{claim_id}", headers=auth).json["channel"] == "json"
    listing = client.get(f"/v1/claims?cardholder_id={cardholder_id}", headers=auth).json
    assert [(c["claim_id"], c["channel"]) for c in listing["items"]] == [(claim_id, "json")]
    assert builders.claim_row(runtime, claim_id).channel == "json"


def test_a_claim_stored_through_the_ncpdp_door_shows_ncpdp(api, runtime):
    client, auth, npi = api
    cardholder_id = enroll(runtime)["cardholder_id"]
    claim_id = _store_ncpdp_claim(runtime, claim_payload(cardholder_id, npi))
    adjudication.adjudicate(runtime, claim_id)

    shown = client.get(f"/v1/claims/{claim_id}", headers=auth).json

    assert (shown["status"], shown["channel"]) == ("paid", "ncpdp")
    listing = client.get(f"/v1/claims?cardholder_id={cardholder_id}", headers=auth).json
    assert [c["channel"] for c in listing["items"]] == ["ncpdp"]
    assert claim_queries.get(runtime, claim_id)["channel"] == "ncpdp"  # what staff see


def test_a_json_resubmission_of_a_paid_ncpdp_claim_is_its_duplicate(api, runtime):
    client, auth, npi = api
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    claim_id = _store_ncpdp_claim(runtime, payload)
    adjudication.adjudicate(runtime, claim_id)

    again = client.post("/v1/claims", json=payload, headers=auth)

    assert (again.json["status"], again.json["claim_id"]) == ("duplicate", claim_id)
    assert again.json["channel"] == "ncpdp"  # the original's door


def test_the_intake_stores_the_channel_it_is_given(deciding):
    npi = builders.pharmacy(deciding)
    payload = claim_payload(enroll(deciding)["cardholder_id"], npi)

    submitted = intake.submit_claim(deciding, load_claim(payload), wait=1, channel="ncpdp")

    assert submitted.answer is Answer.DECIDED
    assert builders.claim_row(deciding, submitted.claim_id).channel == "ncpdp"
    assert '"channel":"ncpdp"' in (submitted.rendered or "")


def test_a_rebill_names_the_claim_it_replaces(runtime):
    npi = builders.pharmacy(runtime)
    payload = claim_payload(enroll(runtime)["cardholder_id"], npi)
    old = _store_ncpdp_claim(runtime, payload)

    new = _store_ncpdp_claim(runtime, {**payload, "fill_number": 1}, rebill_of=old)

    assert builders.claim_row(runtime, new).rebill_of == old
    assert builders.claim_row(runtime, old).rebill_of is None


def test_an_unknown_channel_is_refused():
    data = load_claim(claim_payload("IC0000000001", builders.valid_npi()))
    request = records.normalized_claim_request(data)
    with pytest.raises(ValueError, match="channel"):
        records.received_claim("c", data, request, channel="fax")


def test_the_openapi_document_names_the_channels_and_the_routing(web: FlaskClient):
    schemas = web.get("/openapi.json").json["components"]["schemas"]

    assert schemas["Decision"]["properties"]["channel"]["enum"] == ["json", "ncpdp"]
    routing = schemas["TermsDocument"]["properties"]["routing"]
    assert routing == {"$ref": "#/components/schemas/Routing"}
    assert sorted(schemas["Routing"]["required"]) == ["bin", "group_id", "pcn"]
