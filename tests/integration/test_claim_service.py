"""services/intake, adjudication and reversals driven in-process: intake, adjudication,
replay, duplicates, sweep, reversal. The `runtime` fixture's enqueue only records claim
ids; tests run the task."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
import redis
from sqlalchemy import update

from adjudicator.adapters import ledger
from adjudicator.adapters.accumulator import accumulator_key
from adjudicator.adapters.decision_channel import DONE, DecisionChannel
from adjudicator.adapters.tables import claims as claims_table
from adjudicator.domain.outcomes import NcpdpKey
from adjudicator.services import (
    accumulators,
    adjudication,
    claim_queries,
    enrollments,
    intake,
    records,
    reversals,
)
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.intake import Answer, Submission
from adjudicator.services.runtime import Runtime
from schemas.claims import decision_json
from tasks.claims import decide_and_announce
from tests.integration.builders import (
    STAFF,
    claim_payload,
    claim_row,
    enroll,
    enrollment_payload,
    events,
    load_claim,
    load_patch,
    pay,
    pharmacy,
    submit,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def member(runtime):
    """A fresh, active, commercially insured member enrolled for 2024."""
    return enroll(runtime, effective_date="2024-01-01")


@pytest.fixture
def npi(runtime):
    return pharmacy(runtime)


def used(rt: Runtime, member: dict) -> int:
    return rt.accumulator.used(member["cardholder_id"], member["enrollment_id"])


# --- intake and adjudication -------------------------------------------------------


def test_a_submitted_claim_is_stored_received_and_enqueued(runtime, enqueued, member, npi):
    intake = submit(runtime, claim_payload(member["cardholder_id"], npi))

    assert (intake.new, intake.duplicate) == (True, False)
    assert enqueued == [intake.claim_id]
    row = claim_row(runtime, intake.claim_id)
    assert (row.status, row.program_paid, row.decision) == ("received", 0, None)
    assert [e.type for e in events(runtime, "claim", intake.claim_id)] == ["received"]


def test_adjudicating_a_received_claim_pays_it(runtime, member, npi):
    intake = submit(runtime, claim_payload(member["cardholder_id"], npi))

    adjudication.adjudicate(runtime, intake.claim_id)

    view = claim_queries.get(runtime, intake.claim_id, with_events=True)
    assert view["status"] == "paid"
    assert view["reject_codes"] == []
    assert view["authorization_number"]
    assert view["amounts"] == {
        "patient_responsibility": 150_000,
        "eligible": 150_000,
        "program_paid": 150_000,
        "patient_pay": 0,
    }
    benefit = view["benefit"]
    assert (benefit["period_start"], benefit["period_end"]) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    assert (benefit["used_before"], benefit["used_after"]) == (0, 150_000)
    assert benefit["remaining"] == benefit["annual_max"] - 150_000
    assert view["terms_version"] == "2020-01"
    assert [e["type"] for e in view["events"]] == ["received", "decided"]
    assert view["events"][1]["data"] == {
        "before": {"status": "received"},
        "after": {"status": "paid", "program_paid": 150_000},
    }
    assert used(runtime, member) == 150_000


def test_adjudicating_a_claim_twice_changes_nothing(runtime, member, npi):
    first = pay(runtime, claim_payload(member["cardholder_id"], npi))

    adjudication.adjudicate(runtime, first.claim_id)

    assert claim_row(runtime, first.claim_id) == first
    assert len(events(runtime, "claim", first.claim_id)) == 2
    assert used(runtime, member) == first.program_paid


def test_adjudicating_an_unknown_claim_id_does_nothing(runtime):
    claim_id = uuid.uuid4().hex
    used_before = accumulators.check(runtime)["mismatches"]

    decided = adjudication.adjudicate(runtime, claim_id)  # a stale message: no error, no row

    assert decided is None and claim_queries.read_claim(runtime, claim_id) is None
    assert events(runtime, "claim", claim_id) == []
    assert accumulators.check(runtime)["mismatches"] == used_before


def test_an_identical_resubmission_of_a_paid_claim_is_a_duplicate(runtime, enqueued, member, npi):
    payload = claim_payload(member["cardholder_id"], npi)
    paid = pay(runtime, payload)
    enqueued.clear()

    again = submit(runtime, payload)

    assert (again.claim_id, again.duplicate, again.new) == (paid.claim_id, True, False)
    assert enqueued == []
    assert used(runtime, member) == paid.program_paid


def test_a_resubmission_that_differs_only_by_normalization_is_identical(runtime, enqueued, npi):
    cash_pay = enroll(runtime, coverage={"type": "uninsured"})
    payload = claim_payload(cash_pay["cardholder_id"], npi, cob=None)  # absent cob: code 1
    paid = pay(runtime, payload)
    assert (paid.status, paid.program_paid) == ("paid", 100_000)  # the cash-pay per-Rx max
    enqueued.clear()
    line = {**payload["lines"][0], "code": "15054104005", "quantity": "8"}
    respelled = {key: value for key, value in payload.items() if key != "cob"}

    again = submit(runtime, {**respelled, "lines": [line]})

    assert (again.claim_id, again.duplicate) == (paid.claim_id, True)
    assert enqueued == []


def test_an_identical_resubmission_while_the_first_is_undecided_answers_the_first(
    runtime, enqueued, member, npi
):
    payload = claim_payload(member["cardholder_id"], npi)
    first = submit(runtime, payload)

    again = submit(runtime, payload)

    assert (again.claim_id, again.duplicate, again.new) == (first.claim_id, False, False)
    assert enqueued == [first.claim_id]


def _insert_identical_received_claim(rt: Runtime, payload: dict) -> str:
    """A second `received` row for the same request, as two racing intakes would leave."""
    data = load_claim(payload)
    request = records.normalized_claim_request(data)
    claim_id = uuid.uuid4().hex
    with rt.ledger.writing() as uow:
        uow.claims.add(records.received_claim(claim_id, data, request))
    return claim_id


def test_of_two_identical_claims_that_raced_past_intake_the_second_is_a_duplicate(
    runtime, member, npi
):
    payload = claim_payload(member["cardholder_id"], npi)
    first = submit(runtime, payload).claim_id
    second = _insert_identical_received_claim(runtime, payload)

    adjudication.adjudicate(runtime, first)
    adjudication.adjudicate(runtime, second)

    paid, duplicate = claim_row(runtime, first), claim_row(runtime, second)
    assert paid.status == "paid"
    assert (duplicate.status, duplicate.duplicate_of) == ("duplicate", first)
    assert duplicate.program_paid == 0
    assert used(runtime, member) == paid.program_paid == 150_000
    assert second not in runtime.accumulator.snapshot(member["cardholder_id"])["grants"]
    view = claim_queries.get(runtime, second)
    assert (view["claim_id"], view["status"]) == (first, "duplicate")


def test_of_two_raced_claims_decided_in_either_order_only_one_is_paid(runtime, member, npi):
    payload = claim_payload(member["cardholder_id"], npi)
    first = submit(runtime, payload).claim_id
    second = _insert_identical_received_claim(runtime, payload)

    adjudication.adjudicate(runtime, second)
    adjudication.adjudicate(runtime, first)

    statuses = {claim_row(runtime, c).status for c in (first, second)}
    assert statuses == {"paid", "duplicate"}
    assert used(runtime, member) == 150_000


def _pay_meanwhile(monkeypatch, deciding: str, twin: str) -> None:
    """While `deciding` is between its read and its write, `twin` gets decided and paid."""
    apply_annual_max = adjudication._apply_annual_max

    def twin_paid_first(rt, row, evaluation):  # type: ignore[no-untyped-def]  # patched in
        if row.claim_id == deciding and claim_row(rt, twin).status == "received":
            adjudication.adjudicate(rt, twin)
        return apply_annual_max(rt, row, evaluation)

    monkeypatch.setattr(adjudication, "_apply_annual_max", twin_paid_first)


def test_a_claim_whose_key_is_paid_between_its_read_and_its_write_is_decided_again_83(
    runtime, member, npi, monkeypatch
):
    payload = claim_payload(member["cardholder_id"], npi)
    twin = submit(runtime, payload).claim_id
    different = {**payload, "lines": [{**payload["lines"][0], "patient_responsibility": "900.00"}]}
    late = submit(runtime, different).claim_id
    _pay_meanwhile(monkeypatch, late, twin)

    adjudication.adjudicate(runtime, late)

    assert claim_row(runtime, twin).status == "paid"
    view = claim_queries.get(runtime, late)
    assert (view["status"], [r["code"] for r in view["reject_codes"]]) == ("rejected", ["83"])
    assert used(runtime, member) == 150_000  # the late claim's reservation was given back
    assert late not in runtime.accumulator.snapshot(member["cardholder_id"])["grants"]


def test_an_identical_claim_paid_between_its_twins_read_and_write_makes_it_a_duplicate(
    runtime, member, npi, monkeypatch
):
    payload = claim_payload(member["cardholder_id"], npi)
    twin = submit(runtime, payload).claim_id
    late = _insert_identical_received_claim(runtime, payload)
    _pay_meanwhile(monkeypatch, late, twin)

    adjudication.adjudicate(runtime, late)

    row = claim_row(runtime, late)
    assert (row.status, row.duplicate_of, row.program_paid) == ("duplicate", twin, 0)
    assert used(runtime, member) == 150_000


def test_a_different_claim_with_the_key_of_a_paid_claim_is_rejected_83(runtime, member, npi):
    payload = claim_payload(member["cardholder_id"], npi)
    paid = pay(runtime, payload)
    different = {**payload, "lines": [{**payload["lines"][0], "patient_responsibility": "900.00"}]}

    intake = submit(runtime, different)
    adjudication.adjudicate(runtime, intake.claim_id)

    assert intake.claim_id != paid.claim_id
    view = claim_queries.get(runtime, intake.claim_id)
    assert view["status"] == "rejected"
    assert [r["code"] for r in view["reject_codes"]] == ["83"]
    assert view["amounts"]["program_paid"] == 0
    assert used(runtime, member) == paid.program_paid


def test_an_identical_resubmission_of_a_rejected_claim_is_a_new_claim(
    runtime, enqueued, member, npi
):
    no_other_coverage = claim_payload(member["cardholder_id"], npi, cob=None)  # 41: bill primary
    rejected = pay(runtime, no_other_coverage)
    assert rejected.status == "rejected"

    again = submit(runtime, no_other_coverage)

    assert again.new and again.claim_id != rejected.claim_id
    assert enqueued[-1] == again.claim_id


def test_a_claim_for_a_year_patched_to_medicaid_is_rejected_65(runtime, member, npi):
    patch = load_patch({"coverage": {"type": "medicaid"}})
    enrollments.update(runtime, member["enrollment_id"], patch, STAFF)

    row = pay(runtime, claim_payload(member["cardholder_id"], npi))

    assert row.status == "rejected"
    assert [r["code"] for r in row.decision["reject_codes"]] == ["65"]
    assert used(runtime, member) == 0


def _reserved_by_an_attempt_that_died(rt: Runtime, member: dict, claim_id: str) -> None:
    rt.accumulator.reserve(
        member["cardholder_id"], member["enrollment_id"], claim_id, 150000, 1200000
    )


def test_a_retried_claim_rejected_now_gives_back_what_an_earlier_attempt_reserved(
    runtime, member, npi
):
    intake = submit(runtime, claim_payload(member["cardholder_id"], npi))
    _reserved_by_an_attempt_that_died(runtime, member, intake.claim_id)
    patch = load_patch({"attestations": {"other_assistance": True}})
    enrollments.update(runtime, member["enrollment_id"], patch, STAFF)

    adjudication.adjudicate(runtime, intake.claim_id)

    assert claim_row(runtime, intake.claim_id).status == "rejected"
    assert used(runtime, member) == 0


def test_a_rejection_whose_give_back_fails_is_not_recorded(runtime, member, npi, monkeypatch):
    intake = submit(runtime, claim_payload(member["cardholder_id"], npi))
    _reserved_by_an_attempt_that_died(runtime, member, intake.claim_id)
    patch = load_patch({"attestations": {"other_assistance": True}})
    enrollments.update(runtime, member["enrollment_id"], patch, STAFF)

    def redis_gone(*_args):
        raise redis.ConnectionError("Redis went away")

    with monkeypatch.context() as patched:
        patched.setattr(runtime.accumulator, "cancel", redis_gone)
        with pytest.raises(redis.ConnectionError):
            adjudication.adjudicate(runtime, intake.claim_id)

    assert claim_row(runtime, intake.claim_id).status == "received"  # the task retries it
    adjudication.adjudicate(runtime, intake.claim_id)
    assert claim_row(runtime, intake.claim_id).status == "rejected"
    assert used(runtime, member) == 0


def test_a_retried_claim_found_a_duplicate_now_gives_back_what_it_reserved(runtime, member, npi):
    body = claim_payload(member["cardholder_id"], npi)
    first, second = submit(runtime, body), None
    with runtime.engine.begin() as conn:  # two identical claims raced past the intake
        conn.execute(
            update(claims_table)
            .where(claims_table.c.claim_id == first.claim_id)
            .values(request_hash="not-yet-identical")
        )
    second = submit(runtime, body)
    with runtime.engine.begin() as conn:
        conn.execute(
            update(claims_table)
            .where(claims_table.c.claim_id == first.claim_id)
            .values(request_hash=claim_row(runtime, second.claim_id).request_hash)
        )
    _reserved_by_an_attempt_that_died(runtime, member, second.claim_id)

    adjudication.adjudicate(runtime, first.claim_id)
    adjudication.adjudicate(runtime, second.claim_id)

    assert claim_row(runtime, second.claim_id).status == "duplicate"
    assert used(runtime, member) == 150000  # the first claim's, once


def test_a_claim_for_an_unknown_cardholder_is_rejected_52(runtime, npi):
    row = pay(runtime, claim_payload("IC-nobody-has-this-id", npi))

    assert [r["code"] for r in row.decision["reject_codes"]] == ["52"]
    assert row.decision["benefit"] is None


def test_a_claim_from_before_the_program_is_decided_67_not_left_received(runtime, npi):
    member = enroll(runtime, effective_date="2020-01-01")  # the first terms version's day

    row = pay(runtime, claim_payload(member["cardholder_id"], npi, date_of_service="2019-12-31"))

    assert row.status == "rejected"
    assert [r["code"] for r in row.decision["reject_codes"]] == ["67"]
    assert row.decision["terms_version"] == "2020-01"


def test_a_state_sent_with_spaces_is_still_a_drug_only_state(runtime, npi):
    address = {"line1": "1 Main St", "city": "Boston", "state": " ma ", "zip": "02139"}
    member = enroll(
        runtime,
        patient={**enrollment_payload()["patient"], "address": {**address, "country": "US"}},
    )
    service = {"kind": "service", "code": "96372", "patient_responsibility": "25.00"}
    payload = claim_payload(member["cardholder_id"], npi)
    payload["lines"].append(service)

    row = pay(runtime, payload)

    assert (row.status, row.program_paid) == ("paid", 150000)  # the injection excluded
    assert [r["rule"] for r in row.decision["reasons"]] == ["state_drug_only"]


def test_claims_are_paid_up_to_the_annual_maximum_and_then_rejected_76(runtime, member, npi):
    for _ in range(2):
        pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="5000.00"))

    partial = pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="5000.00"))
    nothing_left = pay(runtime, claim_payload(member["cardholder_id"], npi))

    assert (partial.status, partial.program_paid) == ("paid", 200_000)
    assert [r["rule"] for r in partial.decision["reasons"]] == ["annual_max"]
    assert nothing_left.status == "rejected"
    assert [r["code"] for r in nothing_left.decision["reject_codes"]] == ["76"]
    assert used(runtime, member) == 1_200_000


# --- waiting for the decision ------------------------------------------------------


def _worker_inline(rt: Runtime, render: Callable[[dict], str] = decision_json) -> Runtime:
    """`rt` whose published claims the worker's task decides at once, in this thread."""

    def decide(claim_id: str) -> None:
        decide_and_announce(rt, claim_id, render=render)

    return dataclasses.replace(
        rt, decisions=DecisionChannel(rt.redis, rt.config.sync_timeout, decide)
    )


