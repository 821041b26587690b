"""Structured (JSON) logs. Only whitelisted fields are written: never PHI."""

from __future__ import annotations

import json
import logging
import sys

# Identifiers that are not PHI. Cardholder ids, names, dates of birth and addresses are.
SAFE_FIELDS = ("claim_id", "enrollment_id", "count", "status", "task")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in SAFE_FIELDS if hasattr(record, k)})
        if record.exc_info:
            # The exception type and where, not its text: messages may quote request data.
            entry["error"] = record.exc_info[0].__name__ if record.exc_info[0] else "unknown"
            entry["trace"] = self.formatStack(self.formatException(record.exc_info))
        return json.dumps(entry)

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 (logging's name)
        return "\n".join(line for line in stack_info.splitlines() if line.startswith("  File"))


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
