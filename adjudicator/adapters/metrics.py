"""Prometheus metrics (PAYMENTS.md, Seeing the program), no PHI in any label.

What the workers observe (decisions, reject codes, how long a decision took) is counted
in each process; with PROMETHEUS_MULTIPROC_DIR set (`adjudicator run` sets it for all its
children) every web and worker process writes there and a scrape adds them up. What the
ledger knows (claims by door and status, claims still `received`, money by kind) and the
last accumulator check are read at scrape time: the same in every process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

DECISIONS = Counter(
    "adjudicator_decisions", "Claims decided, by door and status", ["door", "status"]
)
REJECTS = Counter("adjudicator_rejects", "Reject codes answered, by door", ["door", "code"])
DECISION_SECONDS = Histogram(
    "adjudicator_decision_seconds",
    "From a claim received to its decision recorded",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def record_decision(door: str, status: str, codes: list[str], seconds: float | None) -> None:
    DECISIONS.labels(door, status).inc()
    for code in codes:
        REJECTS.labels(door, code).inc()
    if seconds is not None:
        DECISION_SECONDS.observe(max(seconds, 0.0))


class LedgerCollector(Collector):
    """Gauges read when scraped; `read` answers {"claims": {(door, status): n},
    "received": n, "money": {kind: cents}, "mismatches": n | None}."""

    def __init__(self, read: Any) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        state = self._read()
        claims = GaugeMetricFamily(
            "adjudicator_claims",
            "Claims in the ledger, by door and status",
            labels=["door", "status"],
        )
        for (door, status), count in sorted(state["claims"].items()):
            claims.add_metric([door, status], count)
        yield claims
        yield GaugeMetricFamily(
            "adjudicator_claims_received",
            "Claims still waiting for a decision",
            value=state["received"],
        )
        money = GaugeMetricFamily(
            "adjudicator_money_dollars", "Money events' sums, by kind (reversals negative)",
            labels=["kind"],
        )  # fmt: skip
        for kind, cents in sorted(state["money"].items()):
            money.add_metric([kind], cents / 100)
        yield money
        if state["mismatches"] is not None:
            yield GaugeMetricFamily(
                "adjudicator_accumulator_mismatches",
                "Years whose Redis total differed from the ledger at the last check",
                value=state["mismatches"],
            )


def exposition(read: Any) -> bytes:
    """The text format of every process's metrics and the ledger's gauges."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY  # one process: its own counters
    ledger = LedgerCollector(read)
    registry.register(ledger)
    try:
        return generate_latest(registry)
    finally:
        registry.unregister(ledger)