def _submit_and_wait(rt: Runtime, payload: dict, wait: float) -> Submission:
    return intake.submit_claim(rt, load_claim(payload), wait=wait)


def test_waiting_for_a_decision_that_comes_returns_the_decided_row(runtime, member, npi):
    quick = _worker_inline(runtime, render=_unrenderable)  # the token only: read the ledger

    submitted = _submit_and_wait(quick, claim_payload(member["cardholder_id"], npi), 1)

    row = submitted.claim
    assert submitted.answer is Answer.DECIDED and row is not None
    assert (row.claim_id, row.status) == (submitted.claim_id, "paid")


def _unrenderable(_view: dict) -> str:
    raise ValueError("a renderer bug")


def _toddler(rt: Runtime) -> dict:
    """A member under two: claims are rejected 60 with an open review."""
    patient = {**enrollment_payload()["patient"], "date_of_birth": "2023-06-01"}
    return enroll(rt, effective_date="2024-01-01", patient=patient)


@pytest.mark.parametrize("case", ["paid", "open review", "unknown member", "capped"])
def test_the_worker_s_rendered_answer_is_the_decision_read_back_from_the_ledger(
    runtime, member, npi, case
):
    if case == "open review":
        toddler = _toddler(runtime)
        payload = claim_payload(
            toddler["cardholder_id"], npi, patient={"date_of_birth": "2023-06-01"}
        )
    elif case == "unknown member":
        payload = claim_payload("IC-nobody-has-this-id", npi)
    else:
        payload = claim_payload(member["cardholder_id"], npi)
    if case == "capped":
        pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="11900.00"))

    submitted = _submit_and_wait(_worker_inline(runtime), payload, 1)

    answer = submitted.rendered
    assert isinstance(answer, str)
    assert answer == decision_json(claim_queries.get(runtime, submitted.claim_id, npi=npi))
    expected = {"paid": "paid", "capped": "paid"}.get(case, "rejected")
    assert json.loads(answer)["status"] == expected


