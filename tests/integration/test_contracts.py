"""The in-memory fakes of tests/fakes.py hold to what the real adapters do: each test runs
against the fake and against the real one (SQLite or PostgreSQL; Redis)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from adjudicator.adapters.accumulator import accumulator_key
from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey, ReviewState
from adjudicator.domain.payments import MoneyEvent, MoneyKind
from adjudicator.domain.records import ClaimRecord, EnrollmentRecord, PharmacyRecord, SwitchRecord
from adjudicator.domain.terms import bundled_terms
from adjudicator.services.terms import seed_bundled
from adjudicator.services.unit_of_work import ClaimFilter, DuplicatePaidKey, Ledger
from tests.fakes import MemoryAccumulator, MemoryLedger
from tests.integration.builders import valid_npi

pytestmark = pytest.mark.integration

DAY = date(2024, 3, 1)
CONTRACT = "contract-"  # the accumulator contract's cardholders


def _member_id() -> str:
    """A cardholder id as enrollments make them (IC and ten digits): the e2e session's
    fixture drops the accumulators of such ids a later ledger does not know."""
    return f"IC{random.randrange(10**10):010d}"


@pytest.fixture(params=["memory", "sql"])
def ledger(request: pytest.FixtureRequest) -> Ledger:
    if request.param == "memory":
        return MemoryLedger()
    return request.getfixturevalue("runtime").ledger  # type: ignore[no-any-return]  # a fixture


@pytest.fixture(params=["memory", "redis"])
def accumulator(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryAccumulator()
        return
    runtime = request.getfixturevalue("runtime")
    yield runtime.accumulator
    # A REDIS_URL outlives the session: leave no cardholder the next session's ledger lacks.
    for cardholder_id in list(runtime.accumulator.cardholders()):
        if cardholder_id.startswith(CONTRACT):
            runtime.redis.delete(accumulator_key(cardholder_id))


def _pharmacy(ledger: Ledger, chain: str = "accredo") -> str:
    npi = valid_npi()
    with ledger.writing() as uow:
        uow.credentials.save_pharmacy(PharmacyRecord(npi, "P", chain, uuid.uuid4().hex))
    return npi


def _claim(npi: str, cardholder_id: str = "", **values: Any) -> ClaimRecord:
    fields: dict[str, Any] = {
        "claim_id": uuid.uuid4().hex,
        "pharmacy_npi": npi,
        "cardholder_id": cardholder_id or _member_id(),
        "rx_number": f"RX{uuid.uuid4().hex[:8]}",
        "fill_number": 0,
        "date_of_service": DAY,
        "request": {"lines": []},
        "request_hash": uuid.uuid4().hex,
        "status": ClaimStatus.RECEIVED,
        **values,
    }
    return ClaimRecord(**fields)


def _store(ledger: Ledger, *claims: ClaimRecord) -> None:
    with ledger.writing() as uow:
        for claim in claims:
            uow.claims.add(claim)


def _get(ledger: Ledger, claim_id: str) -> ClaimRecord:
    with ledger.reading() as uow:
        claim = uow.claims.get(claim_id)
    assert claim is not None
    return claim


# --- the ledger ---------------------------------------------------------------------


def test_a_stored_claim_reads_back_typed_as_stored(ledger: Ledger):
    claim = _claim(_pharmacy(ledger), request={"cob": {"other_coverage_code": 8}, "lines": []})
    _store(ledger, claim)

    read = _get(ledger, claim.claim_id)

    assert isinstance(read.status, ClaimStatus) and read.status is ClaimStatus.RECEIVED
    assert read.seq is not None and read.created_at is not None
    stored_fields = ("claim_id", "pharmacy_npi", "cardholder_id", "request", "request_hash")
    assert all(getattr(read, f) == getattr(claim, f) for f in stored_fields)
    assert (read.date_of_service, read.program_paid, read.decision) == (DAY, 0, None)


def test_a_claim_keeps_the_door_it_came_through_and_the_claim_it_rebills(ledger: Ledger):
    npi = _pharmacy(ledger)
    plain, rebill = _claim(npi), _claim(npi, channel="ncpdp", rebill_of="c" * 32)
    _store(ledger, plain, rebill)

    assert (_get(ledger, plain.claim_id).channel, _get(ledger, plain.claim_id).rebill_of) == (
        "json",
        None,
    )
    assert (_get(ledger, rebill.claim_id).channel, _get(ledger, rebill.claim_id).rebill_of) == (
        "ncpdp",
        "c" * 32,
    )
    with ledger.reading() as uow:
        listed = uow.claims.page(ClaimFilter(npi=npi), 10, None)
    assert [c.channel for c in listed] == ["ncpdp", "json"]


def test_a_received_claim_is_discarded_with_its_events_and_a_decided_one_never(ledger: Ledger):
    npi = _pharmacy(ledger)
    received, decided = _claim(npi, rebill_of="c" * 32), _claim(npi)
    _store(ledger, received, decided)
    with ledger.writing() as uow:
        for claim in (received, decided):
            uow.events.add(
                actor="system", entity_type="claim", entity_id=claim.claim_id,
                cardholder_id=claim.cardholder_id, type="received", data={},
            )  # fmt: skip
        uow.claims.set_outcome(decided.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus.REJECTED)

    with ledger.writing() as uow:
        gone = uow.claims.discard(received.claim_id)
        kept = uow.claims.discard(decided.claim_id)

    assert (gone, kept) == (True, False)
    with ledger.reading() as uow:
        assert uow.claims.get(received.claim_id) is None
        assert uow.events.of("claim", received.claim_id) == []
        assert len(uow.events.of("claim", decided.claim_id)) == 1


def test_money_events_add_up_per_claim_and_the_check_names_what_does_not(ledger: Ledger):
    npi = _pharmacy(ledger)
    paid, unpaid = _claim(npi), _claim(npi)
    _store(ledger, paid, unpaid)
    with ledger.writing() as uow:
        uow.claims.set_outcome(
            paid.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus.PAID, program_paid=1_000
        )
        uow.money.add([MoneyEvent(paid.claim_id, npi, MoneyKind.PAYMENT, 1_000)])
    with ledger.reading() as uow:
        clean = uow.money.mismatches()
    with ledger.writing() as uow:
        uow.money.add([MoneyEvent(unpaid.claim_id, npi, MoneyKind.PAYMENT, 300)])
        uow.money.add([MoneyEvent("no-such-claim", npi, MoneyKind.PAYMENT, 5)])
    with ledger.reading() as uow:
        found = {(m.claim_id, m.events_total, m.owed_now) for m in uow.money.mismatches()}

    assert clean == []
    assert found == {(unpaid.claim_id, 300, 0), ("no-such-claim", 5, 0)}


def test_a_unit_of_work_that_fails_leaves_nothing_behind(ledger: Ledger):
    claim = _claim(_pharmacy(ledger))
    with pytest.raises(RuntimeError), ledger.writing() as uow:
        uow.claims.add(claim)
        raise RuntimeError("half way")

    with ledger.reading() as uow:
        assert uow.claims.get(claim.claim_id) is None


def test_an_outcome_moves_a_claim_only_from_the_status_named(ledger: Ledger):
    claim = _claim(_pharmacy(ledger))
    _store(ledger, claim)

    with ledger.writing() as uow:
        moved = uow.claims.set_outcome(
            claim.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus.REJECTED,
            review_state=ReviewState.OPEN, review={"state": "open", "rules": ["dose"]},
        )  # fmt: skip
        again = uow.claims.set_outcome(
            claim.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus.PAID
        )
    with ledger.writing() as uow:
        reviewed = uow.claims.set_outcome(
            claim.claim_id, ClaimStatus.REJECTED, review_open=True,
            review_state=ReviewState.DENIED,
        )  # fmt: skip
        reviewed_again = uow.claims.set_outcome(
            claim.claim_id, ClaimStatus.REJECTED, review_open=True,
            review_state=ReviewState.APPROVED,
        )  # fmt: skip

    assert (moved, again, reviewed, reviewed_again) == (True, False, True, False)
    read = _get(ledger, claim.claim_id)
    assert (read.status, read.review_state) == (ClaimStatus.REJECTED, ReviewState.DENIED)


def test_one_claim_at_most_is_paid_under_an_ncpdp_key(ledger: Ledger):
    npi = _pharmacy(ledger)
    first = _claim(npi)
    twin = _claim(npi, rx_number=first.rx_number)
    _store(ledger, first, twin)
    paid_key = first.key.paid_key()
    with ledger.writing() as uow:
        uow.claims.set_outcome(
            first.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus.PAID, paid_key=paid_key,
            enrollment_id="year-1",
        )  # fmt: skip

    with pytest.raises(DuplicatePaidKey), ledger.writing() as uow:
        uow.claims.set_outcome(
            twin.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus.PAID, paid_key=paid_key,
            enrollment_id="year-1",
        )  # fmt: skip

    assert _get(ledger, twin.claim_id).status is ClaimStatus.RECEIVED
    with ledger.reading() as uow:
        keyed = uow.claims.with_key(NcpdpKey(npi, first.rx_number, 0, DAY))
        found = uow.claims.to_decide(twin.claim_id)
    assert [(k.claim_id, k.status) for k in keyed] == [
        (first.claim_id, ClaimStatus.PAID),
        (twin.claim_id, ClaimStatus.RECEIVED),
    ]
    assert found is not None
    assert (found.pharmacy_chain, found.paid_twin_id) == ("accredo", first.claim_id)
    assert found.paid_twin_hash == first.request_hash and not found.repeats_paid_twin


def test_what_a_year_has_paid_counts_paid_claims_only(ledger: Ledger):
    npi = _pharmacy(ledger)
    cardholder = _member_id()
    claims = [_claim(npi, cardholder) for _ in range(3)]
    _store(ledger, *claims)
    with ledger.writing() as uow:
        for claim, status in zip(claims, ("paid", "paid", "rejected"), strict=True):
            uow.claims.set_outcome(
                claim.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus(status),
                enrollment_id="year-1", program_paid=100 if status == "paid" else 0,
            )  # fmt: skip
        uow.claims.set_outcome(
            claims[1].claim_id, ClaimStatus.PAID, status=ClaimStatus.REVERSED,
            reversed_at=ledger.now(),
        )  # fmt: skip

    with ledger.reading() as uow:
        assert uow.claims.paid_in_year(cardholder, "year-1") == 100
        pending = uow.claims.reversals_to_release()
    assert claims[1].claim_id in [p.claim_id for p in pending]
    with ledger.writing() as uow:
        uow.claims.mark_released(claims[1].claim_id)
    with ledger.reading() as uow:
        assert claims[1].claim_id not in [p.claim_id for p in uow.claims.reversals_to_release()]


def test_listings_are_newest_first_the_review_queue_oldest_first(ledger: Ledger):
    npi = _pharmacy(ledger)
    cardholder = _member_id()
    claims = [_claim(npi, cardholder) for _ in range(3)]
    _store(ledger, *claims)
    with ledger.writing() as uow:
        for claim in claims:
            uow.claims.set_outcome(
                claim.claim_id, ClaimStatus.RECEIVED, status=ClaimStatus.REJECTED,
                review_state=ReviewState.OPEN,
            )  # fmt: skip

    with ledger.reading() as uow:
        newest = uow.claims.page(ClaimFilter(cardholder_id=cardholder), 2, None)
        rest = uow.claims.page(ClaimFilter(cardholder_id=cardholder), 2, newest[-1].seq)
        queue = uow.claims.page(
            ClaimFilter(review_open=True, date_from=DAY, date_to=DAY, npi=npi), 10, None
        )
        by_rx = uow.claims.with_rx([claims[0].rx_number, claims[2].rx_number], 10)
    ids = [c.claim_id for c in claims]
    assert [c.claim_id for c in newest + rest] == ids[::-1]
    assert [c.claim_id for c in queue] == ids
    assert [c.claim_id for c in by_rx] == [ids[2], ids[0]]


def test_a_members_years_read_back_oldest_first_and_change_in_place(ledger: Ledger):
    cardholder = _member_id()
    facts: dict[str, Any] = {"patient": {}, "weight_kg": None}
    years = [
        EnrollmentRecord(
            uuid.uuid4().hex,
            cardholder,
            start,
            start + timedelta(days=364),
            "active",
            [],
            False,
            facts,
        )  # fmt: skip
        for start in (date(2025, 1, 1), date(2024, 1, 1))
    ]
    with ledger.writing() as uow:
        assert not uow.members.exists(cardholder)
        uow.members.add(cardholder)
        for year in years:
            uow.members.add_enrollment(year)
        reasons = [{"code": "outside_us", "message": "m"}]
        uow.members.update_enrollment(
            years[0].enrollment_id, facts=facts, status="ineligible", reasons=reasons,
            cash_pay=True,
        )  # fmt: skip

    with ledger.reading() as uow:
        read = uow.members.years_of(cardholder)
        assert uow.members.exists(cardholder)
    assert [y.period_start for y in read] == [date(2024, 1, 1), date(2025, 1, 1)]
    assert (read[1].status, read[1].reasons, read[1].cash_pay) == ("ineligible", reasons, True)
    assert read[0].created_at is not None and read[0].updated_at is not None


def test_events_read_back_in_the_order_written(ledger: Ledger):
    claim_id = uuid.uuid4().hex
    with ledger.writing() as uow:
        for kind in ("received", "decided"):
            uow.events.add(
                actor="system", entity_type="claim", entity_id=claim_id, cardholder_id="IC1",
                type=kind, data={"kind": kind},
            )  # fmt: skip

    with ledger.reading() as uow:
        events = uow.events.of("claim", claim_id)
        after_first = uow.events.page(
            cardholder_id=None, claim_id=claim_id, limit=10, after_seq=events[0].seq
        )
    assert [(e.type, e.data) for e in events] == [
        ("received", {"kind": "received"}),
        ("decided", {"kind": "decided"}),
    ]
    assert [e.type for e in after_first] == ["decided"]


def test_a_switch_is_found_by_its_key_and_by_its_name_and_re_keys_in_place(ledger: Ledger):
    name, first, second = (f"contract-{uuid.uuid4().hex}" for _ in range(3))
    with ledger.writing() as uow:
        uow.credentials.save_switch(SwitchRecord(name, first))
    with ledger.writing() as uow:
        uow.credentials.save_switch(SwitchRecord(name, second))

    with ledger.reading() as uow:
        assert uow.credentials.switch(name) == SwitchRecord(name, second)
        assert uow.credentials.switch_by_key_hash(second) == SwitchRecord(name, second)
        assert uow.credentials.switch_by_key_hash(first) is None
        assert uow.credentials.switch(name + "-unknown") is None
        assert uow.credentials.pharmacy_by_key_hash(second) is None  # a switch is no pharmacy


# --- the accumulator ----------------------------------------------------------------


def _cardholder() -> str:
    return f"{CONTRACT}{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "sql"])
def own_ledger(request: pytest.FixtureRequest) -> Ledger:
    """A ledger of this test's own: a terms version added to the session's would change
    what every later test's claims are decided by."""
    if request.param == "memory":
        memory = MemoryLedger()
        seed_bundled(memory)
        return memory
    return request.getfixturevalue("rt").ledger  # type: ignore[no-any-return]  # a fixture


