"""The console's Program page, pure parts: pygal's SVG with nothing the console's policy
refuses, the charts' tables, and the ranking of reject reasons."""

from __future__ import annotations

import sys

import pygal
import pytest

from adjudicator.services.program_report import top_reasons
from adjudicator.web.console import charts
from adjudicator.web.console.program import charts_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("kind", ["bar", "hbar"])
def test_a_chart_has_no_script_no_style_and_names_its_table(kind: str):
    drawn = charts.svg(
        kind, "spend", "Spend", ["accredo", "briovarx"], [1500.0, 20.5], str, labelled_by="cap"
    )

    assert drawn.startswith("<svg ") and drawn.rstrip().endswith("</svg>")
    assert 'id="chart-spend"' in drawn and 'class="pygal-chart"' in drawn
    assert 'role="img"' in drawn and 'aria-labelledby="cap"' in drawn
    assert "<title>Spend</title>" in drawn
    for refused in ("<script", "<style", "style=", "<!--", "<?xml", "xlink:href", "http://p"):
        assert refused not in drawn, refused


def test_labels_are_written_as_text_never_as_markup():
    drawn = charts.svg(
        "hbar", "x", "X", ['<script>alert("x")</script>'], [1.0], str, labelled_by="c"
    )
    assert "<script" not in drawn and "&lt;script&gt;" in drawn


def test_the_stylesheet_is_pygals_css_scoped_to_the_charts_class():
    css = charts.stylesheet()

    assert ".pygal-chart .axis" in css and ".pygal-chart .color-0" in css
    assert "#0b4f8a" in css.lower() or "11, 79, 138" in css  # the console's blue
    assert "#chart-" not in css and "@import" not in css and "url(" not in css


@pytest.mark.parametrize(
    ("top", "expected"),
    [(0, [0, 1]), (1, [0, 1]), (2, [0, 1, 2]), (7, [0, 2, 4, 6, 8]), (13, [0, 5, 10, 15]),
     (1500.0, [0, 500, 1000, 1500]), (22000.0, [0, 5000, 10000, 15000, 20000, 25000])],
)  # fmt: skip
def test_axis_steps_are_whole_and_round(top: float, expected: list[int]):
    assert charts.ticks(top) == expected


def test_pygals_map_plugin_finder_is_gone():
    # It predates find_spec: every import falling through to it would warn.
    assert not any(isinstance(f, pygal.PluginImportFixer) for f in sys.meta_path)


def test_an_empty_year_draws_nothing_and_keeps_its_tables():
    report = {
        "year": 2031,
        "months": [{"month": m, "claims": 0, "cents": 0} for m in range(1, 13)],
        "statuses": [{"status": "paid", "claims": 0}],
        "reasons": [],
        "shares": [{"bucket": "100%", "patients": 0}],
        "chains": [],
        "states": [{"state": "", "claims": 1, "cents": 250}],
    }
    drawn = charts_of(report)

    assert [c.name for c in drawn] == [
        "paid-by-month", "claims-by-status", "reject-reasons", "maximum-used",
        "spend-by-chain", "spend-by-state",
    ]  # fmt: skip
    assert [c.svg is None for c in drawn] == [True, True, True, True, True, False]
    assert drawn[0].rows[0] == ("January", "0", "$0.00") and len(drawn[0].rows) == 12
    assert drawn[-1].rows == [("Not recorded", "1", "$2.50")]


def test_the_top_reasons_are_the_ten_most_frequent_in_a_stable_order():
    found = [(f"{n:02d}", f"reason {n}") for n in range(12) for _ in range(n % 3 + 1)]
    top = top_reasons(found)

    assert len(top) == 10
    assert [r["claims"] for r in top] == [3, 3, 3, 3, 2, 2, 2, 2, 1, 1]
    assert [r["code"] for r in top[:4]] == ["02", "05", "08", "11"]  # ties by code
    assert top[-2:] == [
        {"code": "00", "message": "reason 0", "claims": 1},
        {"code": "03", "message": "reason 3", "claims": 1},
    ]
