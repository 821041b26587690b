"""Replaying a cardholder's patient-years (domain/replay.py): order, caps, the window's
edges, reversed and undecided claims, duplicates by NCPDP key, approved overrides.

Pure: claims are ClaimRecords built here, as the adapter maps them from the ledger."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adjudicator.domain.model import EnrollmentYear
from adjudicator.domain.outcomes import ClaimStatus, ReviewState
from adjudicator.domain.records import Change, ClaimRecord
from adjudicator.domain.replay import (
    ClaimState,
    Lookups,
    Window,
    YearReplay,
    keys_to_look_up,
    replay_cardholder,
    terms_lookup,
)
from adjudicator.domain.terms import Terms, bundled_terms

pytestmark = pytest.mark.unit

PAID, REJECTED = ClaimStatus.PAID, ClaimStatus.REJECTED
RECEIVED, REVERSED, DUPLICATE = ClaimStatus.RECEIVED, ClaimStatus.REVERSED, ClaimStatus.DUPLICATE
TERMS = bundled_terms()[0]  # annual maximum $12,000
HOLDER = "IC0000001"
NPI = "1234567893"
YEAR_2021 = EnrollmentYear(
    "year-2021", date(2021, 1, 1), date(2021, 12, 31), "active", (), False,
    date(2015, 4, 2), "NY", Decimal("25"),
)  # fmt: skip
WHOLE_2021 = Window(date(2021, 1, 1), date(2021, 12, 31))


def amended(version: str, effective: str, **changes: str) -> Terms:
    document = TERMS.to_document()
    document.update(version=version, effective_date=effective, **changes)
    return Terms.from_document(document)


def lookups(*versions: Terms, holders: dict[str, str] | None = None) -> Lookups:
    return Lookups(terms_lookup((TERMS, *versions)), lambda npi: "accredo", holders or {})


_seq = iter(range(1, 10**6))


def claim(
    served: str,
    dollars: int,
    status: ClaimStatus = PAID,
    paid: int | None = None,
    *,
    rx: str | None = None,
    decided: datetime | None = None,
    review: dict[str, Any] | None = None,
    decision: dict[str, Any] | None = None,
) -> ClaimRecord:
    """A commercial claim for one drug line; `paid` in cents (all of it when paid)."""
    seq = next(_seq)
    day = date.fromisoformat(served)
    rx_number = rx or f"RX{seq}"
    request = {
        "cardholder_id": HOLDER,
        "service_provider_id": NPI,
        "rx_number": rx_number,
        "fill_number": 0,
        "date_of_service": served,
        "date_of_birth": None,
        "cob": {"other_coverage_code": 8, "other_payer_bin": "003858", "other_payer_pcn": "A4"},
        "lines": [
            {
                "kind": "drug",
                "code": "15054104005",
                "quantity": "8",
                "days_supply": 30,
                "patient_responsibility": dollars * 100,
            }
        ],
    }
    if paid is None:
        paid = dollars * 100 if status == PAID else 0
    if decided is None and status != RECEIVED:
        decided = datetime.combine(day, datetime.min.time(), UTC)
    return ClaimRecord(
        claim_id=f"claim-{seq}",
        pharmacy_npi=NPI,
        cardholder_id=HOLDER,
        rx_number=rx_number,
        fill_number=0,
        date_of_service=day,
        request=request,
        status=status,
        program_paid=paid,
        decision=decision,
        review_state=None if review is None else ReviewState(review["state"]),
        review=review,
        seq=seq,
        decided_at=decided,
    )


def replay(
    claims: list[ClaimRecord],
    window: Window = WHOLE_2021,
    *versions: Terms,
    years: tuple[EnrollmentYear, ...] = (YEAR_2021,),
    holders: dict[str, str] | None = None,
) -> list[YearReplay]:
    return replay_cardholder(
        HOLDER, claims, years, True, window, lookups(*versions, holders=holders)
    )


def after(year: YearReplay) -> list[tuple[str, int]]:
    return [(o.decision.status, o.after_paid) for o in year.outcomes]


# --- order and caps ---------------------------------------------------------------------


def test_a_year_is_replayed_in_the_order_of_adjudication_not_of_service() -> None:
    late_served = claim("2021-06-01", 5000, decided=datetime(2021, 2, 1, tzinfo=UTC))
    early_served = claim("2021-03-01", 5000, decided=datetime(2021, 3, 1, tzinfo=UTC))
    capped = claim("2021-04-01", 5000, paid=200_000)

    (year,) = replay([capped, early_served, late_served])

    assert [o.claim for o in year.outcomes] == [late_served, early_served, capped]
    assert after(year) == [("paid", 500_000), ("paid", 500_000), ("paid", 200_000)]
    assert not year.changed
    assert year.total == 1_200_000
    assert year.grants == {
        late_served.claim_id: (500_000, 0),
        early_served.claim_id: (500_000, 500_000),
        capped.claim_id: (200_000, 1_000_000),
    }


def test_a_higher_annual_maximum_from_mid_year_pays_the_claims_served_after_it() -> None:
    claims = [
        claim("2021-02-01", 5000),
        claim("2021-05-01", 5000),
        claim("2021-08-01", 5000, paid=200_000),
        claim("2021-09-01", 1000, REJECTED),  # 76: the year was full
    ]

    (year,) = replay(claims, WHOLE_2021, amended("2021-07", "2021-07-01", annual_max="15000.00"))

    assert after(year) == [("paid", 500_000)] * 3 + [("rejected", 0)]
    assert [o.changed for o in year.outcomes] == [False, False, True, False]
    assert year.outcomes[3].decision.reject_codes[0].code == "76"
    assert year.total == 1_500_000
    assert year.outcomes[2].change() == Change(
        claims[2].claim_id, HOLDER, "year-2021", date(2021, 8, 1), PAID, 200_000, PAID, 500_000
    )


def test_a_reversed_claim_counts_for_nothing_so_later_claims_take_what_it_held() -> None:
    reversed_ = claim("2021-02-01", 10000, REVERSED, paid=1_000_000)
    limited = claim("2021-03-01", 5000, paid=200_000)

    (year,) = replay([reversed_, limited])

    assert [o.claim for o in year.outcomes] == [limited]
    assert after(year) == [("paid", 500_000)]
    assert year.total == 500_000
    assert year.states() == {reversed_.claim_id: (REVERSED, 0), limited.claim_id: (PAID, 500_000)}
    assert year.cleared() == []


# --- the window's edges -----------------------------------------------------------------


def test_claims_outside_the_window_keep_their_amounts_and_the_cap_leaves_them_room() -> None:
    spring = claim("2021-03-01", 11000, paid=1_000_000)  # in the window
    kept = claim(
        "2021-09-01", 2000, paid=200_000, decision={"benefit": {"used_before": 1_000_000}}
    )  # decided after it, outside the window
    lower = amended("2021-01", "2021-01-01", annual_max="11000.00")

    (year,) = replay([spring, kept], Window(date(2021, 1, 1), date(2021, 6, 30)), lower)

    # At most $11,000 - $2,000 kept later: the year never goes over its maximum.
    assert [o.claim for o in year.outcomes] == [spring]
    assert after(year) == [("paid", 900_000)]
    assert year.outcomes[0].decision.benefit is not None
    assert year.outcomes[0].decision.benefit.used_before == 200_000
    assert year.grants == {spring.claim_id: (900_000, 200_000), kept.claim_id: (200_000, 1_000_000)}
    assert year.total == 1_100_000


def test_only_the_years_holding_a_claim_of_the_window_are_replayed() -> None:
    year_2022 = EnrollmentYear(
        "year-2022", date(2022, 1, 1), date(2022, 12, 31), "active", (), False,
        date(2015, 4, 2), "NY", Decimal("25"),
    )  # fmt: skip
    claims = [claim("2021-05-01", 1000), claim("2022-05-01", 1000)]

    replays = replay(
        claims, Window(date(2022, 1, 1), date(2022, 6, 30)), years=(YEAR_2021, year_2022)
    )

    assert [r.enrollment_id for r in replays] == ["year-2022"]
    assert [o.claim for o in replays[0].outcomes] == [claims[1]]


def test_a_claim_outside_every_enrollment_year_is_replayed_without_a_year() -> None:
    before_coverage = claim("2020-11-01", 1000, REJECTED)

    (nowhere,) = replay([before_coverage], Window(date(2020, 1, 1), date(2020, 12, 31)))

    assert nowhere.enrollment_id is None
    assert after(nowhere) == [("rejected", 0)]
    assert nowhere.outcomes[0].decision.reject_codes[0].code == "67"
    assert not nowhere.changed and nowhere.total == 0


def test_received_and_duplicate_claims_are_not_replayed() -> None:
    received = claim("2021-02-01", 1000, RECEIVED)
    paid = claim("2021-03-01", 1000)
    duplicate = claim("2021-03-01", 1000, DUPLICATE, rx=paid.rx_number)

    (year,) = replay([received, paid, duplicate])

    assert [o.claim for o in year.outcomes] == [paid]
    assert year.claims[-1] == received  # undecided: last in the order of adjudication
    assert year.states()[received.claim_id] == (RECEIVED, 0)
    assert year.cleared() == [duplicate.claim_id]


def test_the_window_holds_paid_and_rejected_claims_served_in_it() -> None:
    window = Window(date(2021, 3, 1), date(2021, 3, 31))

    assert window.holds(claim("2021-03-01", 10)) and window.holds(claim("2021-03-31", 10, REJECTED))
    assert not window.holds(claim("2021-02-28", 10)) and not window.holds(claim("2021-04-01", 10))
    assert not any(
        window.holds(claim("2021-03-15", 10, s)) for s in (RECEIVED, REVERSED, DUPLICATE)
    )


# --- NCPDP keys and reviews ---------------------------------------------------------------


def test_a_claim_whose_key_another_claim_is_paid_under_is_a_duplicate() -> None:
    rejected = claim("2021-05-01", 1000, REJECTED)
    key = rejected.key.paid_key()

    assert keys_to_look_up([rejected, claim("2021-05-02", 1000)], WHOLE_2021) == {key}
    (held_elsewhere,) = replay([rejected], holders={key: "another-claim"})
    (held_by_itself,) = replay([rejected], holders={key: rejected.claim_id})

    assert held_elsewhere.outcomes[0].decision.reject_codes[0].code == "83"
    assert after(held_by_itself) == [("paid", 100_000)]


def test_a_key_held_by_a_claim_the_replay_decides_again_does_not_count_as_paid() -> None:
    holder = claim("2021-05-01", 1000, paid=100_000)
    twin = claim("2021-05-01", 1000, REJECTED, rx=holder.rx_number)  # same NCPDP key

    (year,) = replay([holder, twin], holders={holder.key.paid_key(): holder.claim_id})

    # The holder is replayed first and pays again: only then is the twin a duplicate.
    assert after(year) == [("paid", 100_000), ("rejected", 0)]
    assert year.outcomes[1].decision.reject_codes[0].code == "83"


def test_an_approved_review_keeps_its_rules_set_aside() -> None:
    toddler = EnrollmentYear(
        "year-2021", date(2021, 1, 1), date(2021, 12, 31), "active", (), False,
        date(2020, 6, 1), "NY", Decimal("25"),
    )  # fmt: skip
    approved = claim(
        "2021-03-01", 1000, review={"state": "approved", "rules": ["patient_age"]}, paid=100_000
    )
    open_ = claim("2021-04-01", 1000, REJECTED, review={"state": "open", "rules": ["patient_age"]})

    (year,) = replay([approved, open_], years=(toddler,))

    assert after(year) == [("paid", 100_000), ("rejected", 0)]
    assert year.outcomes[1].decision.reject_codes[0].code == "60"
    assert year.outcomes[1].decision.reviewable_rules == ("patient_age",)


# --- what an apply takes from a replay ----------------------------------------------------


def test_the_ledgers_grants_are_the_paid_claims_as_stored() -> None:
    first = claim("2021-02-01", 5000, decision={"benefit": {"used_before": 0}})
    second = claim("2021-03-01", 9000, paid=700_000, decision={"benefit": {"used_before": 500_000}})
    rejected = claim("2021-04-01", 1000, REJECTED)
    higher = amended("2021-01", "2021-01-01", annual_max="15000.00")

    (year,) = replay([first, second, rejected], WHOLE_2021, higher)

    assert year.ledger_grants() == (
        {first.claim_id: (500_000, 0), second.claim_id: (700_000, 500_000)},
        [rejected.claim_id],
    )
    assert year.grants == {
        first.claim_id: (500_000, 0),
        second.claim_id: (900_000, 500_000),
        rejected.claim_id: (100_000, 1_400_000),
    }
    assert year.cleared() == []


def test_a_claims_state_is_what_may_change_under_a_replay() -> None:
    record = claim("2021-02-01", 5000)

    assert ClaimState.of(record) == ClaimState(record.claim_id, PAID, 500_000, record.decided_at)
    assert ClaimState.of(record) != ClaimState.of(
        claim("2021-02-01", 5000, decided=record.decided_at + timedelta(seconds=1))
    )


def test_a_change_goes_through_json_and_back_unchanged() -> None:
    change = Change("c-1", HOLDER, None, date(2021, 2, 1), REJECTED, 0, PAID, 123_456)

    sent = json.loads(json.dumps(change.to_json()))

    assert Change.from_json(sent) == change
    assert sent[4:7] == ["rejected", 0, "paid"]


def test_terms_are_looked_up_by_date_of_service() -> None:
    later = amended("2021-07", "2021-07-01", annual_max="15000.00")
    terms_on = terms_lookup((TERMS, later))

    assert terms_on(date(2021, 6, 30)) is TERMS
    assert terms_on(date(2021, 7, 1)) is later
    assert terms_on(date(2019, 1, 1)) is TERMS  # before every version: the first