def test_a_decision_that_fails_to_render_still_wakes_the_waiter_with_a_token(runtime, member, npi):
    broken = _worker_inline(runtime, render=_unrenderable)

    submitted = _submit_and_wait(broken, claim_payload(member["cardholder_id"], npi), 1)

    decided = submitted.claim
    assert submitted.rendered is None and decided is not None
    assert (decided.claim_id, decided.status) == (submitted.claim_id, "paid")


def test_an_answer_nobody_takes_expires_soon_after_the_longest_wait(runtime, member, npi):
    submitted = submit(runtime, claim_payload(member["cardholder_id"], npi))
    decide_and_announce(runtime, submitted.claim_id)

    ttl = runtime.redis.ttl(f"claim-done:{submitted.claim_id}")

    assert runtime.config.sync_timeout < ttl <= runtime.config.sync_timeout + 5


@pytest.mark.parametrize("render", [_unrenderable, decision_json], ids=["token", "rendered"])
def test_a_replayed_task_wakes_the_waiter_with_a_token_to_read_the_ledger(
    runtime, member, npi, render
):
    submitted = submit(runtime, claim_payload(member["cardholder_id"], npi))
    decide_and_announce(runtime, submitted.claim_id, render=render)
    assert runtime.decisions.await_answer(submitted.claim_id, 1) is not None  # the first one
    decide_and_announce(runtime, submitted.claim_id, render=render)  # a replay: decided already

    again = runtime.decisions.await_answer(submitted.claim_id, 1)

    assert again == DONE  # not a decision to answer with: the waiter reads the ledger
    assert claim_row(runtime, submitted.claim_id).status == "paid"


