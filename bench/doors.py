"""The three doors the end-to-end bench bills through, on one running service: JSON
(`POST /v1/claims`), D.0 over HTTP (`POST /ncpdp/d0`, a switch key) and D.0 over TCP
(`--ncpdp-port`, plain on loopback: a connection acts as the switch `loopback`).

The same claims go through each door: the JSON bodies of bench/workload.py, and for D.0
those very requests encoded by `encode_claim` (a B1 of one drug line). Answers are read
after the run: a D.0 answer counts as decided when its header is accepted (501-F1 `A`),
it holds one transaction group whose 112-AN is `P` or `R`, and its 402-D2 echoes the Rx
number of the claim sent (on TCP: answers come back in order on each connection).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adjudicator.adapters.d0_framing import framed
from adjudicator.ncpdp.amounts import read_amount
from adjudicator.ncpdp.codec import parse_response
from adjudicator.ncpdp.encode import encode_claim
from bench import workload
from bench.load import NOT_SENT, TRANSPORT_ERROR, Run, Target

JSON, D0_HTTP, D0_TCP = "json", "d0-http", "d0-tcp"
# 112-AN -> the JSON decision status it answers for.
D0_STATUSES = {"P": "paid", "R": "rejected", "D": "duplicate"}


@dataclass(frozen=True)
class Door:
    key: str  # JSON, D0_HTTP or D0_TCP
    digit: str  # the door's digit in the Rx numbers it bills (ledger counts by prefix)
    target: Target

    @property
    def name(self) -> str:
        return self.target.name

    def bodies(self, claims: Sequence[bytes]) -> list[bytes]:
        """What this door sends for each JSON claim body: itself, or its D.0 B1."""
        if self.key == JSON:
            return list(claims)
        encoded = [encode_claim(json.loads(claim)).encode("ascii") for claim in claims]
        return [framed(t) for t in encoded] if self.key == D0_TCP else encoded

    def outcomes(self, answers: Sequence[bytes]) -> dict[str, Any]:
        """Statuses, reject codes, program paid: workload.outcomes' shape for every door."""
        return workload.outcomes(answers) if self.key == JSON else d0_outcomes(answers)

    def check(self, run: Run, claims: Sequence[bytes]) -> dict[str, Any]:
        """Every claim answered (HTTP 200 or an answer frame) and decided paid or rejected;
        no 5xx, no transport error; D.0: each answer's D2 is the Rx number sent."""
        codes = {code: n for code, n in run.status_counts().items() if code != NOT_SENT}
        good = echo_mismatches = 0
        for at, sample in enumerate(run.samples):
            if sample.status != 200:
                continue
            if self.key == JSON:
                decided = _json_status(sample.body) in ("paid", "rejected")
            else:
                read = read_d0_answer(sample.body)
                rx_sent = str(json.loads(claims[at])["rx_number"])
                echoed = read is not None and read["rx_number"] == rx_sent
                echo_mismatches += read is not None and not echoed
                decided = echoed and read is not None and read["status"] in ("paid", "rejected")
            good += decided
        server_errors = sum(count for code, count in codes.items() if code >= 500)
        sent = len(run.sent)
        check = {
            "requests": sent,
            "not_sent": run.not_sent,
            "status": {str(k): v for k, v in codes.items()},
            "decided": good,
            "server_errors": server_errors,
            "transport_errors": codes.get(TRANSPORT_ERROR, 0),
            "ok": good == sent and server_errors == 0,
        }
        if self.key != JSON:
            check["rx_echo_mismatches"] = echo_mismatches
        return check


def doors(port: int, ncpdp_port: int, pharmacy_key: str, switch_key: str) -> list[Door]:
    json_headers = {"Authorization": f"Bearer {pharmacy_key}", "Content-Type": "application/json"}
    d0_headers = {
        "Authorization": f"Bearer {switch_key}",
        "Content-Type": "application/octet-stream",
    }
    return [
        Door(JSON, "1", Target("end-to-end", port, "/v1/claims", json_headers)),
        Door(D0_HTTP, "2", Target("D.0 HTTP", port, "/ncpdp/d0", d0_headers)),
        Door(D0_TCP, "3", Target("D.0 TCP", ncpdp_port, "", {}, transport="tcp")),
    ]


def read_d0_answer(body: bytes) -> dict[str, Any] | None:
    """One B1 answer: status (as JSON names it), reject codes, Rx number echoed, program
    paid in cents, held back by a cap; None when it is not an accepted one-group answer."""
    try:
        answer = parse_response(body)
    except ValueError:
        return None
    if answer.header.get("status") != "A" or len(answer.groups) != 1:
        return None
    group = answer.groups[0]
    status, claim, pricing = group.segment("21"), group.segment("22"), group.segment("23")
    if status is None or claim is None:
        return None
    outcome = status.first("AN") or ""
    try:
        paid = read_amount(pricing.first("F9") or "0") if pricing is not None else 0
    except ValueError:
        return None
    return {
        "status": D0_STATUSES.get(outcome, f"(112-AN {outcome!r})"),
        "reject_codes": status.every("FB"),
        "rx_number": claim.first("D2"),
        "program_paid_cents": paid,
        "capped": pricing is not None and pricing.first("FK") is not None,
    }


def d0_outcomes(answers: Sequence[bytes]) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    capped = paid_cents = 0
    for body in answers:
        read = read_d0_answer(body)
        if read is None:
            statuses["(not a D.0 answer)"] += 1
            continue
        statuses[read["status"]] += 1
        rejects.update(read["reject_codes"])
        if read["status"] == "paid":
            paid_cents += read["program_paid_cents"]
            capped += read["capped"]
    return {
        "statuses": dict(statuses.most_common()),
        "paid_limited_by_a_cap": capped,
        "reject_codes": dict(rejects.most_common()),
        "program_paid": f"{paid_cents // 100}.{paid_cents % 100:02d}",
    }


def _json_status(body: bytes) -> str | None:
    try:
        decision = json.loads(body)
    except ValueError:
        return None
    return decision.get("status") if isinstance(decision, dict) else None
