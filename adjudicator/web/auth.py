"""Bearer-token authentication and role checks, done before the body is read."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from adjudicator.services import identity
from adjudicator.web.problems import ProblemAbort, problem
from adjudicator.web.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])


def require(*roles: str) -> Callable[[F], F]:
    """Let through callers holding one of `roles` (admin counts as reviewer)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = _authenticate()
            if not principal.has_role(*roles):
                raise ProblemAbort(
                    problem(403, "Forbidden", f"This needs the role {' or '.join(roles)}.")
                )
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # wraps() loses F

    return decorator


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
