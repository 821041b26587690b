"""Re-adjudication end to end: HTTP jobs run by the real worker on the `batch` queue, and
`adjudicator readjudicate` against the running server's ledger and Redis.

The server's ledger is shared with every other test, so each job here names its own
cardholder; nothing posts a terms version (that would decide other tests' claims).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, REVIEWER_TOKEN, Server
from tests.e2e.helpers import benefit, claim_payload, claims_of, cli_status, enroll, submit

pytestmark = pytest.mark.e2e

WINDOW = {"date_from": "2026-01-01", "date_to": "2026-12-31"}


def member_with_paid_claims(server: Server) -> dict[str, Any]:
    """Three paid 2026 claims ($1,500, $2,000, $1,000): $4,500 used."""
    member = enroll(server, state="NY")
    for dos, amount in (("2026-02-01", "1500.00"), ("2026-03-01", "2000.00")):
        submit(server, claim_payload(member["cardholder_id"], drug=amount, date_of_service=dos))
    submit(
        server, claim_payload(member["cardholder_id"], drug="1000.00", date_of_service="2026-06-01")
    )
    assert benefit(server, member["cardholder_id"])["used"] == "4500.00"
    return member


def found_on_medicaid(server: Server, member: dict[str, Any]) -> None:
    answer = server.call(
        "PATCH",
        f"/v1/enrollments/{member['enrollment_id']}",
        REVIEWER_TOKEN,
        json={"coverage": {"type": "medicaid"}},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ineligible"


def run_job(server: Server, cardholder_id: str, mode: str) -> dict[str, Any]:
    """POST the job, then poll it until the worker has finished it."""
    body = {**WINDOW, "cardholder_id": cardholder_id, "mode": mode}
    started = server.call("POST", "/v1/readjudications", ADMIN_TOKEN, json=body)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    location = started.headers["Location"]
    deadline = time.monotonic() + 60
    while True:
        job = server.call("GET", location, ADMIN_TOKEN).json()
        if job["status"] in ("succeeded", "failed"):
            return job  # type: ignore[no-any-return]  # JSON is Any
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.2)


def test_a_dry_run_then_an_apply_on_the_batch_queue(server: Server) -> None:
    member = member_with_paid_claims(server)
    holder = member["cardholder_id"]
    found_on_medicaid(server, member)

    dry = run_job(server, holder, "dry_run")

    assert dry["status"] == "succeeded", dry
    assert dry["summary"] == {
        "claims": 3,
        "unchanged": 0,
        "changed": 3,
        "program_paid_before": "4500.00",
        "program_paid_after": "0.00",
        "delta": "-4500.00",
    }
    changes = server.call("GET", dry["links"]["changes"], ADMIN_TOKEN).json()
    assert len(changes["items"]) == 3 and changes["next_cursor"] is None
    assert {c["after"]["status"] for c in changes["items"]} == {"rejected"}
    assert {c["status"] for c in claims_of(server, holder)} == {"paid"}  # untouched
    assert benefit(server, holder)["used"] == "4500.00"

    applied = run_job(server, holder, "apply")

    assert applied["status"] == "succeeded"
    assert applied["summary"]["delta"] == "-4500.00"
    for claim in claims_of(server, holder):
        assert claim["status"] == "rejected"
        assert [r["code"] for r in claim["reject_codes"]] == ["65"]
        history = server.call("GET", f"/v1/claims/{claim['claim_id']}", REVIEWER_TOKEN).json()
        assert history["events"][-1]["type"] == "readjudicated"
    assert benefit(server, holder)["used"] == "0.00"
    assert run_job(server, holder, "apply")["summary"]["changed"] == 0


def test_jobs_answer_403_to_a_reviewer_and_404_when_unknown(server: Server) -> None:
    body = {**WINDOW, "mode": "dry_run", "cardholder_id": "IC0000000000"}
    assert server.call("POST", "/v1/readjudications", REVIEWER_TOKEN, json=body).status_code == 403
    assert server.call("POST", "/v1/readjudications", json=body).status_code == 401
    assert server.call("GET", "/v1/readjudications/unknown", ADMIN_TOKEN).status_code == 404


def test_the_cli_applies_with_the_servers_configuration(server: Server) -> None:
    member = member_with_paid_claims(server)
    holder = member["cardholder_id"]
    found_on_medicaid(server, member)
    args = ("readjudicate", "--from", "2026-01-01", "--to", "2026-12-31", "--cardholder", holder)

    queued = server.cli(*args, "--queue")  # a dry run on the worker's batch queue, followed
    applied = server.cli(*args, "--apply")  # applied in the CLI process itself

    assert (queued["status"], queued["mode"], queued["summary"]["changed"]) == (
        "succeeded",
        "dry_run",
        3,
    )
    assert (applied["status"], applied["mode"], applied["summary"]["delta"]) == (
        "succeeded",
        "apply",
        "-4500.00",
    )
    assert {c["status"] for c in claims_of(server, holder)} == {"rejected"}
    assert benefit(server, holder)["used"] == "0.00"
    # A new claim for the year is rejected too, and the accumulator agrees with the ledger.
    late = submit(server, claim_payload(holder, date_of_service="2026-07-01"))
    assert late["status"] == "rejected"
    _, printed = cli_status(server, "accumulators", "check")
    mismatches = json.loads(printed)["mismatches"]
    assert [m for m in mismatches if m["enrollment_id"] == member["enrollment_id"]] == []
