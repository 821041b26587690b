"""Liveness, readiness: no authentication."""

from __future__ import annotations

import hmac

from flask import current_app, jsonify, request
from flask_smorest import Blueprint

from adjudicator.adapters.metrics import exposition
from adjudicator.services import ledger_gauges
from adjudicator.web.problems import ProblemAbort, problem
from adjudicator.web.runtime import runtime
from schemas.operations import HealthSchema, ReadinessSchema

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
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


@blp.route("/metrics", methods=["GET"])
@blp.doc(
    responses={"200": {"description": "Prometheus text format", "content": {METRICS_TYPE: {}}}}
)
def metrics():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Prometheus metrics of every web and worker process and of the ledger; no PHI. Open
    unless ADJUDICATOR_METRICS_TOKEN is set, then that bearer token is required."""
    rt = runtime()
    token = rt.config.metrics_token
    given = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise ProblemAbort(problem(401, "Unauthorized", "/metrics wants its bearer token."))
    body = exposition(lambda: ledger_gauges.read(rt))
    return current_app.response_class(body, mimetype=METRICS_TYPE)
