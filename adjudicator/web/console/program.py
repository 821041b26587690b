"""The Program page's charts: each one's SVG and the table of its numbers beside it."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from adjudicator.web.console import charts
from adjudicator.web.console.words import STATUSES, money

NOT_RECORDED = "Not recorded"  # a claim with no enrollment year, or an address without a state


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False


@dataclass(frozen=True)
class Chart:
    """A chart as the page shows it: `rows` are the table's cells, already in words."""

    name: str
    title: str
    caption: str
    columns: tuple[Column, ...]
    rows: list[tuple[str, ...]]
    svg: Markup | None  # None when there is nothing to draw
    note: str = ""

    @property
    def caption_id(self) -> str:
        return f"{self.name}-caption"


def _dollars(value: float) -> str:
    return f"${value:,.0f}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _draw(
    kind: str,
    name: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    formatter: Callable[[float], str],
) -> Markup | None:
    if not any(values):
        return None
    if kind == "hbar":  # pygal draws the first bar at the bottom: the largest goes on top
        labels, values = list(reversed(labels)), list(reversed(values))
    return charts.svg(kind, name, title, labels, values, formatter, labelled_by=f"{name}-caption")


def charts_of(report: dict[str, Any]) -> list[Chart]:
    """The page's six charts, in the order shown."""
    year = report["year"]
    return [
        _paid_by_month(report["months"], year),
        _by_status(report["statuses"], year),
        _reasons(report["reasons"], year),
        _shares(report["shares"], year),
        _spend(report["chains"], "chain", "Pharmacy chain", "Spend by pharmacy chain", year),
        _spend(report["states"], "state", "Patient's state", "Spend by patient's state", year),
    ]


def _paid_by_month(months: list[dict[str, Any]], year: int) -> Chart:
    title = "Program paid by month"
    names = [calendar.month_abbr[m["month"]] for m in months]
    return Chart(
        "paid-by-month",
        title,
        f"Program paid by month of the date of service, {year} (claims paid now)",
        (Column("Month"), Column("Claims paid", True), Column("Program paid", True)),
        [(calendar.month_name[m["month"]], _count(m["claims"]), money(m["cents"])) for m in months],
        _draw("bar", "paid-by-month", title, names, [m["cents"] / 100 for m in months], _dollars),
    )


def _by_status(statuses: list[dict[str, Any]], year: int) -> Chart:
    title = "Claims by status"
    words = [STATUSES.get(s["status"], s["status"]) for s in statuses]
    counts = [s["claims"] for s in statuses]
    return Chart(
        "claims-by-status",
        title,
        f"Claims served in {year} by status",
        (Column("Status"), Column("Claims", True)),
        [(w, _count(c)) for w, c in zip(words, counts, strict=True)],
        _draw("bar", "claims-by-status", title, words, counts, _count),
    )


def _reasons(reasons: list[dict[str, Any]], year: int) -> Chart:
    title = "Most frequent reject reasons"
    return Chart(
        "reject-reasons",
        title,
        f"Most frequent reasons of the claims rejected in {year} (the top ten)",
        (Column("Code"), Column("Reason"), Column("Claims", True)),
        [(r["code"], r["message"], _count(r["claims"])) for r in reasons],
        _draw(
            "hbar",
            "reject-reasons",
            title,
            [f"{r['code']} {r['message']}" for r in reasons],
            [r["claims"] for r in reasons],
            _count,
        ),
        note="A claim rejected for several reasons counts under each.",
    )


def _shares(shares: list[dict[str, Any]], year: int) -> Chart:
    title = "Patients by share of the annual maximum used"
    counts = [s["patients"] for s in shares]
    return Chart(
        "maximum-used",
        title,
        f"Patients by share of the annual maximum used, enrollment years starting in {year}",
        (Column("Share used"), Column("Patients", True)),
        [(s["bucket"], _count(s["patients"])) for s in shares],
        _draw("bar", "maximum-used", title, [s["bucket"] for s in shares], counts, _count),
        note="Active years, and any year that paid; 100% means the maximum is reached.",
    )


def _spend(rows: list[dict[str, Any]], key: str, label: str, title: str, year: int) -> Chart:
    name = f"spend-by-{key}"
    names = [r[key] or NOT_RECORDED for r in rows]
    return Chart(
        name,
        title,
        f"{title}, claims paid for dates of service in {year}",
        (Column(label), Column("Claims paid", True), Column("Program paid", True)),
        [(n, _count(r["claims"]), money(r["cents"])) for n, r in zip(names, rows, strict=True)],
        _draw("hbar", name, title, names, [r["cents"] / 100 for r in rows], _dollars),
    )
