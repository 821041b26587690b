"""The hub console in a real browser (Chromium via Playwright) against the real server.

Claims are made through the HTTP API with the demo pharmacy key, as a pharmacy would,
and decided by the real Celery worker; the reviewer then works them in the console.
Screenshots land in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    ADMIN_TOKEN,
    DEMO_PHARMACY_KEY,
    DEMO_PHARMACY_NPI,
    REVIEWER_TOKEN,
    Server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# The README's pictures are taken anew only when asked (ADJUDICATOR_DOC_SCREENSHOTS=1),
# so a test run leaves the tree as it found it; otherwise they go with the artifacts.
DOC_SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("ADJUDICATOR_DOC_SCREENSHOTS")
    else Path(__file__).resolve().parents[1] / "artifacts"
)
LAPTOP = {"width": 1366, "height": 768}
REVIEWER = ("reviewer", "reviewer-demo")


# --- the browser -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            "browser tests need Debian's Chromium at /usr/bin/chromium "
            "(apt-get install chromium; .ci/run installs it)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, server: Server, username: str, password: str) -> None:
    page.goto(server.base_url + "/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


# --- claims made through the API, as a pharmacy makes them -----------------------------


def _enroll(server: Server, date_of_birth: date, effective: date, **extra: Any) -> dict[str, Any]:
    payload = {
        "patient": {
            "first_name": "Tess",
            "last_name": "Toddler",
            "date_of_birth": date_of_birth.isoformat(),
            "sex": "F",
            "address": {
                "line1": "5 Elm St",
                "city": "Albany",
                "state": "NY",
                "zip": "12207",
                "country": "US",
            },
        },
        "coverage": {"type": "commercial", "payer_name": "Acme Health", "bin": "003858"},
        "weight_kg": "12.0",
        "effective_date": effective.isoformat(),
        **extra,
    }
    answer = server.call("POST", "/v1/enrollments", REVIEWER_TOKEN, json=payload)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]  # JSON is Any


def _bill(
    server: Server, cardholder_id: str, date_of_birth: date, quantity: str = "2.000"
) -> dict[str, Any]:
    claim = {
        "cardholder_id": cardholder_id,
        "service_provider_id": DEMO_PHARMACY_NPI,
        "rx_number": f"RX{uuid.uuid4().hex[:8].upper()}",
        "fill_number": 0,
        "date_of_service": date.today().isoformat(),
        "patient": {"date_of_birth": date_of_birth.isoformat()},
        "cob": {"other_coverage_code": 8, "other_payer_bin": "003858"},
        "lines": [
            {
                "kind": "drug",
                "code": "15054-1040-05",
                "quantity": quantity,
                "days_supply": 30,
                "patient_responsibility": "1500.00",
            }
        ],
    }
    answer = server.call("POST", "/v1/claims", DEMO_PHARMACY_KEY, json=claim)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]  # JSON is Any


def under_age_claim(server: Server, *, two_years: bool = False) -> dict[str, Any]:
    """A toddler's claim: rejected 60 (patient_age) with an open review."""
    born = date.today() - timedelta(days=400)
    this_year = date.today() - timedelta(days=30)
    member = _enroll(server, born, this_year)
    if two_years:
        _enroll(
            server, born, this_year - timedelta(days=365), cardholder_id=member["cardholder_id"]
        )
    decision = _bill(server, member["cardholder_id"], born)
    assert decision["status"] == "rejected", decision
    assert [r["code"] for r in decision["reject_codes"]] == ["60"]
    assert decision["review"]["state"] == "open"
    return {**decision, "cardholder_id": member["cardholder_id"]}


def dose_claim(server: Server) -> dict[str, Any]:
    """Ten times the dose a 12 kg child may have: rejected 88 (dose), reviewable."""
    born = date.today() - timedelta(days=6 * 365)
    member = _enroll(server, born, date.today() - timedelta(days=60))
    decision = _bill(server, member["cardholder_id"], born, quantity="90.000")
    assert [r["code"] for r in decision["reject_codes"]] == ["88"], decision
    return decision


# --- the reviewer's day ------------------------------------------------------------------


