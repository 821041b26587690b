"""Bar charts drawn on the server as inline SVG (pygal), fit for the console's CSP.

The console's policy runs no script and takes styles only from its own stylesheets
(`style-src 'self'`). pygal writes a `<script>` (its configuration, even with `js=[]`)
and a `<style>` into every SVG, and a `style` attribute on its tooltip: all three are
taken out of the tree before it is written. pygal's CSS, scoped to each chart's id, is
served instead as one stylesheet (`stylesheet()`, at /console/charts.css) scoped to the
class every pygal chart carries. See docs/decisions.md #151.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

# pygal appends a finder for its map plugins (pygal.maps.*, unused here) that predates
# find_spec, so every import that falls through the others (an optional module probed
# for) raises an ImportWarning. The console draws no maps: take the finder out.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

CHART_CLASS = "pygal-chart"  # pygal's own class on every chart's <svg>
_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
STYLE = Style(
    font_family=_FONT,
    background="transparent",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#57606a",
    colors=("#0b4f8a",),  # the console's brand blue
    opacity="1",
    opacity_hover="1",
    transition="0ms",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=12,
    tooltip_font_size=12,
)
_CONFIG: dict[str, Any] = {
    "style": STYLE,
    "js": [],  # no pygal.js from a CDN
    "disable_xml_declaration": True,  # the SVG goes inside an HTML page
    "show_legend": False,
    "width": 640,
    "height": 340,
    "margin": 12,
    "print_values": False,
    "truncate_label": 32,
    "no_data_text": "Nothing yet",
}
_KINDS: dict[str, type[Any]] = {"bar": pygal.Bar, "hbar": pygal.HorizontalBar}


def _local(tag: Any) -> str:
    """An element's tag without its namespace (lxml and ElementTree spell it differently)."""
    return str(tag).rsplit("}", 1)[-1]


def _scrub(found_css: list[str] | None = None) -> Callable[[Any], Any]:
    """An xml filter of pygal's: drop every script, style element and style attribute
    (the text of the styles goes to `found_css` when given), and pygal's comments."""

    def scrub(root: Any) -> Any:
        for parent in list(root.iter()):
            for child in list(parent):
                name = _local(child.tag)
                if name == "style" and found_css is not None:
                    found_css.append(child.text or "")
                # A comment's tag is the Comment factory (ElementTree and lxml alike).
                if name in ("script", "style") or callable(child.tag):
                    parent.remove(child)
        for element in root.iter():
            element.attrib.pop("style", None)
        return root

    return scrub


def ticks(top: float, most: int = 6) -> list[int]:
    """Whole steps of 1, 2 or 5 times a power of ten from 0 to at least `top`, at most
    `most` + 1 of them: pygal's own steps may be fractions of a claim, or crowd an axis."""
    if top <= 0:
        return [0, 1]
    rough = top / most
    power = 10 ** math.floor(math.log10(rough))
    step = max(1, round(next(m * power for m in (1, 2, 5, 10) if m * power >= rough)))
    return [n * step for n in range(math.ceil(top / step) + 1)]


def _chart(kind: str, name: str, formatter: Callable[[float], str], **config: Any) -> Any:
    chart = _KINDS[kind](**(_CONFIG | config), value_formatter=formatter)
    chart.uuid = name  # the <svg>'s id is "chart-" + this: stable, and unique on the page
    return chart


def svg(
    kind: str,
    name: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    formatter: Callable[[float], str],
    *,
    labelled_by: str,
) -> Markup:
    """One series of bars as an inline `<svg role="img">` labelled by the element
    `labelled_by` (the caption of the table that holds the same numbers)."""
    size: dict[str, Any] = {"y_labels": ticks(max(values, default=0))}
    if kind == "hbar":  # as tall as its bars need: one bar is not a wall of blue
        size["height"] = 70 + 34 * max(len(values), 2)
    chart = _chart(kind, name, formatter, **size)
    chart.x_labels = list(labels)
    chart.add(title, list(values))
    chart.add_xml_filter(_scrub())
    chart.add_xml_filter(_label(title, labelled_by))
    text = chart.render(is_unicode=True)
    return Markup(text)  # pygal escapes the labels it writes; nothing here is raw input


def _label(title: str, labelled_by: str) -> Callable[[Any], Any]:
    def label(root: Any) -> Any:
        root.set("role", "img")
        root.set("aria-labelledby", labelled_by)
        root.set("focusable", "false")
        for element in root.iter():
            if _local(element.tag) == "title":
                element.text = title
                break
        return root

    return label


@cache
def stylesheet() -> str:
    """pygal's CSS for the charts `svg()` draws, scoped to their class, not one id."""
    found: list[str] = []
    for kind in _KINDS:
        chart = _chart(kind, "style", str)
        chart.x_labels = ["a"]
        chart.add("a", [1])
        chart.add_xml_filter(_scrub(found))
        chart.render(is_unicode=True)
    scoped = [re.sub(r"#chart-style\b", f".{CHART_CLASS}", css) for css in found]
    return "\n".join(dict.fromkeys(scoped)) + "\n"