def test_a_rendered_answer_for_a_claim_still_in_flight_is_not_waited_for(runtime, member, npi):
    payload = claim_payload(member["cardholder_id"], npi)
    first = submit(runtime, payload)
    again = submit(runtime, payload)  # identical, while the first is in flight
    assert (again.claim_id, again.new) == (first.claim_id, False)
    worker = threading.Timer(0.2, decide_and_announce, (runtime, first.claim_id))
    worker.start()
    try:
        # Polls the ledger until the first is decided, and leaves its rendered decision.
        repeated = _submit_and_wait(runtime, payload, 2)
    finally:
        worker.join()

    assert repeated.claim is not None and repeated.claim.status == "paid"
    assert (repeated.claim_id, repeated.duplicate) == (first.claim_id, True)
    announced = runtime.decisions.await_answer(first.claim_id, 1)
    assert announced is not None and announced != DONE


@pytest.mark.parametrize("timeout", [0, 0.001, 0.0105, 0.2])
def test_a_wait_that_runs_out_answers_none_on_time(runtime, member, npi, timeout):
    started = time.monotonic()

    submitted = _submit_and_wait(runtime, claim_payload(member["cardholder_id"], npi), timeout)

    assert submitted.answer is Answer.ACCEPTED  # nobody decided it: 202
    assert time.monotonic() - started < timeout + 1  # 0 means "do not wait", not "forever"