def test_the_terms_generation_changes_with_a_new_version_and_reads_with_a_claim(
    own_ledger: Ledger,
):
    claim = _claim(_pharmacy(own_ledger))
    _store(own_ledger, claim)
    with own_ledger.reading() as uow:
        before = uow.terms.generation()
        with_claim = uow.claims.to_decide(claim.claim_id)
    document = bundled_terms()[0].to_document()
    document.update(version=f"contract-{uuid.uuid4().hex[:8]}", effective_date="2031-01-01")
    with own_ledger.writing() as uow:
        uow.terms.add(document["version"], date(2031, 1, 1), document, "contract")
    with own_ledger.reading() as uow:
        after = uow.terms.generation()
        after_with_claim = uow.claims.to_decide(claim.claim_id)

    assert before[0] == len(bundled_terms()) and after[0] == before[0] + 1
    assert after != before
    assert with_claim is not None and with_claim.terms_generation == before
    assert after_with_claim is not None and after_with_claim.terms_generation == after


def test_a_reservation_is_granted_once_per_claim_within_the_maximum(accumulator):
    cardholder = _cardholder()

    first = accumulator.reserve(cardholder, "y1", "c1", 1_000, 1_500)
    capped = accumulator.reserve(cardholder, "y1", "c2", 1_000, 1_500)
    replayed = accumulator.reserve(cardholder, "y1", "c2", 1_000, 1_500)

    assert (first.used_before, first.granted, first.replayed) == (0, 1_000, False)
    assert (capped.used_before, capped.granted, capped.replayed) == (1_000, 500, False)
    assert (replayed.granted, replayed.replayed) == (500, True)
    assert accumulator.used(cardholder, "y1") == 1_500


