"""Structured (JSON) logs. Only whitelisted fields are written: never PHI."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping

# Identifiers that are not PHI. Cardholder ids, names, dates of birth and addresses are.
SAFE_FIELDS = ("claim_id", "enrollment_id", "count", "status", "task")
OWN_LOGGERS = "adjudicator"
# A library's message may quote what came in (gunicorn: a bad request line or header;
# Celery: an exception's text, SQL parameters included). Its head says what happened.
_QUOTED_DETAIL = re.compile(r":\s.*", re.DOTALL)
_QUERY = re.compile(r"\?\S*")
_MEMBER = re.compile(r"(/members/)[^/\s]+")  # the cardholder id in a benefit URL


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        entry.update({k: getattr(record, k) for k in SAFE_FIELDS if hasattr(record, k)})
        if (error := _library_error(record)) is not None:
            entry["error"] = error
        if record.exc_info:
            # The exception type and where, not its text: messages may quote request data.
            entry["error"] = record.exc_info[0].__name__ if record.exc_info[0] else "unknown"
            entry["trace"] = self.formatStack(self.formatException(record.exc_info))
        return json.dumps(entry)

    def formatStack(self, stack_info: str) -> str:  # noqa: N802  # logging's method name
        return "\n".join(line for line in stack_info.splitlines() if line.startswith("  File"))


def _own(record: logging.LogRecord) -> bool:
    return record.name == OWN_LOGGERS or record.name.startswith(OWN_LOGGERS + ".")


def _message(record: logging.LogRecord) -> str:
    """Our own messages as written; a library's without what it quotes of the request."""
    if _own(record):
        return record.getMessage()
    head = _QUOTED_DETAIL.sub("", record.getMessage())
    return _MEMBER.sub(r"\1…", _QUERY.sub("?…", head))


def _library_error(record: logging.LogRecord) -> str | None:
    """The exception type a Celery task log names in its text (`OperationalError(...)`)."""
    if _own(record) or not isinstance(record.args, Mapping):
        return None
    exc = record.args.get("exc")
    return exc.split("(", 1)[0] if isinstance(exc, str) and exc else None


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # gunicorn's error log keeps its own handlers (it does not propagate): in a web worker
    # they get our formatter too, or a bad request line would be printed as it came.
    for own_handler in logging.getLogger("gunicorn.error").handlers:
        own_handler.setFormatter(JsonFormatter())