def test_a_wait_longer_than_the_redis_clients_socket_timeout_runs_out_quietly(
    runtime, redis_url, member, npi
):
    # redis-py 8 reads with a 5 s socket timeout by default while the sync wait is 10 s;
    # a client with a 2 s socket timeout and a 3 s wait show the same thing, faster.
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    channel = DecisionChannel(client, runtime.config.sync_timeout, print)
    impatient = dataclasses.replace(runtime, decisions=channel)
    started = time.monotonic()
    try:
        submitted = _submit_and_wait(impatient, claim_payload(member["cardholder_id"], npi), 3)
    finally:
        client.close()
    assert submitted.answer is Answer.ACCEPTED
    assert 3 <= time.monotonic() - started < 5


# --- sweep -----------------------------------------------------------------------


def _sweeping(rt: Runtime, enqueued: list[str], after_seconds: int) -> Runtime:
    config = dataclasses.replace(rt.config, sweep_after_seconds=after_seconds)
    channel = DecisionChannel(rt.redis, config.sync_timeout, enqueued.append)
    return dataclasses.replace(rt, config=config, decisions=channel)


def test_sweep_re_enqueues_claims_left_received(runtime, enqueued, member, npi):
    stuck = submit(runtime, claim_payload(member["cardholder_id"], npi)).claim_id
    decided = pay(runtime, claim_payload(member["cardholder_id"], npi)).claim_id
    enqueued.clear()

    count = adjudication.sweep(_sweeping(runtime, enqueued, after_seconds=0))

    assert stuck in enqueued
    assert decided not in enqueued
    assert count == len(enqueued)


