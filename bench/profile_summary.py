"""Where the server's CPU went: a summary of py-spy's folded stacks (`--profile`).

    python -m bench.profile_summary bench-results/profile-<time>.folded [--top 25]

py-spy `record --subprocesses --format raw` writes one line per distinct stack:
`process A;process B;...;frame;frame;... <samples>`, the process prefixes naming
the chain from the root pid down. Samples are attributed to a role (web worker,
Celery child, ...) by the innermost process's command line, then summed per
function: "self" where the function was on top, "total" where it was anywhere on
the stack (counted once per sample).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PROCESS = re.compile(r'^process (\d+):"(.*)"$')


def parse(path: Path) -> list[tuple[str, list[str], int]]:
    """(role, frames outermost first, samples) per line."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        parts = stack.split(";")
        processes = [p for p in parts if _PROCESS.match(p)]
        frames = [p for p in parts if not _PROCESS.match(p)]
        stacks.append((_role(processes), frames, int(count)))
    return stacks


def _role(processes: list[str]) -> str:
    depth = len(processes)
    innermost = _PROCESS.match(processes[-1]) if processes else None
    command = innermost.group(2) if innermost else ""
    if "gunicorn" in command:
        return "web worker (gunicorn)" if depth >= 3 else "web master (gunicorn)"
    if "celery" in command:
        return "Celery child (prefork)" if depth >= 3 else "Celery master + beat"
    if "ncpdp serve" in command:
        return "D.0 TCP server (ncpdp serve)"
    if "adjudicator run" in command:
        return "adjudicator run (launcher)"
    return command[:60] or "?"


MIN_ROLE_SHARE = 0.05  # roles with fewer of the samples get the count line only


def summarize(path: Path, top: int = 25) -> str:
    stacks = parse(path)
    total = sum(count for _, _, count in stacks)
    by_role: Counter[str] = Counter()
    own: dict[str, Counter[str]] = defaultdict(Counter)
    inclusive: dict[str, Counter[str]] = defaultdict(Counter)
    for role, frames, count in stacks:
        by_role[role] += count
        if frames:
            own[role][_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            inclusive[role][frame] += count
    lines = [f"{total} samples in all (py-spy, active threads only)"]
    for role, count in by_role.most_common():
        lines.append(f"  {role:<28} {count:>6}  {count / total:6.1%}")
    for role, count in by_role.most_common():
        if count < total * MIN_ROLE_SHARE:
            continue
        lines.append(f"\n== {role}: {count} samples; inclusive (anywhere on the stack) ==")
        lines += _top(inclusive[role], count, top, skip_frameworks=True)
        lines.append(f"-- {role}: self (on top of the stack) --")
        lines += _top(own[role], count, top // 2)
    return "\n".join(lines)


_FRAMEWORK = ("threading.py", "gunicorn/", "click/", "billiard/", "celery/bin", "bootsteps")


def _top(counter: Counter[str], whole: int, top: int, skip_frameworks: bool = False) -> list[str]:
    rows = [
        (name, count)
        for name, count in counter.most_common()
        if not (skip_frameworks and any(f in name for f in _FRAMEWORK))
    ]
    return [f"  {count / whole:6.1%}  {count:>6}  {name}" for name, count in rows[:top]]


def _short(frame: str) -> str:
    """`func (path/to/site-packages/pkg/mod.py:12)` -> `func (pkg/mod.py)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_summary", description=__doc__)
    parser.add_argument("folded", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(summarize(args.folded, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
