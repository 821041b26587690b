"""What the use cases of one process work with, built once (adjudicator/wiring.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from adjudicator.adapters.accumulator import Accumulator
from adjudicator.adapters.decision_channel import DecisionChannel
from adjudicator.config import Config
from adjudicator.services.unit_of_work import Ledger


@dataclass
class Runtime:
    config: Config
    ledger: Ledger
    redis: redis.Redis
    accumulator: Accumulator
    decisions: DecisionChannel  # claims to the workers, decisions back to the request
    send_job: Callable[[str], None]  # a re-adjudication job id to the `batch` queue

    @property
    def engine(self) -> Any:
        """The SQL ledger's engine, for tests and benchmarks that read SQL directly."""
        return self.ledger.engine  # type: ignore[attr-defined]  # SqlLedger's, not the port's

    def close(self) -> None:
        self.redis.close()
        self.ledger.dispose()