def test_sweep_waits_while_claims_are_queued_then_re_enqueues(runtime, enqueued, member, npi):
    # A claim older than the threshold may only be waiting its turn behind a flood of
    # asynchronous claims: the sweep publishes nothing again until the queues are empty.
    queue = f"claims-sweep-{uuid.uuid4().hex[:8]}"
    stuck = submit(runtime, claim_payload(member["cardholder_id"], npi)).claim_id
    config = dataclasses.replace(runtime.config, sweep_after_seconds=0)
    channel = DecisionChannel(runtime.redis, config.sync_timeout, enqueued.append, queues=(queue,))
    sweeping = dataclasses.replace(runtime, config=config, decisions=channel)
    enqueued.clear()
    runtime.redis.lpush(queue, "a message not yet taken")
    try:
        assert adjudication.sweep(sweeping) == 0
        assert enqueued == []
    finally:
        runtime.redis.delete(queue)

    assert adjudication.sweep(sweeping) >= 1
    assert stuck in enqueued


def test_sweep_leaves_claims_younger_than_the_threshold_alone(runtime, enqueued, member, npi):
    fresh = submit(runtime, claim_payload(member["cardholder_id"], npi)).claim_id
    backdated = submit(runtime, claim_payload(member["cardholder_id"], npi)).claim_id
    with runtime.engine.begin() as conn:
        conn.execute(
            update(claims_table)
            .where(claims_table.c.claim_id == backdated)
            .values(created_at=ledger.now() - timedelta(minutes=5))
        )
    enqueued.clear()

    adjudication.sweep(_sweeping(runtime, enqueued, after_seconds=60))

    assert backdated in enqueued
    assert fresh not in enqueued


def test_a_swept_claim_is_decided_once_even_if_its_first_message_arrives_too(
    runtime, enqueued, member, npi
):
    claim_id = submit(runtime, claim_payload(member["cardholder_id"], npi)).claim_id
    adjudication.sweep(_sweeping(runtime, enqueued, after_seconds=0))

    for queued in [c for c in enqueued if c == claim_id]:
        adjudication.adjudicate(runtime, queued)

    assert enqueued.count(claim_id) == 2
    assert claim_row(runtime, claim_id).status == "paid"
    assert used(runtime, member) == 150_000


# --- reversal --------------------------------------------------------------------


