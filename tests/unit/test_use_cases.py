"""The use cases against the in-memory ledger, accumulator and decision channel: what a
claim's life does, without SQL, Redis or Celery (the same paths run on the real parts in
tests/integration and tests/e2e)."""

from __future__ import annotations

from datetime import date

import pytest

from adjudicator.services import (
    accumulators,
    adjudication,
    claim_queries,
    eligibility_inquiry,
    enrollments,
    intake,
    reversals,
    review,
)
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.intake import Answer
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import ClaimFilter
from schemas.claims import decision_json
from tasks.claims import decide_and_announce
from tests.fakes import memory_runtime
from tests.integration.builders import (
    STAFF,
    claim_payload,
    enrollment_payload,
    load_claim,
    load_enrollment,
    pharmacy,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def rt() -> Runtime:
    return memory_runtime(sync_timeout=0.05)


@pytest.fixture
def member(rt: Runtime) -> dict:
    return enrollments.enroll(rt, load_enrollment(enrollment_payload()), STAFF)


@pytest.fixture
def npi(rt: Runtime) -> str:
    return pharmacy(rt)


def _submit(rt: Runtime, payload: dict) -> intake.Submission:
    return intake.submit_claim(rt, load_claim(payload), wait=None)


def _pay(rt: Runtime, payload: dict) -> str:
    claim_id = _submit(rt, payload).claim_id
    adjudication.adjudicate(rt, claim_id)
    return claim_id


def test_a_new_claim_is_stored_received_and_published(rt, member, npi):
    submitted = _submit(rt, claim_payload(member["cardholder_id"], npi))

    assert (submitted.answer, submitted.new) == (Answer.ACCEPTED, True)
    assert submitted.claim is not None and submitted.claim.status == "received"
    assert rt.decisions.published == [submitted.claim_id]  # type: ignore[attr-defined]  # the fake's own


def test_a_claim_a_request_waits_for_goes_on_the_queue_workers_take_first(rt, member, npi):
    unwaited = _submit(rt, claim_payload(member["cardholder_id"], npi, rx_number="RXA"))
    waited = intake.submit_claim(
        rt, load_claim(claim_payload(member["cardholder_id"], npi, rx_number="RXW")), wait=0.01
    )

    assert rt.decisions.published == [unwaited.claim_id, waited.claim_id]  # type: ignore[attr-defined]  # the fake's own
    assert rt.decisions.waited == [waited.claim_id]  # type: ignore[attr-defined]  # the fake's own


def test_adjudicating_pays_within_the_annual_maximum(rt, member, npi):
    first = _pay(rt, claim_payload(member["cardholder_id"], npi, responsibility="11000.00"))
    second = _pay(rt, claim_payload(member["cardholder_id"], npi, responsibility="1500.00"))

    paid = [claim_queries.get(rt, c)["amounts"]["program_paid"] for c in (first, second)]
    assert paid == [1_100_000, 100_000]
    assert rt.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 1_200_000


def test_an_identical_resubmission_of_a_paid_claim_is_a_duplicate_and_stores_nothing(
    rt, member, npi
):
    payload = claim_payload(member["cardholder_id"], npi)
    paid = _pay(rt, payload)

    again = _submit(rt, payload)

    assert (again.claim_id, again.answer, again.new) == (paid, Answer.DUPLICATE, False)
    assert rt.decisions.published == [paid]  # type: ignore[attr-defined]  # the fake's own


def test_a_waiting_request_gets_the_decision_the_worker_rendered(rt, member, npi):
    rt.decisions.worker = lambda claim_id: decide_and_announce(rt, claim_id)
    payload = claim_payload(member["cardholder_id"], npi)

    submitted = intake.submit_claim(rt, load_claim(payload), wait=1)

    assert (submitted.answer, submitted.claim) == (Answer.DECIDED, None)
    assert submitted.rendered == decision_json(claim_queries.get(rt, submitted.claim_id))


def test_a_claim_nobody_decides_within_the_wait_is_accepted(rt, member, npi):
    payload = claim_payload(member["cardholder_id"], npi)

    submitted = intake.submit_claim(rt, load_claim(payload), wait=0.05)

    assert submitted.answer is Answer.ACCEPTED and submitted.claim is not None
    assert submitted.claim.status == "received"


def test_adjudicating_twice_decides_once(rt, member, npi):
    claim_id = _submit(rt, claim_payload(member["cardholder_id"], npi)).claim_id

    first = adjudication.adjudicate(rt, claim_id)
    again = adjudication.adjudicate(rt, claim_id)

    assert first is not None and first.status == "paid" and again is None
    assert rt.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 150_000


def test_adjudicating_an_unknown_claim_changes_nothing(rt):
    assert adjudication.adjudicate(rt, "no-such-claim") is None
    assert claim_queries.read_claim(rt, "no-such-claim") is None


def test_a_reversal_gives_the_amount_back_once(rt, member, npi):
    claim_id = _pay(rt, claim_payload(member["cardholder_id"], npi))

    reversed_ = reversals.reverse(rt, claim_id, npi, "pharmacy:test")
    again = reversals.reverse(rt, claim_id, npi, "pharmacy:test")

    assert reversed_.status == again.status == "reversed"
    assert reversed_.decision["benefit"]["used_after"] == 0
    assert rt.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 0
    with rt.ledger.reading() as uow:
        assert uow.claims.reversals_to_release() == []  # the release is finished


def test_a_claim_never_paid_cannot_be_reversed_and_another_pharmacy_sees_none(rt, member, npi):
    rejected = _pay(rt, claim_payload("IC-unknown", npi))

    with pytest.raises(Conflict):
        reversals.reverse(rt, rejected, npi, "pharmacy:test")
    with pytest.raises(NotFound):
        reversals.reverse(rt, rejected, pharmacy(rt), "pharmacy:other")


def test_approving_a_review_pays_the_claim_with_the_rule_set_aside(rt, npi):
    toddler = {**enrollment_payload()["patient"], "date_of_birth": "2023-06-01"}
    member = enrollments.enroll(rt, load_enrollment(enrollment_payload(patient=toddler)), STAFF)
    payload = claim_payload(member["cardholder_id"], npi, patient={"date_of_birth": "2023-06-01"})
    claim_id = _pay(rt, payload)
    assert claim_queries.get(rt, claim_id)["status"] == "rejected"

    approved = review.review(rt, claim_id, "approve", "seen the chart", "rita")

    assert (approved.status, approved.review_state) == ("paid", "approved")
    with pytest.raises(Conflict):
        review.review(rt, claim_id, "deny", "too late", "rita")


def test_the_accumulators_agree_with_the_ledger_and_a_rebuild_restores_them(rt, member, npi):
    _pay(rt, claim_payload(member["cardholder_id"], npi))
    assert accumulators.check(rt)["mismatches"] == []

    rt.accumulator.replace(member["cardholder_id"], {}, {}, set())
    assert len(accumulators.check(rt)["mismatches"]) == 1
    accumulators.rebuild(rt)

    assert accumulators.check(rt)["mismatches"] == []
    assert rt.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 150_000


def test_when_the_accumulator_forgets_the_ledger_still_holds_the_year_to_its_maximum(
    rt, member, npi
):
    for _ in range(2):
        _pay(rt, claim_payload(member["cardholder_id"], npi, responsibility="5000.00"))
    rt.accumulator.forget_everything()  # type: ignore[attr-defined]  # the fake's own

    cut = _pay(rt, claim_payload(member["cardholder_id"], npi, responsibility="5000.00"))
    refused = _pay(rt, claim_payload(member["cardholder_id"], npi, responsibility="5000.00"))

    assert claim_queries.get(rt, cut)["amounts"]["program_paid"] == 200_000
    assert [r["code"] for r in claim_queries.get(rt, refused)["reject_codes"]] == ["76"]
    assert rt.accumulator.corrections() == 1  # the cut; the year was healed after it
    assert rt.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 1_200_000


def test_an_eligibility_inquiry_answers_what_is_left_and_stores_only_its_event(rt, member, npi):
    _pay(rt, claim_payload(member["cardholder_id"], npi, responsibility="1500.00"))

    answer = eligibility_inquiry.inquire(
        rt,
        cardholder_id=member["cardholder_id"],
        date_of_birth=None,
        date_of_service=date(2024, 3, 1),
        pharmacy_npi=npi,
        actor="switch:test",
    )

    assert answer == eligibility_inquiry.Inquiry(
        (), (date(2024, 1, 1), date(2024, 12, 31)), 1_050_000
    )
    with rt.ledger.reading() as uow:
        (event,) = uow.events.of("member", member["cardholder_id"])
        assert len(uow.claims.page(ClaimFilter(), 10, None)) == 1  # the paid claim alone
    assert event.data == {"date_of_service": "2024-03-01", "pharmacy_npi": npi, "reject_codes": []}


def test_an_eligibility_inquiry_from_outside_the_network_is_40_alone(rt, member):
    answer = eligibility_inquiry.inquire(
        rt,
        cardholder_id=member["cardholder_id"],
        date_of_birth=date(1990, 1, 1),
        date_of_service=date(2024, 3, 1),
        pharmacy_npi=pharmacy(rt, chain="corner drugstore"),
        actor="switch:test",
    )

    assert [code for code, _message in answer.reject_codes] == ["40"]
    assert (answer.benefit_period, answer.remaining) == (None, None)


def _rebill(rt: Runtime, payload: dict, replaces: str) -> str:
    data = load_claim(payload)
    submitted = intake.submit_claim(rt, data, wait=None, channel="ncpdp", rebill_of=replaces)
    return submitted.claim_id


def _used(rt: Runtime, cardholder: str) -> int:
    return sum(rt.accumulator.snapshot(cardholder)["used"].values())


def test_a_rebill_reverses_the_paid_claim_and_pays_the_new_content(rt, member, npi):
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, npi, rx_number="1001")
    old = _pay(rt, payload)
    new = _rebill(rt, {**payload, "fill_number": 0, "prescriber_npi": None}, old)

    decided = adjudication.adjudicate(rt, new)

    assert decided is not None and decided.status == "paid"
    assert claim_queries.read_claim(rt, old).status == "reversed"  # type: ignore[union-attr]  # read back: present
    assert _used(rt, cardholder) == decided.program_paid


