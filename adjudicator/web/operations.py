"""Liveness, readiness: no authentication."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint

from adjudicator.web.runtime import runtime

blp = Blueprint("operations", __name__, description="Liveness and readiness (no auth)")


@blp.route("/healthz", methods=["GET"])
def healthz():  # type: ignore[no-untyped-def]
    """200 while the process lives."""
    return jsonify(status="ok")


@blp.route("/readyz", methods=["GET"])
def readyz():  # type: ignore[no-untyped-def]
    """200 when the database, Redis and the broker answer; else 503 naming what failed."""
    checks = {"database": _database_ok, "redis": _redis_ok, "broker": _broker_ok}
    failed = [name for name, check in checks.items() if not check()]
    if failed:
        return jsonify(status="unavailable", failed=failed), 503
    return jsonify(status="ok")


def _database_ok() -> bool:
    try:
        runtime().ledger.ping()
        return True
    except Exception:
        return False


def _redis_ok() -> bool:
    try:
        return bool(runtime().redis.ping())
    except Exception:
        return False


def _broker_ok() -> bool:
    # The broker is the same Redis deployment; a queue we can read proves it answers.
    try:
        runtime().redis.llen("claims")
        return True
    except Exception:
        return False