def test_a_reviewer_approves_an_under_age_claim_and_sees_it_paid(page: Any, server: Server):
    dose_claim(server)
    claim = under_age_claim(server, two_years=True)
    claim_id = claim["claim_id"]

    sign_in(page, server, *REVIEWER)
    page.wait_for_url("**/console/queue")
    row = page.locator("table.queue tbody tr").filter(has=page.locator(f'a[href$="{claim_id}"]'))
    assert row.count() == 1
    assert "Patient age" in row.inner_text() and "$1,500.00" in row.inner_text()
    assert "Dose" in page.locator("table.queue").inner_text()
    screenshot(page, "console-queue")

    row.get_by_role("link").click()
    page.wait_for_url(f"**/console/claims/{claim_id}")
    assert "Rejected" in page.locator("h1").inner_text()
    assert "Patient age: rejected" in page.locator("ol.trace").inner_text()
    assert page.get_by_role("meter").count() == 1
    page.get_by_label(re.compile("^Note")).fill(
        "Endocrinologist confirmed the indication by phone."
    )
    screenshot(page, "console-claim", full_page=True)
    page.get_by_role("button", name="Approve").click()

    assert "Approved: the claim is now paid, program paid $1,500.00" in page.inner_text(".flashes")
    assert "Paid" in page.locator("h1").inner_text()
    timeline = page.locator("ol.timeline").inner_text()
    assert "Review approved by reviewer" in timeline
    assert "Endocrinologist confirmed the indication by phone." in timeline
    assert timeline.index("Review approved") < timeline.rindex("Decided: Paid")
    assert "$1,500.00 used" in page.locator(".meter-text").inner_text()
    assert "Patient age: set aside on review." in page.locator("ol.trace").inner_text()
    screenshot(page, "console-claim-approved", full_page=True)

    api = server.call("GET", f"/v1/claims/{claim_id}", REVIEWER_TOKEN).json()
    assert api["status"] == "paid" and api["review"]["state"] == "approved"
    assert [e["type"] for e in api["events"]][-2:] == ["review_approved", "decided"]

    page.get_by_role("link", name=claim["cardholder_id"]).first.click()
    assert page.locator("article.year").count() == 2
    assert page.get_by_role("meter").count() == 2
    assert "$1,500.00 used" in page.locator("article.year").first.inner_text()
    assert "Paid" in page.locator("table.data").inner_text()
    screenshot(page, "console-member")


def test_a_reviewer_denies_a_claim_with_a_note(page: Any, server: Server):
    claim_id = under_age_claim(server)["claim_id"]
    sign_in(page, server, *REVIEWER)
    page.goto(f"{server.base_url}/console/claims/{claim_id}")

    page.get_by_label(re.compile("^Note")).fill("   ")
    page.get_by_role("button", name="Deny").click()
    assert "Must not be blank." in page.locator(".review-form").inner_text()

    page.get_by_label(re.compile("^Note")).fill("Patient too young; prescriber to resubmit later.")
    page.get_by_role("button", name="Deny").click()
    assert "Denied: the claim is now rejected." in page.inner_text(".flashes")
    assert (
        "Denied by reviewer" in page.locator("section[aria-labelledby=review-title]").inner_text()
    )
    assert "Review denied by reviewer" in page.locator("ol.timeline").inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0

    page.get_by_role("link", name="Review queue").click()
    assert page.locator(f'a[href$="{claim_id}"]').count() == 0
    api = server.call("GET", f"/v1/claims/{claim_id}", REVIEWER_TOKEN).json()
    assert api["status"] == "rejected" and api["review"]["state"] == "denied"


def test_a_wrong_password_shows_an_error_and_signs_nobody_in(page: Any, server: Server):
    sign_in(page, server, "reviewer", "not-the-password")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    assert page.url.endswith("/console/login")
    page.goto(server.base_url + "/console/queue")
    assert "/console/login" in page.url


