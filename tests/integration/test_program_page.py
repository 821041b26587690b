"""The console's Program page (PAYMENTS.md, "Seeing the program"): its read-side queries
on a ledger of the test's own, and the page through Flask's test client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adjudicator.services import identity, payments, program_report, reversals
from adjudicator.services.runtime import Runtime
from adjudicator.web.console import charts
from adjudicator.web.console.views import SECURITY_HEADERS
from tests.integration import builders
from tests.integration.test_console_app import PASSWORD, sign_in

pytestmark = pytest.mark.integration
ADMIN = "user:admin"
YEAR = 2024


def _member(rt: Runtime, state: str = "NY", **overrides: Any) -> str:
    patient = builders.enrollment_payload()["patient"]
    patient["address"]["state"] = state
    return str(builders.enroll(rt, patient=patient, **overrides)["cardholder_id"])


def _claim(rt: Runtime, cardholder_id: str, npi: str, amount: str, served: str) -> Any:
    payload = builders.claim_payload(
        cardholder_id, npi, responsibility=amount, date_of_service=served
    )
    return builders.pay(rt, payload)


@pytest.fixture
def seeded(rt: Runtime) -> dict[str, Any]:
    """A year of claims whose numbers the tests know: five paid, three rejected, one
    reversed, and one claim served the year before."""
    accredo, briovarx = builders.pharmacy(rt, "accredo"), builders.pharmacy(rt, "briovarx")
    outside = builders.pharmacy(rt, "corner_drug")  # not in the network: 40
    a, b, e, f = _member(rt), _member(rt, "MA"), _member(rt), _member(rt, "TX")
    d, g = _member(rt), _member(rt)
    _member(rt, attestations={"government_program": True, "other_assistance": False})
    paid = [
        _claim(rt, a, accredo, "1500.00", "2024-03-01"),
        _claim(rt, a, accredo, "500.00", "2024-05-10"),
        _claim(rt, b, briovarx, "12000.00", "2024-03-15"),
        _claim(rt, e, accredo, "7000.00", "2024-06-15"),
        _claim(rt, f, briovarx, "10000.00", "2024-07-01"),
    ]
    assert [c.status for c in paid] == ["paid"] * 5
    reversed_claim = _claim(rt, d, accredo, "700.00", "2024-06-01")
    reversals.reverse(rt, reversed_claim.claim_id, accredo, "pharmacy:test")
    rejected = [
        _claim(rt, "IC0000000001", accredo, "100.00", "2024-04-01"),
        _claim(rt, "IC0000000002", accredo, "100.00", "2024-04-02"),
        _claim(rt, g, outside, "100.00", "2024-04-03"),
    ]
    assert [c.status for c in rejected] == ["rejected"] * 3
    earlier = _claim(rt, a, accredo, "100.00", "2023-12-31")  # before the year: 67
    return {
        "accredo": accredo, "briovarx": briovarx, "paid": paid, "earlier": earlier,
        "members": [a, b, d, e, f, g],
    }  # fmt: skip


# --- the queries ---------------------------------------------------------------------------


def test_the_year_in_numbers_counts_only_its_claims(rt: Runtime, seeded: dict[str, Any]):
    report = program_report.report(rt, YEAR)

    months = {m["month"]: (m["claims"], m["cents"]) for m in report["months"]}
    assert len(months) == 12
    assert months[3] == (2, 1_350_000) and months[5] == (1, 50_000)
    assert months[6] == (1, 700_000) and months[7] == (1, 1_000_000)  # the reversal is not
    assert sum(claims for claims, _ in months.values()) == 5
    statuses = {s["status"]: s["claims"] for s in report["statuses"]}
    assert statuses == {
        "received": 0, "paid": 5, "rejected": 3, "duplicate": 0, "reversed": 1,
    }  # fmt: skip
    assert report["totals"] == {"claims": 9, "paid_claims": 5, "program_paid": 3_100_000}


def test_reject_reasons_are_counted_per_claim_most_frequent_first(
    rt: Runtime, seeded: dict[str, Any]
):
    reasons = program_report.report(rt, YEAR)["reasons"]

    assert [(r["code"], r["claims"]) for r in reasons] == [("52", 2), ("40", 1)]
    assert reasons[0]["message"] == "Non-Matched Cardholder ID"
    earlier = program_report.report(rt, YEAR - 1)
    assert [(r["code"], r["claims"]) for r in earlier["reasons"]] == [("67", 1)]
    assert earlier["totals"]["program_paid"] == 0


def test_patients_fall_in_buckets_of_the_maximum_used(rt: Runtime, seeded: dict[str, Any]):
    shares = program_report.report(rt, YEAR)["shares"]

    # a (2,000 of 12,000), d (reversed: 0) and g (rejected: 0) under 25%; e 7,000: 58%;
    # f 10,000: 83%; b the whole 12,000. The ineligible year paid nothing: left out.
    assert [(s["bucket"], s["patients"]) for s in shares] == [
        ("0–25%", 3), ("25–50%", 0), ("50–75%", 1), ("75–99%", 1), ("100%", 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("used", "bucket"),
    [(0, "0–25%"), (2999, "0–25%"), (3000, "25–50%"), (8999, "50–75%"), (9000, "75–99%"),
     (11999, "75–99%"), (12000, "100%"), (13000, "100%")],
)  # fmt: skip
def test_share_buckets_have_firm_edges(used: int, bucket: str):
    assert program_report.share_bucket(used, 12000) == bucket


def test_spend_by_chain_and_by_state_most_paid_first(rt: Runtime, seeded: dict[str, Any]):
    report = program_report.report(rt, YEAR)

    assert [(c["chain"], c["claims"], c["cents"]) for c in report["chains"]] == [
        ("briovarx", 2, 2_200_000), ("accredo", 3, 900_000),
    ]  # fmt: skip
    assert [(s["state"], s["claims"], s["cents"]) for s in report["states"]] == [
        ("MA", 1, 1_200_000), ("TX", 1, 1_000_000), ("NY", 3, 900_000),
    ]  # fmt: skip


def test_the_years_cycles_list_their_remittances(rt: Runtime, seeded: dict[str, Any]):
    cycle = payments.close(rt, None, ADMIN)
    this_year = program_report.report(rt, date.today().year)["cycles"]

    [shown] = this_year
    assert shown["cycle_id"] == cycle["cycle_id"]
    assert (shown["events"], shown["pharmacies"], shown["total"], shown["sent"]) == (
        7, 2, 3_100_000, 3_100_000
    )  # fmt: skip
    by_npi = {r["npi"]: (r["total"], r["payment"], r["owed"]) for r in shown["remittances"]}
    assert by_npi == {
        seeded["accredo"]: (900_000, 900_000, 0),
        seeded["briovarx"]: (2_200_000, 2_200_000, 0),
    }
    assert program_report.report(rt, YEAR)["cycles"] == []  # closed through now, not 2024


# --- the page ---------------------------------------------------------------------------------


@pytest.fixture
def app(rt: Runtime, tmp_path: Path) -> Iterator[Flask]:
    with builders.web_app(rt, tmp_path) as app:
        app.test_client_class = builders.OwnAddressClient
        yield app


@pytest.fixture
def reviewer(app: Flask, rt: Runtime) -> FlaskClient:
    identity.add_user(rt.ledger, "rita", "reviewer", PASSWORD)
    client = app.test_client()
    assert sign_in(client, "rita", PASSWORD).status_code == 302
    return client


class _Tables(HTMLParser):
    """Each table's caption and its body rows' cells, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._in: str | None = None
        self._row: list[str] | None = None
        self._body = False
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("caption", "th", "td"):
            self._in, self._text = tag, ""
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._body:
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._caption = " ".join(self._text.split())
            self.tables[self._caption] = []
        elif tag in ("th", "td") and self._row is not None:
            self._row.append(" ".join(self._text.split()))
        elif tag == "tr" and self._row is not None and self._caption is not None:
            self.tables[self._caption].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._body = False
        if tag in ("caption", "th", "td"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text += data


def _tables(page: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def _table(page: str, starts: str) -> list[list[str]]:
    [rows] = [rows for caption, rows in _tables(page).items() if caption.startswith(starts)]
    return rows


def test_the_page_shows_each_chart_with_its_numbers_beside_it(
    reviewer: FlaskClient, seeded: dict[str, Any]
):
    answer = reviewer.get(f"/console/program?year={YEAR}")

    assert answer.status_code == 200
    page = answer.text
    months = _table(page, "Program paid by month")
    assert months[2] == ["March", "2", "$13,500.00"] and months[0] == ["January", "0", "$0.00"]
    assert ["Paid", "5"] in _table(page, "Claims served in 2024 by status")
    assert _table(page, "Most frequent reasons")[0] == [
        "52", "Non-Matched Cardholder ID", "2",
    ]  # fmt: skip
    assert _table(page, "Patients by share")[-1] == ["100%", "1"]
    assert _table(page, "Spend by pharmacy chain")[0] == ["briovarx", "2", "$22,000.00"]
    assert _table(page, "Spend by patient's state")[0] == ["MA", "1", "$12,000.00"]
    assert "$31,000.00" in page  # the year's program paid
    svgs = re.findall(r"<svg [^>]*>", page)
    assert len(svgs) == 6
    for svg in svgs:  # each chart names the table that holds its numbers
        labelled_by = re.search(r'aria-labelledby="([^"]+)"', svg)
        assert 'role="img"' in svg and labelled_by
        assert f'<caption id="{labelled_by.group(1)}">' in page


def test_the_page_runs_no_script_and_keeps_the_consoles_policy(
    reviewer: FlaskClient, seeded: dict[str, Any]
):
    answer = reviewer.get(f"/console/program?year={YEAR}")

    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert answer.headers["Content-Security-Policy"].startswith(
        "default-src 'none'; style-src 'self'; img-src 'self';"
    )
    assert answer.headers["Cache-Control"] == "no-store"
    page = answer.text.lower()
    assert "<script" not in page and "<style" not in page and " style=" not in page
    assert "javascript:" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    # Its charts' styles come from this server, as the policy's style-src 'self' allows.
    assert '<link rel="stylesheet" href="/console/charts.css">' in answer.text
    styles = reviewer.get("/console/charts.css")
    assert styles.status_code == 200 and styles.mimetype == "text/css"
    assert styles.text == charts.stylesheet() and ".pygal-chart .axis" in styles.text
    assert "#chart-" not in styles.text and "@import" not in styles.text


def test_the_page_lists_the_years_cycles_and_remittances(
    reviewer: FlaskClient, rt: Runtime, seeded: dict[str, Any]
):
    payments.close(rt, None, ADMIN)
    page = reviewer.get("/console/program").text  # the current year by default

    [cycle] = _table(page, "Payment cycles closed")
    assert cycle[2:] == ["2", "7", "$31,000.00", "$31,000.00"]
    remitted = _table(page, "Remittances of the cycle")
    assert [seeded["briovarx"], f"Pharmacy {seeded['briovarx']}", "$22,000.00", "$22,000.00",
            "$0.00"] in remitted  # fmt: skip
    assert f"<h1>The program in {date.today().year}</h1>" in page


def test_the_page_names_no_patient(reviewer: FlaskClient, seeded: dict[str, Any]):
    page = reviewer.get(f"/console/program?year={YEAR}").text

    assert "$31,000.00" in page  # the numbers are there
    for phi in (*seeded["members"], "Olive", "Example", "2015-04-02", "1 Main St", "Albany"):
        assert phi not in page
    assert not any(c.claim_id in page or c.rx_number in page for c in seeded["paid"])


def test_the_navigation_links_the_page(reviewer: FlaskClient):
    queue = reviewer.get("/console/queue").text
    assert '<a href="/console/program">Program</a>' in queue
    page = reviewer.get("/console/program").text
    assert '<a href="/console/program" aria-current="page">Program</a>' in page
    assert "No payment cycle was closed" in page and "Nothing to draw" in page


@pytest.mark.parametrize("year", ["abc", "20x4", "1999", "99999", "-2024", "2024.0", "１２３４"])
def test_a_bad_year_is_a_clear_400(reviewer: FlaskClient, year: str):
    answer = reviewer.get("/console/program", query_string={"year": year})

    assert answer.status_code == 400
    assert "Enter the year as four digits, from 2000 to" in answer.text
    assert answer.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_strangers_and_pharmacy_keys_are_sent_to_sign_in(app: Flask, rt: Runtime):
    headers, _npi = builders.pharmacy_bearer(rt)
    client = app.test_client()

    for extra in ({}, headers):
        answer = client.get("/console/program?year=2024", headers=extra)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/console/login?next=")
