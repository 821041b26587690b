"""The rebill's Redis step (rebill.lua, unrebill.lua) against a real server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from adjudicator.adapters.accumulator import Accumulator, Reservation

pytestmark = pytest.mark.integration

CAP = 1_200_000
YEAR = "enr-2024"


def _full_year(acc: Accumulator, patient: str) -> None:
    for n in range(8):
        acc.reserve(patient, YEAR, f"old{n}", 150_000, CAP)


def test_a_rebill_sees_the_year_with_the_old_grant_given_back(acc, patient):
    _full_year(acc, patient)
    got = acc.rebill(patient, YEAR, "new", 200_000, CAP, replaces="old7")
    assert got == Reservation(1_050_000, 150_000, False)
    assert acc.used(patient, YEAR) == CAP
    assert "old7" in acc.snapshot(patient)["released"]


def test_a_replayed_rebill_answers_its_first_grant_and_changes_nothing(acc, patient):
    _full_year(acc, patient)
    first = acc.rebill(patient, YEAR, "new", 100_000, CAP, replaces="old7")
    again = acc.rebill(patient, YEAR, "new", 100_000, CAP, replaces="old7")
    assert again == Reservation(first.used_before, first.granted, True)
    assert acc.used(patient, YEAR) == 1_150_000


def test_a_rebill_granted_nothing_leaves_the_old_grant_in_place(acc, patient):
    _full_year(acc, patient)
    got = acc.rebill(patient, YEAR, "new", 0, CAP, replaces="old7")
    assert got.granted == 0
    assert acc.used(patient, YEAR) == CAP
    assert "old7" not in acc.snapshot(patient)["released"]


def test_undoing_a_rebill_restores_the_old_grant_only_when_asked(acc, patient):
    _full_year(acc, patient)
    acc.rebill(patient, YEAR, "new", 100_000, CAP, replaces="old7")
    assert acc.undo_rebill(patient, "new", "old7", restore=True) == (100_000, 150_000)
    assert acc.used(patient, YEAR) == CAP
    assert acc.undo_rebill(patient, "new", "old7", restore=True) == (0, 0)  # once
    acc.rebill(patient, YEAR, "new2", 100_000, CAP, replaces="old6")
    assert acc.undo_rebill(patient, "new2", "old6", restore=False) == (100_000, 0)
    assert acc.used(patient, YEAR) == CAP - 150_000


def test_concurrent_rebills_and_claims_never_pass_the_cap(acc, patient):
    _full_year(acc, patient)

    def rebill(n: int) -> int:
        return acc.rebill(patient, YEAR, f"new{n}", 300_000, CAP, replaces=f"old{n}").granted

    def claim(n: int) -> int:
        return acc.reserve(patient, YEAR, f"other{n}", 300_000, CAP).granted

    with ThreadPoolExecutor(8) as pool:
        rebills = list(pool.map(rebill, range(8)))
        others = list(pool.map(claim, range(8)))
    assert acc.used(patient, YEAR) <= CAP
    assert sum(rebills) + sum(others) == acc.used(patient, YEAR)