def test_a_release_gives_back_once_and_a_cancel_lets_the_claim_reserve_again(accumulator):
    cardholder = _cardholder()
    accumulator.reserve(cardholder, "y1", "paid", 700, 1_500)
    accumulator.reserve(cardholder, "y1", "undone", 300, 1_500)

    released = accumulator.release(cardholder, "paid")
    again = accumulator.release(cardholder, "paid")
    cancelled = accumulator.cancel(cardholder, "undone")
    nothing = accumulator.release(cardholder, "never")

    assert (released.enrollment_id, released.released_cents, released.used_after) == (
        "y1",
        700,
        300,
    )
    assert (again.released_cents, cancelled.released_cents) == (0, 300)
    assert (nothing.enrollment_id, nothing.released_cents, nothing.used_after) == (None, 0, None)
    assert accumulator.reserve(cardholder, "y1", "paid", 700, 1_500).replayed  # not again
    assert not accumulator.reserve(cardholder, "y1", "undone", 300, 1_500).replayed


def test_a_rebill_gives_the_old_grant_back_and_reserves_the_new_in_one_step(accumulator):
    cardholder = _cardholder()
    accumulator.reserve(cardholder, "y1", "old", 1_000, 1_500)
    accumulator.reserve(cardholder, "y1", "other", 500, 1_500)

    nothing = accumulator.rebill(cardholder, "y1", "zero", 0, 1_500, replaces="old")
    rebilled = accumulator.rebill(cardholder, "y1", "new", 1_200, 1_500, replaces="old")
    replayed = accumulator.rebill(cardholder, "y1", "new", 1_200, 1_500, replaces="old")

    assert (nothing.used_before, nothing.granted) == (500, 0)
    assert (rebilled.used_before, rebilled.granted, rebilled.replayed) == (500, 1_000, False)
    assert (replayed.granted, replayed.replayed) == (1_000, True)
    assert accumulator.used(cardholder, "y1") == 1_500
    assert "old" in accumulator.snapshot(cardholder)["released"]


