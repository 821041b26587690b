"""Liveness, readiness: no authentication."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint

from adjudicator.web.runtime import runtime
from schemas.operations import HealthSchema, ReadinessSchema

blp = Blueprint("operations", __name__, description="Liveness and readiness (no auth)")


@blp.route("/healthz", methods=["GET"])
@blp.alt_response(200, schema=HealthSchema, success=True)
def healthz():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """200 while the process lives."""
    return jsonify(status="ok")


@blp.route("/readyz", methods=["GET"])
@blp.alt_response(200, schema=ReadinessSchema, success=True)
@blp.alt_response(503, schema=ReadinessSchema, description="Something did not answer")
def readyz():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
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