def test_reversing_a_paid_claim_gives_its_amount_back_once(runtime, member, npi):
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))

    reversed_ = reversals.reverse(runtime, paid.claim_id, npi, "pharmacy:" + npi)
    again = reversals.reverse(runtime, paid.claim_id, npi, "pharmacy:" + npi)

    assert reversed_.status == again.status == "reversed"
    assert again == reversed_
    assert used(runtime, member) == 0
    logged = [e for e in events(runtime, "claim", paid.claim_id) if e.type == "reversed"]
    assert [e.data["after"] for e in logged] == [{"status": "reversed", "released": 150_000}]
    assert reversed_.paid_key is None
    assert reversed_.decision["amounts"]["program_paid"] == 150_000  # kept for the record


def test_a_reversal_answers_the_years_use_just_before_and_just_after_it(runtime, member, npi):
    first = pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="1500.00"))
    pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="1000.00"))

    reversed_ = reversals.reverse(runtime, first.claim_id, npi, "pharmacy:" + npi)

    benefit = reversed_.decision["benefit"]
    assert (benefit["used_before"], benefit["used_after"]) == (250_000, 100_000)
    assert benefit["remaining"] == benefit["annual_max"] - 100_000
    assert used(runtime, member) == 100_000


def test_reversing_a_claim_that_was_never_paid_is_a_conflict(runtime, member, npi):
    rejected = pay(runtime, claim_payload(member["cardholder_id"], npi, cob=None))
    received = submit(runtime, claim_payload(member["cardholder_id"], npi)).claim_id

    for claim_id in (rejected.claim_id, received):
        with pytest.raises(Conflict):
            reversals.reverse(runtime, claim_id, npi, "pharmacy:" + npi)
    assert used(runtime, member) == 0


def test_reversing_another_pharmacys_claim_is_not_found(runtime, member, npi):
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))

    with pytest.raises(NotFound):
        reversals.reverse(runtime, paid.claim_id, pharmacy(runtime), "pharmacy:other")
    assert claim_row(runtime, paid.claim_id).status == "paid"


def test_a_reversed_claims_key_can_be_billed_again(runtime, member, npi):
    payload = claim_payload(member["cardholder_id"], npi)
    paid = pay(runtime, payload)
    reversals.reverse(runtime, paid.claim_id, npi, "pharmacy:" + npi)

    rebilled = pay(runtime, payload)

    assert rebilled.claim_id != paid.claim_id
    assert rebilled.status == "paid"
    assert used(runtime, member) == 150_000


def test_a_year_one_claim_reversed_after_the_renewal_gives_back_to_year_one(runtime, npi):
    year_one = enroll(runtime, effective_date="2023-03-01")
    cardholder = year_one["cardholder_id"]
    old = pay(runtime, claim_payload(cardholder, npi, date_of_service="2023-06-01"))
    year_two = enroll(runtime, cardholder_id=cardholder, effective_date="2024-03-01")
    new = pay(runtime, claim_payload(cardholder, npi, date_of_service="2024-06-01"))
    assert (old.enrollment_id, new.enrollment_id) == (
        year_one["enrollment_id"],
        year_two["enrollment_id"],
    )

    reversed_ = reversals.reverse(runtime, old.claim_id, npi, "pharmacy:" + npi)

    assert used(runtime, year_one) == 0
    assert used(runtime, year_two) == new.program_paid == 150_000
    assert reversed_.decision["benefit"]["period_start"] == "2023-03-01"
    assert enrollments.benefit(runtime, cardholder, date(2023, 6, 1))["used"] == 0
    assert enrollments.benefit(runtime, cardholder, date(2024, 6, 1))["used"] == 150_000


def test_find_by_key_prefers_the_paid_claim_over_a_rejected_one(runtime, member, npi):
    payload = claim_payload(member["cardholder_id"], npi)
    paid = pay(runtime, payload)
    pay(runtime, {**payload, "lines": [{**payload["lines"][0], "patient_responsibility": "1.00"}]})

    found = reversals.find_by_key(runtime, NcpdpKey(npi, payload["rx_number"], 0, date(2024, 3, 1)))

    assert found == paid.claim_id
    with pytest.raises(NotFound):
        reversals.find_by_key(runtime, NcpdpKey(npi, "RX-NOT-BILLED", 0, date(2024, 3, 1)))