def test_a_pharmacy_key_gets_nowhere_in_the_console(browser: Any, server: Server):
    context = browser.new_context(
        viewport=LAPTOP, extra_http_headers={"Authorization": f"Bearer {DEMO_PHARMACY_KEY}"}
    )
    try:
        page = context.new_page()
        for path in ("/console/", "/console/queue", "/console/enroll", "/console/search?q=x"):
            page.goto(server.base_url + path)
            assert "/console/login" in page.url, path
            assert page.get_by_role("heading", name="Sign in to the hub console").count() == 1
        answer = context.request.post(
            server.base_url + "/console/enroll", form={"patient.first_name": "X"}
        )
        assert answer.status == 400  # no session, no CSRF token: refused before anything
    finally:
        context.close()


def test_the_console_cookie_does_not_open_the_api(page: Any, server: Server):
    sign_in(page, server, *REVIEWER)
    cookie = next(c for c in page.context.cookies() if c["name"] == "adjudicator_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    answer = server.call(
        "GET",
        "/v1/claims?review=open",
        headers={"Cookie": f"adjudicator_console={cookie['value']}"},
    )
    assert answer.status_code == 401


def test_enroll_a_patient_then_edit_the_year(page: Any, server: Server):
    sign_in(page, server, *REVIEWER)
    page.get_by_role("link", name="Enroll a patient").click()
    page.get_by_label("Effective date").fill(date.today().replace(month=1, day=1).isoformat())
    page.get_by_label("First name").fill("Olive")
    page.get_by_label("Last name").fill("Example")
    page.get_by_label("Date of birth").fill("2015-04-02")
    page.get_by_label("Street address").fill("1 Main St")
    page.get_by_label("City").fill("Boston")
    page.get_by_label(re.compile("^State")).fill("ma")
    page.get_by_label("ZIP code").fill("ABCDE")
    page.get_by_label("Weight (kg)").fill("25.0")
    page.get_by_role("button", name="Enroll").click()

    zip_field = page.locator(".field", has=page.get_by_label("ZIP code"))
    assert "A US ZIP code is 5 digits" in zip_field.inner_text()
    assert page.get_by_label("ZIP code").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("First name").input_value() == "Olive"  # what was typed stays

    page.get_by_label("ZIP code").fill("02139")
    page.get_by_role("button", name="Enroll").click()
    assert "Enrolled for" in page.inner_text(".flashes") and "active" in page.inner_text(".flashes")
    assert page.get_by_role("heading", name=re.compile("Olive Example")).count() == 1
    assert "Active" in page.locator("article.year").inner_text()

    page.get_by_role("link", name=re.compile("^Edit this year")).click()
    page.get_by_label("Coverage type").select_option("medicaid")
    page.get_by_role("button", name="Save changes").click()
    year = page.locator("article.year").inner_text()
    assert "Ineligible" in year and "Government program" in year


def test_search_finds_claims_members_and_rx_numbers(page: Any, server: Server):
    claim = under_age_claim(server)
    sign_in(page, server, *REVIEWER)
    search = page.get_by_role("search").get_by_label("Search")
    search.fill(claim["cardholder_id"])
    search.press("Enter")
    page.wait_for_url(f"**/console/members/{claim['cardholder_id']}")
    search = page.get_by_role("search").get_by_label("Search")
    search.fill(claim["claim_id"])
    search.press("Enter")
    page.wait_for_url(f"**/console/claims/{claim['claim_id']}")
    rx = page.locator("h1").inner_text().split()[2]
    search = page.get_by_role("search").get_by_label("Search")
    search.fill(rx)
    search.press("Enter")
    page.wait_for_url(f"**/console/claims/{claim['claim_id']}")


def wait_until_focused(page: Any, element_id: str) -> None:
    """Wait (up to 5 s, then fail) until the element with this id has the focus."""
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.id === id",
        arg=element_id,
        timeout=5000,
    )


