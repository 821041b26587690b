"""The baseline: bare Flask that only loads a claim with ClaimRequestSchema.

What is left between it and the real service (auth, the ledger, Celery, the worker,
Redis, the decision's dump) is what the end-to-end numbers pay for. Served by
`bench.claims` with the same gunicorn command line as `adjudicator run`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from marshmallow import ValidationError

from schemas.claims import ClaimRequestSchema

app = Flask(__name__)
# Built once, as adjudicator/web/claims.py builds it: a schema built per request costs
# ~0.4 ms more (its first load binds the fields), which would flatter the ratio.
_CLAIM_REQUEST = ClaimRequestSchema()


def load_claim() -> Any:
    """The request's claim as the schema loads it, or the 400 / 422 answer (a tuple)."""
    payload = request.get_json(force=True, silent=True)
    if not isinstance(payload, dict):
        return {"status": "invalid", "detail": "The request body must be a JSON object."}, 400
    try:
        return _CLAIM_REQUEST.load(payload)
    except ValidationError as error:
        return {"status": "invalid", "errors": error.messages}, 422


@app.post("/v1/claims")
def submit_claim() -> Any:
    claim = load_claim()
    if isinstance(claim, tuple):
        return claim
    return {"status": "accepted", "rx_number": claim["rx_number"]}


@app.get("/readyz")
def readyz() -> Any:
    return {"status": "ok"}
