"""Console sign-in: a server-side session in Redis, an idle timeout, and CSRF tokens.

The Flask session (a signed, HttpOnly, SameSite=Lax cookie scoped to /console) holds
only two random values: `nonce`, from which the CSRF token is derived, and `sid`,
the id of the server-side session. The server-side record names the user and when
they were last seen; logging out deletes it, so a copied cookie is dead after logout
and after the idle timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from adjudicator.services.identity import STAFF_ROLES, Principal
from adjudicator.web.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])

KEY_PREFIX = "console-session:"
CSRF_FIELD = "csrf_token"
EXPIRED_MESSAGE = "You were signed out after {minutes} minutes without activity. Sign in again."


@dataclass(frozen=True)
class Staff:
    username: str
    role: str

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.username)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """The cookie is marked Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Any) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Any, request: Any) -> Any:
        # The cookie is scoped to the console's path, so no API request carries one:
        # skip building a signer per claim, and let the API's requests have none.
        if not request.path.startswith(app.config["SESSION_COOKIE_PATH"]):
            return self.make_null_session(app)
        return super().open_session(app, request)


def idle_seconds() -> int:
    return int(current_app.config["CONSOLE_IDLE_SECONDS"])


def _key(sid: str) -> str:
    return KEY_PREFIX + hashlib.sha256(sid.encode()).hexdigest()


# --- sign in and out ---------------------------------------------------------------


def start(principal: Principal) -> None:
    """A fresh session for a staff member who just proved their password."""
    if principal.role not in STAFF_ROLES:
        raise ValueError("only hub staff sign in to the console")
    end()
    sid = secrets.token_urlsafe(32)
    record = {"username": principal.name, "role": principal.role, "last_seen": f"{time.time()}"}
    client = runtime().redis
    with client.pipeline() as pipe:
        pipe.hset(_key(sid), mapping=record).expire(_key(sid), idle_seconds()).execute()
    session.clear()  # a new nonce too: a token seen before sign-in is worth nothing after
    session.permanent = True
    session["sid"] = sid


def end() -> None:
    sid = session.get("sid")
    if sid:
        runtime().redis.delete(_key(sid))
    session.clear()


def current_staff() -> Staff | None:
    """The signed-in user, whose last activity is now; None when signed out or idle too long."""
    if "console_staff" in g:
        return g.console_staff  # type: ignore[no-any-return]
    g.console_staff = None
    g.console_expired = False
    sid = session.get("sid")
    if not sid:
        return None
    client = runtime().redis
    record = {_text(k): _text(v) for k, v in client.hgetall(_key(sid)).items()}
    now = time.time()
    if not record or now - float(record.get("last_seen", 0)) > idle_seconds():
        client.delete(_key(sid))
        session.pop("sid", None)
        g.console_expired = True
        return None
    with client.pipeline() as pipe:
        pipe.hset(_key(sid), "last_seen", f"{now}").expire(_key(sid), idle_seconds()).execute()
    g.console_staff = Staff(record["username"], record["role"])
    return g.console_staff  # type: ignore[no-any-return]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def staff_required(view: F) -> F:
    """Send whoever is not signed in (an API key or token counts for nothing) to sign in."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            if g.get("console_expired"):
                flash(EXPIRED_MESSAGE.format(minutes=max(idle_seconds() // 60, 1)), "info")
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("console.login", next=safe_next(target)))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def safe_next(target: str | None) -> str | None:
    """Only a path inside the console is a place to go back to after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        return None
    if parts.path.startswith("/console/login"):
        return None
    return target.rstrip("?")


# --- CSRF --------------------------------------------------------------------------


def csrf_token() -> str:
    """The token every console form posts back: an HMAC of this session's nonce."""
    nonce = session.get("nonce")
    if not nonce:
        nonce = session["nonce"] = secrets.token_urlsafe(32)
    return _sign(nonce)


def _sign(nonce: str) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, f"console-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def check_csrf() -> None:
    """400 unless a POST carries this session's token."""
    if request.method != "POST":
        return
    nonce = session.get("nonce")
    sent = request.form.get(CSRF_FIELD, "")
    if not nonce or not sent or not hmac.compare_digest(sent, _sign(nonce)):
        abort(400, "The form's security token is missing or out of date.")
