"""Bearer-token authentication and role checks, done before the body is read.

A view marked with `require` has its caller authenticated in a before-request hook, so
the rate limit (web/limits.py, the next hook) counts known credentials only: a request
without one is 401 and counts against nobody. The role is checked in the view's wrapper."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from adjudicator.services import identity
from adjudicator.web.problems import ProblemAbort, problem
from adjudicator.web.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])


def require(*roles: str) -> Callable[[F], F]:
    """Let through callers holding one of `roles` (admin counts as reviewer)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = g.principal if "principal" in g else _authenticate()
            if not principal.has_role(*roles):
                raise ProblemAbort(
                    problem(403, "Forbidden", f"This needs the role {' or '.join(roles)}.")
                )
            g.principal = principal
            return view(*args, **kwargs)

        wrapper.bearer_roles = roles  # type: ignore[attr-defined]  # read by _authenticate_first
        return wrapper  # type: ignore[return-value]  # wraps() loses F

    return decorator


def register(app: Flask) -> None:
    """Authenticate callers of `require`d views before any later before-request hook."""
    app.before_request(_authenticate_first)


def _authenticate_first() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "bearer_roles", None) is not None:
        g.principal = _authenticate()


def _authenticate() -> identity.Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token.strip():
        principal = identity.authenticate(runtime().ledger, token.strip())
    if principal is None:
        response = problem(401, "Unauthorized", "A valid bearer token is required.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="adjudicator"'
        raise ProblemAbort(response)
    return principal


def principal() -> identity.Principal:
    return g.principal
