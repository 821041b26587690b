"""Liveness, readiness: no authentication."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from adjudicator.web.runtime import runtime

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    checks = {"database": _database_ok, "redis": _redis_ok, "broker": _broker_ok}
    failed = [name for name, check in checks.items() if not check()]
    if failed:
        return jsonify(status="unavailable", failed=failed), 503
    return jsonify(status="ok")


def _database_ok() -> bool:
    try:
        with runtime().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
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