class _ProcessDied(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def _reversal_cut_short(rt: Runtime, claim_id: str, npi: str, monkeypatch) -> None:
    """A reversal whose process dies after its ledger write, before Redis hears of it."""

    def dies(*_args):
        raise _ProcessDied()

    with monkeypatch.context() as patched:
        patched.setattr(rt.accumulator, "release", dies)
        with pytest.raises(_ProcessDied):
            reversals.reverse(rt, claim_id, npi, "pharmacy:" + npi)


def test_a_reversal_while_redis_is_away_is_answered_and_finished_by_the_sweep(
    runtime, member, npi, monkeypatch
):
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))

    def redis_gone(*_args):
        raise redis.ConnectionError("Redis went away")

    with monkeypatch.context() as patched:
        patched.setattr(runtime.accumulator, "release", redis_gone)
        answered = reversals.reverse(runtime, paid.claim_id, npi, "pharmacy:" + npi)
        adjudication.sweep(runtime)  # Redis still away: stays pending

    assert (answered.status, answered.released_at) == ("reversed", None)
    assert used(runtime, member) == 150_000
    adjudication.sweep(runtime)
    assert used(runtime, member) == 0
    assert claim_row(runtime, paid.claim_id).released_at is not None


def test_a_reversal_cut_short_leaves_the_ledger_reversed_and_redis_holding_more(
    runtime, member, npi, monkeypatch
):
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))

    _reversal_cut_short(runtime, paid.claim_id, npi, monkeypatch)

    assert claim_row(runtime, paid.claim_id).status == "reversed"
    assert used(runtime, member) == 150_000  # not given back yet: never paid out twice


def test_a_retried_reversal_finishes_one_cut_short(runtime, member, npi, monkeypatch):
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))
    _reversal_cut_short(runtime, paid.claim_id, npi, monkeypatch)

    again = reversals.reverse(runtime, paid.claim_id, npi, "pharmacy:" + npi)

    assert again.status == "reversed"
    assert used(runtime, member) == 0
    logged = [e for e in events(runtime, "claim", paid.claim_id) if e.type == "reversed"]
    assert [e.data["after"] for e in logged] == [{"status": "reversed", "released": 150_000}]


def test_the_sweep_finishes_a_reversal_cut_short(runtime, member, npi, monkeypatch):
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))
    _reversal_cut_short(runtime, paid.claim_id, npi, monkeypatch)

    adjudication.sweep(runtime)

    assert used(runtime, member) == 0
    assert claim_row(runtime, paid.claim_id).released_at is not None


def test_reversals_at_once_release_once_and_log_what_was_given_back(runtime, member, npi):
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))
    barrier = threading.Barrier(8)

    def reverse():
        barrier.wait()
        return reversals.reverse(runtime, paid.claim_id, npi, "pharmacy:" + npi).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: reverse(), range(8)))

    assert statuses == ["reversed"] * 8
    assert used(runtime, member) == 0
    logged = [e for e in events(runtime, "claim", paid.claim_id) if e.type == "reversed"]
    assert [e.data["after"] for e in logged] == [{"status": "reversed", "released": 150_000}]
    benefit = claim_row(runtime, paid.claim_id).decision["benefit"]
    assert (benefit["used_before"], benefit["used_after"]) == (150_000, 0)


def test_a_claim_whose_grant_redis_lost_can_still_be_reversed(runtime, member, npi):
    # A Redis fail-over loses a reservation's grant and its use together (one Lua script).
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))
    runtime.redis.delete(accumulator_key(member["cardholder_id"]))

    reversed_ = reversals.reverse(runtime, paid.claim_id, npi, "pharmacy:" + npi)

    assert reversed_.status == "reversed"
    benefit = reversed_.decision["benefit"]
    # The year's use as the ledger counts it, the source of truth Redis lost a part of.
    assert (benefit["used_before"], benefit["used_after"]) == (150000, 0)
    assert benefit["remaining"] == benefit["annual_max"]
    assert used(runtime, member) == 0  # nothing to give back, and nothing taken twice


def test_every_claim_event_names_who_did_it(runtime: Runtime) -> None:
    npi = pharmacy(runtime)
    paid = pay(runtime, claim_payload(enroll(runtime)["cardholder_id"], npi))
    reversals.reverse(runtime, paid.claim_id, npi=npi, actor=f"pharmacy:{npi}")
    actors = [(e.type, e.actor) for e in events(runtime, "claim", paid.claim_id)]
    assert actors == [
        ("received", f"pharmacy:{npi}"),
        ("decided", "system"),
        ("reversed", f"pharmacy:{npi}"),
    ]
