"""526-FQ message lines with their count (130-UF), qualifier (132-UH) and continuity
(131-UG) fields: at most 40 characters a line, wrapped at spaces."""

from __future__ import annotations

import textwrap

LINE_WIDTH = 40
MAX_LINES = 25


def message_fields(texts: list[str]) -> list[tuple[str, str]]:
    lines: list[tuple[str, bool]] = []  # (line, the text continues on the next)
    for text in texts:
        wrapped = textwrap.wrap(text, LINE_WIDTH, break_on_hyphens=False) or [""]
        lines += [(line, index < len(wrapped) - 1) for index, line in enumerate(wrapped)]
    lines = lines[:MAX_LINES]
    if not lines:
        return []
    fields = [("UF", str(len(lines)))]
    for number, (line, continues) in enumerate(lines, start=1):
        fields += [("UH", f"{number:02d}"), ("FQ", line)]
        if continues:
            fields.append(("UG", "+"))
    return fields