def test_an_undone_rebill_forgets_the_new_grant_and_restores_the_old_when_asked(accumulator):
    cardholder = _cardholder()
    accumulator.reserve(cardholder, "y1", "old", 1_000, 1_500)
    accumulator.rebill(cardholder, "y1", "new", 400, 1_500, replaces="old")

    undone = accumulator.undo_rebill(cardholder, "new", "old", restore=True)
    again = accumulator.undo_rebill(cardholder, "new", "old", restore=True)
    accumulator.rebill(cardholder, "y1", "newer", 400, 1_500, replaces="old")
    kept_released = accumulator.undo_rebill(cardholder, "newer", "old", restore=False)

    assert (undone, again, kept_released) == ((400, 1_000), (0, 0), (400, 0))
    assert accumulator.used(cardholder, "y1") == 0
    assert "new" not in accumulator.snapshot(cardholder)["grants"]


def test_a_replaced_accumulator_reads_back_as_written(accumulator):
    cardholder = _cardholder()
    accumulator.reserve(cardholder, "y0", "old", 100, 1_500)

    accumulator.replace(cardholder, {"y1": 900}, {"c1": ("y1", 900, 0), "c2": ("y1", 0, 0)}, {"c2"})

    snapshot = accumulator.snapshot(cardholder)
    assert snapshot["used"] == {"y1": 900}
    assert snapshot["grants"] == {"c1": ("y1", 900, 0), "c2": ("y1", 0, 0)}
    assert snapshot["released"] == {"c2"}
    assert cardholder in set(accumulator.cardholders())
    accumulator.replace(cardholder, {}, {}, set())
    assert cardholder not in set(accumulator.cardholders())


def test_a_year_rewritten_from_the_ledger_keeps_the_grants_of_claims_in_flight(accumulator):
    cardholder = _cardholder()
    accumulator.reserve(cardholder, "y1", "paid", 500, 1_500)
    accumulator.reserve(cardholder, "y1", "in-flight", 200, 1_500)
    accumulator.reserve(cardholder, "y1", "rejected", 100, 1_500)

    used = accumulator.commit_replay_many(
        [(cardholder, "y1", {"paid": (400, 0), "paid-elsewhere": (300, 400)}, ["rejected"])]
    )

    assert used == [900]  # the ledger's 400 and 300, and the 200 still in flight
    assert accumulator.snapshot(cardholder)["grants"] == {
        "paid": ("y1", 400, 0),
        "paid-elsewhere": ("y1", 300, 400),
        "in-flight": ("y1", 200, 500),
    }


def test_the_epoch_mark_is_set_once_and_corrections_are_counted(accumulator):
    accumulator.mark_epoch()
    before = accumulator.corrections()

    marked_again = accumulator.mark_epoch()
    accumulator.count_correction()

    assert marked_again is False
    assert accumulator.corrections() == before + 1
