"""The two Lua steps that set a patient-year to its replayed totals, on a real Redis."""

from __future__ import annotations

import pytest

from adjudicator.adapters.accumulator import Accumulator, ReplayInFlight
from adjudicator.domain.outcomes import ClaimStatus

pytestmark = pytest.mark.integration

YEAR = "year-2021"
MAX = 1_200_000
PAID, RECEIVED, REJECTED = ClaimStatus.PAID, ClaimStatus.RECEIVED, ClaimStatus.REJECTED


@pytest.fixture
def holder(key_prefix: str) -> str:
    return f"IC-{key_prefix}"


def paid(acc: Accumulator, holder: str, claim_id: str, cents: int) -> None:
    assert acc.reserve(holder, YEAR, claim_id, cents, MAX).granted == cents


def test_hold_refuses_a_grant_the_ledger_read_does_not_show(acc: Accumulator, holder: str) -> None:
    paid(acc, holder, "a", 500_000)
    paid(acc, holder, "live", 100_000)  # reserved by a worker, not yet recorded

    with pytest.raises(ReplayInFlight) as unknown:
        acc.hold_for_replay(holder, YEAR, 400_000, {"a": (PAID, 400_000)})
    with pytest.raises(ReplayInFlight):
        acc.hold_for_replay(holder, YEAR, 400_000, {"a": (PAID, 400_000), "live": (RECEIVED, 0)})

    assert (unknown.value.reason, unknown.value.claim_id) == ("in_flight", "live")
    assert acc.used(holder, YEAR) == 600_000  # nothing changed


def test_hold_refuses_a_reversal_half_done(acc: Accumulator, holder: str) -> None:
    paid(acc, holder, "a", 500_000)
    acc.release(holder, "a")  # Redis released it; the ledger still says paid

    with pytest.raises(ReplayInFlight) as reversing:
        acc.hold_for_replay(holder, YEAR, 500_000, {"a": (PAID, 500_000)})

    assert reversing.value.reason == "reversing"


def test_hold_covers_both_decisions_until_the_commit(acc: Accumulator, holder: str) -> None:
    paid(acc, holder, "a", 600_000)
    paid(acc, holder, "b", 600_000)
    # The replay pays a less (200,000) and b more (800,000): 1,000,000 in all.
    states = {"a": (PAID, 200_000), "b": (PAID, 800_000)}

    assert acc.hold_for_replay(holder, YEAR, 1_000_000, states) == 1_200_000

    snapshot = acc.snapshot(holder)
    assert snapshot["grants"]["a"][1] == 200_000  # lowered now: a reversal gives back less
    assert snapshot["grants"]["b"][1] == 600_000  # raised only at the commit
    # A live claim now sees the larger of the two totals: nothing left.
    assert acc.reserve(holder, YEAR, "live", 300_000, MAX).granted == 0


def test_a_live_claim_during_the_hold_is_counted_on_top_of_the_replayed_total(
    acc: Accumulator, holder: str
) -> None:
    paid(acc, holder, "a", 600_000)
    paid(acc, holder, "b", 600_000)
    states = {"a": (PAID, 200_000), "b": (REJECTED, 0)}  # the replay: a pays less, b nothing
    acc.hold_for_replay(holder, YEAR, 200_000, states)
    live = acc.reserve(holder, YEAR, "live", 300_000, MAX)  # sees 1,200,000 used: 0

    used = acc.commit_replay(holder, YEAR, {"a": (200_000, 0)}, ["b"])

    assert live.granted == 0
    assert used == 200_000
    snapshot = acc.snapshot(holder)
    assert snapshot["used"][YEAR] == 200_000
    assert set(snapshot["grants"]) == {"a", "live"}
    assert snapshot["grants"]["a"] == (YEAR, 200_000, 0)
    # After the commit a live claim gets what the replay left.
    assert acc.reserve(holder, YEAR, "later", 1_500_000, MAX).granted == 1_000_000


def test_commit_keeps_live_grants_and_reversals_made_meanwhile(
    acc: Accumulator, holder: str
) -> None:
    paid(acc, holder, "a", 300_000)
    paid(acc, holder, "b", 300_000)
    acc.hold_for_replay(holder, YEAR, 700_000, {"a": (PAID, 400_000), "b": (PAID, 300_000)})
    assert acc.reserve(holder, YEAR, "live", 900_000, MAX).granted == 500_000
    acc.release(holder, "b")  # reversed meanwhile: 300,000 back

    used = acc.commit_replay(holder, YEAR, {"a": (400_000, 0), "b": (300_000, 400_000)}, [])

    assert used == 400_000 + 500_000  # a as replayed, the live claim; b is reversed
    assert acc.used(holder, YEAR) <= MAX


def test_commit_with_the_ledgers_grants_undoes_a_hold(acc: Accumulator, holder: str) -> None:
    paid(acc, holder, "a", 600_000)
    paid(acc, holder, "b", 300_000)
    before = acc.snapshot(holder)
    acc.hold_for_replay(holder, YEAR, 1_000_000, {"a": (PAID, 100_000), "b": (PAID, 900_000)})

    acc.commit_replay(holder, YEAR, {"a": (600_000, 0), "b": (300_000, 600_000)}, [])

    assert acc.snapshot(holder) == before


def test_commit_touches_only_its_own_year(acc: Accumulator, holder: str) -> None:
    paid(acc, holder, "a", 600_000)
    acc.reserve(holder, "year-2022", "next", 100_000, MAX)

    acc.commit_replay(holder, YEAR, {}, ["a"])

    assert acc.snapshot(holder)["used"] == {YEAR: 0, "year-2022": 100_000}