def test_a_rebill_that_rejects_leaves_the_old_claim_paid_and_nothing_of_itself(rt, member, npi):
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, npi, rx_number="1001")
    old = _pay(rt, payload)
    paid = _used(rt, cardholder)
    refused = {**payload, "cob": {"other_coverage_code": 2}}
    new = _rebill(rt, refused, old)

    decided = adjudication.adjudicate(rt, new)

    assert decided is not None and decided.status == "rejected"  # the answer, not stored
    assert claim_queries.read_claim(rt, new) is None
    assert claim_queries.read_claim(rt, old).status == "paid"  # type: ignore[union-attr]  # read back: present
    assert _used(rt, cardholder) == paid


def test_a_claim_nobody_decided_in_time_is_rejected_85_and_a_rebill_discarded(rt, member, npi):
    cardholder = member["cardholder_id"]
    late = _submit(rt, claim_payload(cardholder, npi, rx_number="2002")).claim_id
    old = _pay(rt, claim_payload(cardholder, npi, rx_number="1001"))
    changed = claim_payload(cardholder, npi, rx_number="1001", responsibility="900.00")
    rebill = _rebill(rt, changed, old)

    rejected = intake.give_up(rt, late)
    discarded = intake.give_up(rt, rebill)

    assert rejected is not None and rejected.status == "rejected"
    assert [r["code"] for r in rejected.decision["reject_codes"]] == ["85"]  # type: ignore[index]  # decided: a decision
    assert adjudication.adjudicate(rt, late) is None  # the worker, late, changes nothing
    assert discarded is None and claim_queries.read_claim(rt, rebill) is None
    assert claim_queries.read_claim(rt, old).status == "paid"  # type: ignore[union-attr]  # read back: present
