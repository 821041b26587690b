"""The Flask application: create_app() builds everything from one Config."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

import adjudicator.web.readjudications as readjudications
from adjudicator import logs
from adjudicator.adapters.accumulator import ensure_no_eviction
from adjudicator.config import Config
from adjudicator.services.runtime import Runtime
from adjudicator.web import (
    auth,
    claims,
    console,
    docs_page,
    enrollments,
    headers,
    limits,
    ncpdp,
    operations,
    paths,
    payments,
    problems,
    review,
    terms,
)
from adjudicator.wiring import build_runtime
from schemas.fields import OPENAPI_FIELD_TYPES
from schemas.problems import ProblemSchema


def create_app(config: Config | None = None, runtime: Runtime | None = None) -> Flask:
    config = config or Config.from_env()
    logs.configure()
    app = Flask(__name__)
    paths.use_text_variables(app)  # before any route: an id never holds a control character
    app.json.sort_keys = False  # type: ignore[attr-defined]  # the default provider has it; keep the field order of API.md
    app.config.update(
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        SECRET_KEY=config.secret_key or None,
        API_TITLE="Copay claims adjudicator",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=docs_page.ASSETS_URL,
    )
    rt = runtime or build_runtime(config)
    ensure_no_eviction(rt.redis)  # refuse to run on a Redis that may drop a patient's total
    app.extensions["adjudicator"] = rt
    api = _ProblemApi(app)
    for field, openapi_type in OPENAPI_FIELD_TYPES.items():
        api.register_field(field, *openapi_type)
    paths.document_text_variables(api)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "API key or staff token"}
    )
    for module in (enrollments, claims, review, terms, readjudications, payments):
        api.register_blueprint(module.blp, url_prefix="/v1")
    api.register_blueprint(operations.blp)
    api.register_blueprint(ncpdp.blp)  # D.0 over HTTP: NCPDP.md, Transports
    problems.register(app)  # after Api, so problem+json replaces its error format
    auth.register(app)  # the caller is known before its rate limit is counted
    limits.init_app(app, rt)  # per credential, after auth's hook
    docs_page.register(app)  # Swagger UI's own files, not a CDN's
    headers.register(app)  # nosniff, HSTS over https, no-store on /v1, /docs's policy
    console.init_app(app, config)  # the hub console's pages at /console
    if config.proxy_hops:
        # Behind N proxies, the client address is the Nth-last X-Forwarded-For entry (what
        # the sign-in limit counts by); entries further left are the client's to forge.
        # The scheme (the cookie's Secure flag) is the last X-Forwarded-Proto value: proxies
        # overwrite that header rather than append to it, so the nearest one's word counts.
        fix = ProxyFix(app.wsgi_app, x_for=config.proxy_hops, x_proto=1)
        app.wsgi_app = fix  # type: ignore[method-assign]  # Flask's way to add middleware
    return app


class _ProblemApi(Api):
    """Document errors as the problem+json documents they are."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_RESPONSE_CONTENT_TYPE = "application/json"

    def _register_responses(self) -> None:
        """flask-smorest files its error responses (`default` of every operation) under
        DEFAULT_RESPONSE_CONTENT_TYPE; every error this API answers is application/problem+json."""
        super()._register_responses()
        for response in self.spec.components.responses_lazy.values():
            content = response.get("content", {})
            if self.DEFAULT_RESPONSE_CONTENT_TYPE in content:
                content[problems.PROBLEM_TYPE] = content.pop(self.DEFAULT_RESPONSE_CONTENT_TYPE)
