"""`Prefer: respond-async`, and listing claims a page at a time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    REVIEWER_TOKEN,
    claim_payload,
    enroll,
    submit,
)

pytestmark = pytest.mark.e2e


def test_respond_async_answers_202_with_a_location_that_shows_the_decision_soon(
    server: Server,
) -> None:
    member = enroll(server, state="MA")
    payload = claim_payload(member["cardholder_id"], service="40.00")

    response = server.call(
        "POST", "/v1/claims", DEMO_PHARMACY_KEY, json=payload, headers={"Prefer": "respond-async"}
    )

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "received"
    location = response.headers["Location"]
    assert location.endswith(f"/v1/claims/{accepted['claim_id']}")

    deadline = time.monotonic() + 5
    while True:
        shown = server.call("GET", location, DEMO_PHARMACY_KEY)
        assert shown.status_code == 200, shown.text
        if shown.json()["status"] != "received" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    decided = shown.json()
    assert decided["status"] == "paid"
    assert decided["claim_id"] == accepted["claim_id"]
    assert decided["amounts"]["program_paid"] == "1500.00"
    assert [e["type"] for e in decided["events"]][:2] == ["received", "decided"]


def list_claims(server: Server, token: str, **query: Any) -> dict[str, Any]:
    response = server.call("GET", "/v1/claims", token, params=query)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]  # JSON is Any


def all_pages(server: Server, token: str, **query: Any) -> list[list[dict[str, Any]]]:
    pages = []
    cursor = None
    while True:
        page = list_claims(server, token, **query, **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_claims_are_listed_newest_first_a_page_at_a_time_and_filtered(
    server: Server, second_pharmacy: dict[str, Any]
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    ours = [
        submit(server, claim_payload(cardholder, drug="100.00")),
        submit(server, claim_payload(cardholder, drug="200.00", cob={"other_coverage_code": 0})),
        submit(server, claim_payload(cardholder, drug="300.00")),
    ]
    assert [d["status"] for d in ours] == ["paid", "rejected", "paid"]
    theirs = submit(
        server,
        claim_payload(cardholder, drug="400.00", npi=second_pharmacy["npi"]),
        token=second_pharmacy["api_key"],
    )
    assert theirs["status"] == "paid"
    newest_first = [theirs["claim_id"]] + [d["claim_id"] for d in reversed(ours)]

    pages = all_pages(server, REVIEWER_TOKEN, cardholder_id=cardholder, limit=2)
    assert [len(p) for p in pages] == [2, 2]
    assert [c["claim_id"] for p in pages for c in p] == newest_first

    rejected = list_claims(server, REVIEWER_TOKEN, cardholder_id=cardholder, status="rejected")
    assert [c["claim_id"] for c in rejected["items"]] == [ours[1]["claim_id"]]
    assert rejected["next_cursor"] is None

    paid = all_pages(server, REVIEWER_TOKEN, cardholder_id=cardholder, status="paid", limit=2)
    assert [c["claim_id"] for p in paid for c in p] == [
        theirs["claim_id"],
        ours[2]["claim_id"],
        ours[0]["claim_id"],
    ]

    mine = all_pages(server, DEMO_PHARMACY_KEY, cardholder_id=cardholder, limit=2)
    assert [len(p) for p in mine] == [2, 1]
    assert [c["claim_id"] for p in mine for c in p] == newest_first[1:]

    other = list_claims(server, second_pharmacy["api_key"], cardholder_id=cardholder)
    assert [c["claim_id"] for c in other["items"]] == [theirs["claim_id"]]


def test_a_pharmacy_listing_without_filters_shows_only_its_own_claims(
    server: Server, second_pharmacy: dict[str, Any]
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    ours = submit(server, claim_payload(cardholder, drug="100.00"))
    theirs = submit(
        server,
        claim_payload(cardholder, drug="100.00", npi=second_pharmacy["npi"]),
        token=second_pharmacy["api_key"],
    )

    their_listing = [
        c["claim_id"] for p in all_pages(server, second_pharmacy["api_key"]) for c in p
    ]
    our_first_page = [c["claim_id"] for c in list_claims(server, DEMO_PHARMACY_KEY)["items"]]

    assert theirs["claim_id"] in their_listing
    assert ours["claim_id"] not in their_listing
    assert ours["claim_id"] in our_first_page
    assert theirs["claim_id"] not in our_first_page
