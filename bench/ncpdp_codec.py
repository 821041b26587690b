"""`make bench`, part three: our D.0 codec against dzero-python's, in one process.

    python -m bench.ncpdp_codec [--transmissions 400] [--rounds 7] [--seed 11]

The set: B1 requests made from API.md's claim (tests/examples.py) by `encode_claim`, with
varied cardholders, Rx numbers, amounts and other coverage codes, and a second other
payer added to most of them, each payer with several 351-NP/352-NQ pairs and 472-6E
codes; and B1 responses with several 511-FB reject codes and 526-FQ message lines (as
`message_fields` writes them). Half requests, half responses.

For each codec, over the whole set: parse, serialize (what was parsed), and both. The
codecs run in alternating rounds and each keeps its best round, so a slow spell of a
shared machine does not decide the ratio. The figures: transmissions/s and the ratio
ours / dzero-python's. Each codec's output is checked too: ours must give back every
transmission byte for byte; dzero-python's are counted where they lose a repeat.

Bar: ours does parse + serialize at least 2x dzero-python's transmissions/s, keeping every
repeat. Exit 0 only then. Results go to bench-results/ncpdp-codec-<time>.json with a
Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dzero_python import Request, Response

from adjudicator.ncpdp.amounts import write_amount
from adjudicator.ncpdp.codec import (
    Group,
    Segment,
    Transmission,
    parse_request,
    parse_response,
    write_request,
    write_response,
)
from adjudicator.ncpdp.encode import encode_claim
from adjudicator.ncpdp.messages import message_fields
from tests.examples import CLAIM

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results"
RATIO_BAR = 2.0
REJECT_CODES = ["07", "13", "65", "70", "MR", "76", "79", "83", "88", "DU", "E7", "19"]
REASONS = [
    "This benefit may not be submitted to an FSA, HSA or HRA for reimbursement.",
    "BENEFIT REMAINING 10500.00",
    "M/I Cardholder ID",
    "Other coverage code 8 needs the other payer's patient pay amount (352-NQ).",
    "Government payer: Medicaid and Medigap patients are not eligible for this program.",
]


# --- the set of transmissions ----------------------------------------------------------


def requests(count: int, rng: random.Random) -> list[str]:
    made = []
    for n in range(count):
        claim = copy.deepcopy(CLAIM)
        claim["cardholder_id"] = f"C-{rng.randrange(10**6):06d}"
        claim["rx_number"] = str(rng.randrange(1, 10**12))
        claim["fill_number"] = rng.randrange(0, 12)
        claim["lines"] = [
            {
                **claim["lines"][0],
                "patient_responsibility": f"{rng.randrange(1, 5000)}.{n % 100:02d}",
            }
        ]
        code = rng.choice([1, 3, 8, 8])
        claim["cob"] = {
            "other_coverage_code": code,
            "other_payer_bin": rng.choice(["003858", "610014", "004336"]),
            "other_payer_reject_codes": rng.sample(REJECT_CODES, rng.randrange(0, 4))
            if code == 3
            else [],
        }
        text = encode_claim(claim)
        if code != 1 and rng.random() < 0.8:
            text = _with_second_payer(text, rng)
        made.append(text)
    return made


def _with_second_payer(text: str, rng: random.Random) -> str:
    """The same B1 with a second other payer, each payer with several NP/NQ pairs."""
    parsed = parse_request(text)
    group = parsed.groups[0]
    segments = []
    for segment in group.segments:
        if segment.id == "05":
            segment = Segment("05", _two_payers(segment, rng))
        segments.append(segment)
    return write_request(
        Transmission(parsed.header, parsed.transmission, (Group(tuple(segments)),))
    )


def _two_payers(cob: Segment, rng: random.Random) -> tuple[tuple[str, str], ...]:
    fields = [("4C", "2")]
    for payer in range(2):
        fields += [("5C", f"0{payer + 1}"), ("6C", "03"), ("7C", rng.choice(["003858", "610014"]))]
        codes = cob.every("6E") or rng.sample(REJECT_CODES, 2)
        fields += [("5E", str(len(codes)))] + [("6E", code) for code in codes]
        pairs = [
            ("06", rng.randrange(0, 10**6)),
            ("05", rng.randrange(0, 10**5)),
            ("01", -rng.randrange(0, 10**4)),
        ]
        fields.append(("NR", str(len(pairs))))
        for qualifier, cents in pairs:
            fields += [("NP", qualifier), ("NQ", write_amount(cents))]
    return tuple(fields)


def responses(count: int, rng: random.Random) -> list[str]:
    made = []
    for _ in range(count):
        codes = rng.sample(REJECT_CODES, rng.randrange(2, 6))
        texts = rng.sample(REASONS, rng.randrange(2, 5))
        status = (("AN", "R"), ("FA", str(len(codes))), *(("FB", code) for code in codes))
        group = Group(
            (
                Segment("21", (*status, *message_fields(texts))),
                Segment("22", (("EM", "1"), ("D2", str(rng.randrange(1, 10**12))))),
            )
        )
        header = {
            "version": "D0",
            "transaction_code": "B1",
            "count": "1",
            "status": "A",
            "qualifier": "01",
            "provider_id": "1234567893",
            "date_of_service": "20260301",
        }
        made.append(
            write_response(
                Transmission(header, Group((Segment("20", (("F4", "IPSEN CARES"),)),)), (group,))
            )
        )
    return made


# --- the two codecs ----------------------------------------------------------------------


def ours(kind: str) -> tuple[Callable[[str], Any], Callable[[Any], str]]:
    if kind == "request":
        return parse_request, write_request
    return parse_response, write_response


def dzero(kind: str) -> tuple[Callable[[str], Any], Callable[[Any], str]]:
    cls = Request if kind == "request" else Response
    return cls.parse, lambda parsed: parsed.to_s()


def measure(
    codec: Callable[[str], tuple[Callable, Callable]], batch: list[tuple[str, str]]
) -> dict[str, float]:
    """Seconds to parse the whole batch, then to serialize what was parsed."""
    pairs = [(codec(kind), text) for kind, text in batch]
    gc.collect()
    gc.disable()  # a collection landing in one codec's round would be charged to it
    try:
        start = time.perf_counter()
        parsed = [(write, parse(text)) for (parse, write), text in pairs]
        middle = time.perf_counter()
        for write, transmission in parsed:
            write(transmission)
        end = time.perf_counter()
    finally:
        gc.enable()
    return {"parse": middle - start, "serialize": end - middle}


def fidelity(
    codec: Callable[[str], tuple[Callable, Callable]], batch: list[tuple[str, str]]
) -> int:
    """How many transmissions come back different after parse then serialize."""
    changed = 0
    for kind, text in batch:
        parse, write = codec(kind)
        changed += write(parse(text)) != text
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transmissions", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    half = args.transmissions // 2
    batch = [("request", t) for t in requests(half, rng)] + [
        ("response", t) for t in responses(args.transmissions - half, rng)
    ]
    rng.shuffle(batch)
    repeats = sum(_repeated_fields(kind, text) for kind, text in batch)
    print(
        f"{len(batch)} transmissions ({half} B1 requests, {len(batch) - half} responses), "
        f"{sum(len(t) for _, t in batch) / len(batch):.0f} bytes on average, "
        f"{repeats / len(batch):.1f} repeated field copies each; {args.rounds} rounds"
    )
    best: dict[str, dict[str, float]] = {"ours": {}, "dzero-python": {}}
    codecs = {"ours": ours, "dzero-python": dzero}
    for _ in range(args.rounds):
        for name, codec in codecs.items():
            seconds = measure(codec, batch)
            seconds["both"] = seconds["parse"] + seconds["serialize"]
            for phase, value in seconds.items():
                best[name][phase] = min(best[name].get(phase, value), value)
    report = {
        "time": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "python": platform.python_version(),
        "transmissions": len(batch),
        "rounds": args.rounds,
        "per_second": {
            name: {phase: len(batch) / seconds for phase, seconds in phases.items()}
            for name, phases in best.items()
        },
        "changed_by_a_round_trip": {name: fidelity(codec, batch) for name, codec in codecs.items()},
    }
    ours_rate, theirs_rate = report["per_second"]["ours"], report["per_second"]["dzero-python"]
    report["ratio"] = {phase: ours_rate[phase] / theirs_rate[phase] for phase in ours_rate}
    return _conclude(report)


def _repeated_fields(kind: str, text: str) -> int:
    parsed = (parse_request if kind == "request" else parse_response)(text)
    copies = 0
    for group in (parsed.transmission, *parsed.groups):
        for segment in group.segments:
            names = [name for name, _ in segment.fields]
            copies += len(names) - len(set(names))
    return copies


def _conclude(report: dict[str, Any]) -> int:
    ratio = report["ratio"]["both"]
    changed = report["changed_by_a_round_trip"]
    bars = {
        f"ours parses + serializes >= {RATIO_BAR:g}x dzero-python's transmissions/s "
        f"({ratio:.2f}x)": ratio >= RATIO_BAR,
        f"ours gives back every transmission byte for byte ({changed['ours']} changed; "
        f"dzero-python changed {changed['dzero-python']} of {report['transmissions']})": changed[
            "ours"
        ]
        == 0,
    }
    report["bars"] = bars
    report["markdown"] = _markdown(report)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"ncpdp-codec-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2))
    print()
    for bar, passed in bars.items():
        print(f"{'PASS' if passed else 'FAIL'}  {bar}")
    print()
    print(report["markdown"])
    print(f"\n(results in {path.relative_to(ROOT)})")
    return 0 if all(bars.values()) else 1


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "| codec | parse /s | serialize /s | parse + serialize /s | changed by a round trip |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rates in report["per_second"].items():
        lines.append(
            f"| {name} | {rates['parse']:,.0f} | {rates['serialize']:,.0f} | {rates['both']:,.0f} "
            f"| {report['changed_by_a_round_trip'][name]} of {report['transmissions']} |"
        )
    ratio = report["ratio"]
    lines.append(
        f"| ratio ours / dzero-python | {ratio['parse']:.2f}x | {ratio['serialize']:.2f}x "
        f"| {ratio['both']:.2f}x | |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
