"""The regular expressions of an OpenAPI document, checked as outside tools read them.

OpenAPI (and JSON Schema) `pattern`s are ECMA-262 regular expressions, matched anywhere in
the string. `regress` is an ECMA-262 engine (the one jsonschema-rs uses): a pattern that
it refuses, a JavaScript client or validator refuses too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import regress


def ecma_262_error(pattern: str) -> str | None:
    """Why `pattern` is no ECMA-262 regular expression; None when it is one.

    Compiled with and without the `u` flag: without it, ECMA-262's web-compatibility
    rules read some Python-only escapes (`\\A`, `\\Z`) as literal letters, so only the
    strict reading catches them; some tools compile without it, so both must succeed.
    """
    for flags in ("u", None):
        try:
            regress.Regex(pattern, flags)
        except regress.RegressError as error:
            return f"{error} (flags: {flags or 'none'})"
    return None


def patterns(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    """Every `pattern` keyword in a JSON document, with its JSON pointer."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield f"{where}/pattern", value
            else:
                yield from patterns(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from patterns(item, f"{where}/{index}")
