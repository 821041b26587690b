"""PAYMENTS.md's invariants under any sequence of what moves money (hypothesis, on the
real ledger): pays, reversals, review approvals, re-adjudications and cycle closes."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adjudicator.domain.money import parse_money
from adjudicator.domain.payments import owed_for
from adjudicator.services import claim_queries, identity, money, payments, reversals, review
from adjudicator.services.runtime import Runtime
from tests.integration.builders import claim_payload, enroll, pay
from tests.integration.readjudication_support import post_terms, run_job

pytestmark = pytest.mark.integration

versions = itertools.count()
BORN_LAST_YEAR = {
    "first_name": "A", "last_name": "B", "date_of_birth": "2023-06-01", "sex": "F",
    "address": {"line1": "1 Main St", "city": "Albany", "state": "NY", "zip": "12207",
                "country": "US"},
}  # fmt: skip

steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.sampled_from(["300.00", "1500.00", "5000.00"])),
        st.tuples(st.just("pay_too_young"), st.just("900.00")),
        st.tuples(st.just("reverse"), st.integers(0, 20)),
        st.tuples(st.just("approve"), st.integers(0, 20)),
        st.tuples(st.just("readjudicate"), st.sampled_from(["1000.00", "6000.00", "12000.00"])),
        st.tuples(st.just("close"), st.none()),
    ),
    min_size=1,
    max_size=12,
)


def _fresh_pharmacy(rt: Runtime) -> str:
    """A pharmacy of this example's own: hypothesis seeds `random` alike for every example,
    so the builders' random NPI would be the same one each time."""
    body = f"{1 + uuid.uuid4().int % 9}{uuid.uuid4().int % 10**8:08d}"
    total = 0
    for position, char in enumerate(reversed("80840" + body)):
        digit = int(char) * (1 if position % 2 else 2)
        total += digit - 9 if digit > 9 else digit
    npi = body + str((10 - total % 10) % 10)
    identity.add_pharmacy(rt.ledger, npi, f"Pharmacy {npi}", "accredo")
    return npi


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=steps)
def test_any_sequence_keeps_every_claims_events_equal_to_what_is_owed(rt: Runtime, script):
    npi = _fresh_pharmacy(rt)
    member = enroll(rt, effective_date="2024-01-01")["cardholder_id"]
    young = enroll(rt, effective_date="2024-01-01", patient=BORN_LAST_YEAR)["cardholder_id"]
    claims: list[str] = []
    for step, arg in script:
        rx = f"RXP{next(versions)}"
        if step == "pay":
            claims.append(
                pay(rt, claim_payload(member, npi, responsibility=arg, rx_number=rx)).claim_id
            )
        elif step == "pay_too_young":
            payload = claim_payload(young, npi, responsibility=arg, rx_number=rx,
                                    patient={"date_of_birth": "2023-06-01"})  # fmt: skip
            claims.append(pay(rt, payload).claim_id)
        elif step == "reverse" and claims:
            claim = claim_queries.read_claim(rt, claims[arg % len(claims)])
            if claim is not None and claim.status in ("paid", "reversed"):
                reversals.reverse(rt, claim.claim_id, npi, "pharmacy:property")
        elif step == "approve" and claims:
            claim = claim_queries.read_claim(rt, claims[arg % len(claims)])
            if claim is not None and claim.review_state == "open":
                review.review(rt, claim.claim_id, "approve", "ok", "property")
        elif step == "readjudicate":
            post_terms(rt, f"2024-p{next(versions)}", "2024-01-01", annual_max=arg)
            run_job(rt, "2024-01-01", "2024-12-31", "apply", member)
        elif step == "close":
            payments.close(rt, None, "user:property")
    payments.close(rt, None, "user:property")

    assert money.check(rt) == {"pharmacies": [], "mismatches": []}
    remitted = payments.list_remittances(rt, cycle_id=None, npi=npi, limit=200, cursor=None)
    owed_now = sum(
        owed_for(c.status, c.program_paid)
        for c in (claim_queries.read_claim(rt, claim_id) for claim_id in claims)
        if c is not None
    )
    assert sum(parse_money(r["total"], signed=True) for r in remitted["items"]) == owed_now
