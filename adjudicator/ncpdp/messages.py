"""Message lines of a response status segment (AM21): 526-FQ with the count,
qualifier and continuity fields D.0 pairs with them (NCPDP.md, docs/decisions.md #98)."""

from __future__ import annotations

LINE_WIDTH = 40  # 526-FQ is x(40)
MAX_LINES = 25  # 132-UH runs 01 to 25
CONTINUES = "+"  # 131-UG: this line's text goes on on the next line


def message_fields(texts: list[str]) -> list[tuple[str, str]]:
    """The AM21 fields carrying `texts`: 130-UF once, then per line 132-UH, 526-FQ and,
    when the text goes on on the next line, 131-UG `+` (D.0's order of that repeating
    group). At most 25 lines: what does not fit is dropped. No text: no fields."""
    lines: list[tuple[str, bool]] = []  # (line, continues on the next)
    for text in texts:
        wrapped = wrap(text)
        lines.extend((line, at < len(wrapped) - 1) for at, line in enumerate(wrapped))
    lines = lines[:MAX_LINES]
    if not lines:
        return []
    fields = [("UF", str(len(lines)))]
    for number, (line, continues) in enumerate(lines, start=1):
        fields += [("UH", f"{number:02d}"), ("FQ", line)]
        # The last line sent has no next line to continue on, even when text was cut.
        if continues and number < len(lines):
            fields.append(("UG", CONTINUES))
    return fields


def wrap(text: str) -> list[str]:
    """Lines of at most 40 characters, broken at spaces; a word over 40 is cut.

    Characters a D.0 field cannot carry (separators and other control characters,
    anything not ASCII) become spaces or `?` rather than an error: a reject's reason
    must always reach the pharmacy."""
    words = _printable(text).split()
    lines: list[str] = []
    line = ""
    for word in words:
        if len(word) > LINE_WIDTH:
            if line:
                lines.append(line)
            while len(word) > LINE_WIDTH:
                lines.append(word[:LINE_WIDTH])
                word = word[LINE_WIDTH:]
            line = word
        elif not line:
            line = word
        elif len(line) + 1 + len(word) <= LINE_WIDTH:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _printable(text: str) -> str:
    return "".join(
        char if " " <= char <= "~" else (" " if char.isspace() or char < " " else "?")
        for char in text
    )
