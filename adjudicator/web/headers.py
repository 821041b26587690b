"""Headers of every answer (API, console, docs, errors), and the docs page's policy."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

#: Over https, browsers keep to https for this host for a year (API.md: when the request
#: came over https; behind a proxy, ADJUDICATOR_PROXY_HOPS lets its X-Forwarded-Proto say so).
HSTS = "max-age=31536000; includeSubDomains"
#: Swagger UI from this server only; its one inline script (flask-smorest's page configures
#: Swagger UI inline) is allowed by its hash, so no other inline script runs. Swagger UI
#: sets inline styles, hence 'unsafe-inline' for styles (which cannot run anything).
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)  # no `src`: inline


def register(app: Flask) -> None:
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    # No browser guesses a type other than the one answered (a JSON answer run as a page).
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    path = request.path
    if path.startswith(("/v1/", "/ncpdp/")):
        # Answers name patients and their money (D.0's too): no browser or proxy keeps a copy.
        response.headers.setdefault("Cache-Control", "no-store")
    elif path == "/docs" or path.startswith("/docs/"):
        response.headers["Content-Security-Policy"] = docs_policy(response)
    return response


def docs_policy(response: Response) -> str:
    """The policy of a /docs answer: a page's own inline scripts allowed by their hashes."""
    if response.mimetype != "text/html" or response.direct_passthrough:
        return DOCS_POLICY.format(hashes="")
    hashes = "".join(f" {script_hash(s)}" for s in _INLINE_SCRIPT.findall(response.get_data(True)))
    return DOCS_POLICY.format(hashes=hashes)


def script_hash(script: str) -> str:
    """A CSP source allowing exactly this inline script: `'sha256-...'` of its UTF-8 text."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"
