"""Console sign-in: a server-side session in Redis, an idle timeout, and CSRF tokens.

The Flask session (a signed, HttpOnly, SameSite=Lax cookie scoped to /console) holds
only two random values: `nonce`, from which the CSRF token is derived, and `sid`,
the id of the server-side session. The server-side record names the user, when they
signed in and were last seen, and a stamp of their credentials; logging out deletes
it, so a copied cookie is dead after logout, after the idle timeout, after
MAX_SESSION_HOURS, and once the user's role, token or password changes.
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

from adjudicator.services import identity
from adjudicator.services.identity import STAFF_ROLES, Principal, SignIn
from adjudicator.web.runtime import runtime
from schemas.fields import is_text

F = TypeVar("F", bound=Callable[..., Any])

KEY_PREFIX = "console-session:"
CSRF_FIELD = "csrf_token"
MAX_SESSION_HOURS = 12  # a working day: an active session does not last forever
SIGNED_OUT = {
    "idle": "You were signed out after {minutes} minutes without activity. Sign in again.",
    "lifetime": f"You were signed out {MAX_SESSION_HOURS} hours after signing in. Sign in again.",
    "credentials": "Your account's role, password or token changed. Sign in again.",
}


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


def start(signed_in: SignIn) -> None:
    """A fresh session for a staff member who just proved their password."""
    principal = signed_in.principal
    if principal.role not in STAFF_ROLES:
        raise ValueError("only hub staff sign in to the console")
    end()
    sid = secrets.token_urlsafe(32)
    now = f"{time.time()}"
    record = {
        "username": principal.name,
        "role": principal.role,
        "stamp": signed_in.stamp,
        "started": now,
        "last_seen": now,
    }
    client = runtime().redis
    with client.pipeline() as pipe:
        pipe.hset(_key(sid), mapping=record)  # type: ignore[arg-type]  # str values are fine
        pipe.expire(_key(sid), idle_seconds())
        pipe.execute()
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
        return g.console_staff
    g.console_staff = None
    g.console_signed_out = None
    sid = session.get("sid")
    if not sid:
        return None
    client = runtime().redis
    record = {_text(k): _text(v) for k, v in client.hgetall(_key(sid)).items()}
    if (why := _ended(record)) is not None:
        client.delete(_key(sid))
        session.pop("sid", None)
        g.console_signed_out = why
        return None
    now = time.time()
    with client.pipeline() as pipe:
        pipe.hset(_key(sid), "last_seen", f"{now}")
        pipe.expire(_key(sid), idle_seconds())
        pipe.execute()
    g.console_staff = Staff(record["username"], record["role"])
    return g.console_staff


def _ended(record: dict[str, str]) -> str | None:
    """Why this session is over (a key of SIGNED_OUT), or None while it lasts."""
    now = time.time()
    if not record or now - float(record.get("last_seen", 0)) > idle_seconds():
        return "idle"
    if now - float(record.get("started", 0)) > MAX_SESSION_HOURS * 3600:
        return "lifetime"
    if record.get("stamp") != identity.credentials_stamp(runtime().ledger, record["username"]):
        return "credentials"  # re-roled, re-keyed or re-passworded since signing in
    return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def staff_required(view: F) -> F:
    """Send whoever is not signed in (an API key or token counts for nothing) to sign in."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            if why := g.get("console_signed_out"):
                minutes = max(idle_seconds() // 60, 1)
                flash(SIGNED_OUT[why].format(minutes=minutes), "info")
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("console.login", next=safe_next(target)))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]  # wraps() loses F


def safe_next(target: str | None) -> str | None:
    """Only a plain path inside the console is a place to go back to after sign-in; any
    other `next` is ignored. Plain: no scheme or host, no `//` and no backslash (browsers
    read `/\\host` as `//host`, another site), no control character (a CR/LF would split
    the Location header)."""
    if not target or not is_text(target) or "//" in target or "\\" in target:
        return None
    parts = urlsplit(target)  # no "//": no host to parse, so no ValueError either
    inside = parts.path == "/console" or parts.path.startswith("/console/")
    if parts.scheme or parts.netloc or not inside:
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