def test_the_console_works_from_the_keyboard(page: Any, server: Server):
    page.goto(server.base_url + "/console/login")
    # Chromium applies autofocus at its next rendering step, which may come after "load".
    wait_until_focused(page, "username")
    page.keyboard.type("reviewer")
    page.keyboard.press("Tab")
    page.keyboard.type(REVIEWER[1])
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/queue")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    wait_until_focused(page, "main")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
             .filter(el => !el.labels.length && !el.getAttribute('aria-label')).length"""
    )
    assert unlabelled == 0
    assert page.locator("header").count() == 1 and page.locator("main").count() == 1
    assert page.locator("nav").count() == 1

    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/login")
    assert "You are signed out." in page.inner_text(".flashes")


def test_the_docs_page_renders_the_api_from_this_server_alone(page: Any, server: Server) -> None:
    answered: dict[str, int] = {}
    refused: list[str] = []
    page.on("response", lambda response: answered.update({response.url: response.status}))
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    page.goto(server.base_url + "/docs")

    page.get_by_text("/v1/claims", exact=True).first.wait_for()
    assert page.locator(".opblock").count() >= 15  # every operation of the API
    assert answered and all(url.startswith(server.base_url) for url in answered), answered
    assert all(status == 200 for status in answered.values()), answered
    assert refused == []  # no script or style refused by the page's policy


# --- the program page -----------------------------------------------------------------------


def paid_claim(server: Server) -> dict[str, Any]:
    """An eight-year-old's claim served today: paid $1,500.00."""
    born = date.today() - timedelta(days=8 * 365)
    member = _enroll(server, born, date.today() - timedelta(days=60))
    decision = _bill(server, member["cardholder_id"], born)
    assert decision["status"] == "paid", decision
    return decision


def test_the_program_page_draws_its_charts_with_no_script_and_no_refusal(page: Any, server: Server):
    paid_claim(server)
    under_age_claim(server)
    closed = server.call("POST", "/v1/payment-cycles", ADMIN_TOKEN, json={})
    assert closed.status_code == 201, closed.text
    problems: list[str] = []  # console errors and warnings (a CSP refusal is one), page errors
    page.on(
        "console",
        lambda message: (
            problems.append(f"{message.text} ({message.location.get('url')})")
            # The browser's own ask for /favicon.ico (the server has none) is no page's doing.
            if message.type in ("error", "warning")
            and not message.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    answered: dict[str, int] = {}
    page.on("response", lambda response: answered.update({response.url: response.status}))

    sign_in(page, server, *REVIEWER)
    page.wait_for_url("**/console/queue")
    page.get_by_role("link", name="Program", exact=True).click()
    page.wait_for_url("**/console/program")

    assert page.locator("h1").inner_text() == f"The program in {date.today().year}"
    charts = page.locator("svg.pygal-chart")
    assert charts.count() == 6  # this year has paid and rejected claims: every chart draws
    for n in range(charts.count()):
        chart = charts.nth(n)
        assert chart.is_visible() and chart.get_attribute("role") == "img"
        box = chart.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        caption = page.locator(f"caption#{chart.get_attribute('aria-labelledby')}")
        assert caption.count() == 1
    tables = page.locator("table.chart-table")
    assert tables.count() == 6
    assert all(tables.nth(n).locator("tbody tr").count() >= 1 for n in range(6))
    months = page.locator("table.chart-table").first.locator("tbody tr")
    assert months.count() == 12
    assert "60" in page.locator("#reject-reasons table").inner_text()
    assert page.locator("table.cycles tbody tr").count() >= 1
    assert DEMO_PHARMACY_NPI in page.locator("table.remittances").first.inner_text()
    # The charts' styles arrived from /console/charts.css and apply: the bars are the
    # console's blue, the plot's background white.
    assert answered[server.base_url + "/console/charts.css"] == 200
    fill = page.evaluate(
        "getComputedStyle(document.querySelector('svg.pygal-chart .bar rect')).fill"
    )
    assert fill == "rgb(11, 79, 138)"
    assert problems == [], {url: s for url, s in answered.items() if s >= 400}
    assert page.locator("script").count() == 0
    DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOC_SCREENSHOTS / "program.png"))
    page.locator("#reject-reasons").scroll_into_view_if_needed()
    page.locator("section", has=page.locator("#cycles-heading")).screenshot(
        path=str(DOC_SCREENSHOTS / "program-cycles.png")
    )
    screenshot(page, "console-program", full_page=True)
