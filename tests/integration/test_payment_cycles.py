"""Payment cycles and remittances (PAYMENTS.md) on the real ledger: closing through a
moment, what a pharmacy is sent or owes back and carries forward, concurrent closes, and
who may see what over HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from adjudicator.services import identity, money, payments, reversals
from adjudicator.services.errors import Conflict, Invalid, NotFound
from adjudicator.services.runtime import Runtime
from tests.integration.builders import (
    claim_payload,
    enroll,
    pay,
    pharmacy,
    pharmacy_bearer,
    web_app,
)

pytestmark = pytest.mark.integration
ADMIN = "user:admin"


def _paid(rt: Runtime, npi: str, amount: str = "1500.00", rx: str | None = None):
    member = enroll(rt, effective_date="2024-01-01")
    extra = {"rx_number": rx} if rx else {}
    return pay(rt, claim_payload(member["cardholder_id"], npi, responsibility=amount, **extra))


def _remittance_of(rt: Runtime, cycle: dict, npi: str) -> dict:
    page = payments.list_remittances(rt, cycle_id=cycle["cycle_id"], npi=npi, limit=10, cursor=None)
    [remittance] = page["items"]
    return payments.get_remittance(rt, remittance["remittance_id"], npi=npi)


def test_a_cycle_remits_each_pharmacys_events_once(rt):
    a, b = pharmacy(rt), pharmacy(rt)
    _paid(rt, a), _paid(rt, a, "500.00"), _paid(rt, b, "200.00")
    cycle = payments.close(rt, None, ADMIN)
    again = payments.close(rt, None, ADMIN)

    assert (cycle["pharmacies"], cycle["events"], cycle["total"], cycle["sent"]) == (
        2, 3, "2200.00", "2200.00"
    )  # fmt: skip
    assert (again["events"], again["pharmacies"], again["total"]) == (0, 0, "0.00")
    remitted = _remittance_of(rt, cycle, a)
    assert [line["amount"] for line in remitted["lines"]] == ["1500.00", "500.00"]
    assert (remitted["total"], remitted["payment"], remitted["owed"]) == (
        "2000.00", "2000.00", "0.00"
    )  # fmt: skip
    assert money.check(rt) == {"pharmacies": [], "mismatches": []}


def test_a_reversal_after_remittance_is_owed_back_and_recovered_from_the_next(rt):
    npi = pharmacy(rt)
    first = _paid(rt, npi)
    payments.close(rt, None, ADMIN)
    reversals.reverse(rt, first.claim_id, npi, "pharmacy:test")
    owing = payments.close(rt, None, ADMIN)
    _paid(rt, npi, "1000.00")
    _paid(rt, npi, "900.00")
    recovering = payments.close(rt, None, ADMIN)

    debt = _remittance_of(rt, owing, npi)
    assert [(line["kind"], line["amount"]) for line in debt["lines"]] == [("reversal", "-1500.00")]
    assert (debt["payment"], debt["owed"]) == ("0.00", "-1500.00")
    paid_back = _remittance_of(rt, recovering, npi)
    assert (paid_back["total"], paid_back["balance_forward"]) == ("1900.00", "-1500.00")
    assert (paid_back["payment"], paid_back["owed"]) == ("400.00", "0.00")
    assert money.check(rt) == {"pharmacies": [], "mismatches": []}


def test_through_must_be_after_the_last_cycle_and_not_in_the_future(rt):
    now = datetime.now(UTC)
    payments.close(rt, now - timedelta(hours=1), ADMIN)
    with pytest.raises(Conflict):
        payments.close(rt, now - timedelta(hours=2), ADMIN)
    with pytest.raises(Invalid):
        payments.close(rt, now + timedelta(hours=1), ADMIN)


def test_events_after_through_wait_for_the_next_cycle(rt):
    npi = pharmacy(rt)
    before = datetime.now(UTC)
    _paid(rt, npi)
    early = payments.close(rt, before, ADMIN)
    late = payments.close(rt, None, ADMIN)
    assert (early["events"], late["events"]) == (0, 1)


def test_concurrent_closes_never_put_one_event_in_two_cycles(rt):
    npi = pharmacy(rt)
    for n in range(5):
        _paid(rt, npi, "100.00", rx=f"RXC{n}")

    def close(_: int) -> dict | None:
        try:
            return payments.close(rt, None, ADMIN)
        except Conflict:
            return None

    with ThreadPoolExecutor(4) as pool:
        closed = [c for c in pool.map(close, range(8)) if c is not None]
    assert sum(c["events"] for c in closed) == 5
    assert money.check(rt) == {"pharmacies": [], "mismatches": []}


def test_a_pharmacy_sees_its_own_remittance_and_another_s_is_not_found(rt):
    mine, theirs = pharmacy(rt), pharmacy(rt)
    _paid(rt, mine), _paid(rt, theirs)
    cycle = payments.close(rt, None, ADMIN)
    other = _remittance_of(rt, cycle, theirs)
    with pytest.raises(NotFound):
        payments.get_remittance(rt, other["remittance_id"], npi=mine)


# --- over HTTP ------------------------------------------------------------------------


@pytest.fixture
def client(rt: Runtime, tmp_path) -> Iterator[FlaskClient]:
    with web_app(rt, tmp_path) as app, app.test_client() as test_client:
        yield test_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_only_an_admin_closes_and_a_pharmacy_sees_no_cycle(rt, client):
    admin = _bearer(identity.add_user(rt.ledger, "pay-admin", "admin", None)["api_token"])
    reviewer = _bearer(identity.add_user(rt.ledger, "pay-rev", "reviewer", None)["api_token"])
    pharmacy_key, npi = pharmacy_bearer(rt)
    _paid(rt, npi)

    assert client.post("/v1/payment-cycles", json={}, headers=reviewer).status_code == 403
    closed = client.post("/v1/payment-cycles", json={}, headers=admin)
    assert closed.status_code == 201 and closed.json["through"].endswith("Z")
    assert client.get("/v1/payment-cycles", headers=pharmacy_key).status_code == 403
    listed = client.get("/v1/payment-cycles", headers=reviewer).json["items"]
    assert listed[0]["cycle_id"] == closed.json["cycle_id"]
    mine = client.get("/v1/remittances", headers=pharmacy_key).json["items"]
    assert [r["npi"] for r in mine] == [npi]
    one = client.get(f"/v1/remittances/{mine[0]['remittance_id']}", headers=pharmacy_key)
    assert one.status_code == 200 and one.json["payment"] == "1500.00"
    other_key, _other = pharmacy_bearer(rt)
    hidden = client.get(f"/v1/remittances/{mine[0]['remittance_id']}", headers=other_key)
    assert hidden.status_code == 404


def test_a_bad_through_is_422_at_its_field_and_an_early_one_409(rt, client):
    admin = _bearer(identity.add_user(rt.ledger, "pay-admin2", "admin", None)["api_token"])
    for bad in [
        "2026-03-07",
        "2026-13-07T00:00:00Z",
        "2026-03-07T00:00:00",
        "9999-01-01T00:00:00Z",
    ]:
        answer = client.post("/v1/payment-cycles", json={"through": bad}, headers=admin)
        assert answer.status_code == 422, bad
        assert "through" in answer.json["errors"]
    assert client.post("/v1/payment-cycles", json={}, headers=admin).status_code == 201
    early = client.post(
        "/v1/payment-cycles", json={"through": "2024-01-01T00:00:00+02:00"}, headers=admin
    )
    assert early.status_code == 409


def test_the_invoice_counts_a_cycles_money_by_kind_and_what_was_recovered(rt, client):
    npi = pharmacy(rt)
    first = _paid(rt, npi)
    payments.close(rt, None, ADMIN)
    reversals.reverse(rt, first.claim_id, npi, "pharmacy:test")
    payments.close(rt, None, ADMIN)
    _paid(rt, npi, "1000.00")
    _paid(rt, npi, "800.00")
    recovering = payments.close(rt, None, ADMIN)

    invoice = payments.invoice(rt, recovering["cycle_id"])
    assert invoice["payments"] == {"count": 2, "amount": "1800.00"}
    assert invoice["reversals"] == {"count": 0, "amount": "0.00"}
    assert (invoice["recovered"], invoice["owed"], invoice["total_due"]) == (
        "1500.00", "0.00", "300.00"
    )  # fmt: skip
    assert invoice["program_id"] == "ipsen-cares-increlex"
    admin = _bearer(identity.add_user(rt.ledger, "inv-admin", "admin", None)["api_token"])
    reviewer = _bearer(identity.add_user(rt.ledger, "inv-rev", "reviewer", None)["api_token"])
    path = f"/v1/payment-cycles/{recovering['cycle_id']}/invoice"
    assert client.get(path, headers=admin).json == invoice
    assert client.get(path, headers=reviewer).status_code == 403


def test_the_invoice_as_csv_is_one_deidentified_row_per_line(rt, client):
    npi = pharmacy(rt)
    member = enroll(rt, effective_date="2024-01-01")
    first = pay(rt, claim_payload(member["cardholder_id"], npi, rx_number="RXCSV1"))
    reversals.reverse(rt, first.claim_id, npi, "pharmacy:test")
    cycle = payments.close(rt, None, ADMIN)
    admin = _bearer(identity.add_user(rt.ledger, "csv-admin", "admin", None)["api_token"])
    answer = client.get(
        f"/v1/payment-cycles/{cycle['cycle_id']}/invoice",
        headers={**admin, "Accept": "text/csv"},
    )
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["line_kind"], r["line_amount"]) for r in rows] == [
        ("payment", "1500.00"), ("reversal", "-1500.00")
    ]  # fmt: skip
    assert rows[0]["service_year"] == "2024" and rows[0]["patient_key"] == rows[1]["patient_key"]
    text = answer.text
    assert member["cardholder_id"] not in text and "RXCSV1" not in text and "2024-03-01" not in text
