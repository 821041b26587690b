"""Per-credential rate limits (API.md): Flask-Limiter, a moving window in the app's Redis.

Each credential, once authenticated, has a budget of its own by its kind (config.Rate):
by default 100 requests in any 5 seconds, which is 20/s sustained with bursts of 100
(docs/decisions.md #92). The limit is checked after the bearer token is known (web/auth.py
runs first) and before the view reads the body; requests without a credential (/healthz,
/readyz, /openapi.json, /docs, the console's pages) are not limited here. Over the limit:
429 problem+json with `Retry-After`. If Redis cannot be reached, each web process limits
in its own memory until it can again.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, g
from flask_limiter import Limiter, RateLimitExceeded

from adjudicator.config import RATE_KEY_PREFIX
from adjudicator.services.runtime import Runtime
from adjudicator.web.problems import problem

KEY_PREFIX = RATE_KEY_PREFIX


def init_app(app: Flask, rt: Runtime) -> Limiter:
    """Limit every authenticated request of `app` by the rates of `rt`'s configuration;
    call after auth.register(app)."""
    config = rt.config

    def caller() -> str:
        return str(g.principal.actor)  # `pharmacy:<npi>`, `switch:<name>` or `user:<username>`

    def caller_limit() -> str:
        return config.rate_for(g.principal.role).limit()

    limiter = Limiter(
        caller,
        application_limits=[caller_limit],  # one budget per credential, across endpoints
        strategy="moving-window",
        storage_uri="redis://",  # the Runtime's own connection pool, below
        storage_options={"connection_pool": rt.redis.connection_pool},  # type: ignore[dict-item]  # passed on to redis.Redis
        key_prefix=KEY_PREFIX,
        headers_enabled=False,  # X-RateLimit-* would cost a second Redis call per request
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    limiter.request_filter(lambda: "principal" not in g)
    limiter.init_app(app)

    def too_many(error: RateLimitExceeded) -> Response:
        rate = config.rate_for(g.principal.role)
        current = limiter.current_limit  # the breached limit: when its oldest request ages out
        frees_at = current.window.reset_time if current is not None else time.time()
        wait = max(1, math.ceil(frees_at - time.time()))
        response = problem(
            429,
            "Too Many Requests",
            f"This credential may send {rate.per_second} requests a second, in bursts of at "
            f"most {rate.burst}. Retry after {wait} second{'s' * (wait > 1)}.",
        )
        response.headers["Retry-After"] = str(wait)
        return response

    app.register_error_handler(RateLimitExceeded, too_many)
    return limiter
