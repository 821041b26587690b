"""Who is calling: pharmacy API keys, switch keys and hub staff tokens, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from adjudicator.domain.records import PharmacyRecord, SwitchRecord, UserRecord
from adjudicator.services.unit_of_work import Ledger

PHARMACY_KEY_PREFIX = "pk_"
SWITCH_KEY_PREFIX = "sk_"
USER_TOKEN_PREFIX = "ut_"
STAFF_ROLES = ("reviewer", "admin")
_DUMMY_HASH = generate_password_hash("never-a-password")


@dataclass(frozen=True)
class Principal:
    role: str  # "pharmacy" | "switch" | "reviewer" | "admin"
    name: str  # the pharmacy NPI, the switch's name or the username
    npi: str | None = None  # a pharmacy's own; a switch bills for any pharmacy

    @property
    def actor(self) -> str:
        """Who did it, in events and rate-limit keys: `pharmacy:NPI`, `switch:NAME`, `user:U`."""
        if self.npi:
            return f"pharmacy:{self.npi}"
        return f"switch:{self.name}" if self.role == "switch" else f"user:{self.name}"

    def has_role(self, *roles: str) -> bool:
        # Admin can do all a reviewer can.
        return self.role in roles or (self.role == "admin" and "reviewer" in roles)


def token_hash(token: str) -> str:
    # Tokens are 256-bit random secrets, so a plain SHA-256 is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


# Who a token belongs to, remembered briefly per process: every claim starts with this
# lookup, and a re-keyed or re-roled credential takes effect within these seconds.
# Unknown tokens are never remembered, so a new key works at once (decisions.md #48).
CREDENTIAL_CACHE_SECONDS = 5.0
_CACHE_LIMIT = 4096
_known: dict[str, tuple[float, Principal]] = {}
_forgotten = 0  # how many times forget_credentials() ran: a lookup it overtook is not kept
_remembering = threading.Lock()
_clock = time.monotonic


def authenticate(ledger: Ledger, token: str) -> Principal | None:
    digest = token_hash(token)
    now = _clock()
    cached = _known.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    began = _forgotten
    found = _lookup(ledger, token, digest)
    if found is not None:
        with _remembering:
            if began == _forgotten:  # else what it read may be the credential just replaced
                if len(_known) >= _CACHE_LIMIT:
                    _known.clear()
                _known[digest] = (now + CREDENTIAL_CACHE_SECONDS, found)
    return found


def forget_credentials() -> None:
    """Drop the remembered tokens (after a re-key in this process, and in tests)."""
    global _forgotten
    with _remembering:
        _forgotten += 1
        _known.clear()


def _lookup(ledger: Ledger, token: str, digest: str) -> Principal | None:
    with ledger.reading() as uow:
        if token.startswith(PHARMACY_KEY_PREFIX):
            pharmacy = uow.credentials.pharmacy_by_key_hash(digest)
            return Principal("pharmacy", pharmacy.npi, pharmacy.npi) if pharmacy else None
        if token.startswith(SWITCH_KEY_PREFIX):
            switch = uow.credentials.switch_by_key_hash(digest)
            return switch_principal(switch.name) if switch else None
        user = uow.credentials.user_by_token_hash(digest)
        return Principal(user.role, user.username) if user else None


@dataclass(frozen=True)
class SignIn:
    """A staff member who proved their password, and a stamp of the credentials read."""

    principal: Principal
    stamp: str


def sign_in(ledger: Ledger, username: str, password: str) -> SignIn | None:
    with ledger.reading() as uow:
        user = uow.credentials.user_by_name(username)
    # Hash even for an unknown user, so the answer time does not tell which names exist.
    password_hash = user.password_hash if user is not None else None
    matches = check_password_hash(password_hash or _DUMMY_HASH, password)
    if user is None or not password_hash or not matches:
        return None
    return SignIn(Principal(user.role, user.username), _stamp(user))


def login(ledger: Ledger, username: str, password: str) -> Principal | None:
    signed_in = sign_in(ledger, username, password)
    return signed_in.principal if signed_in else None


def credentials_stamp(ledger: Ledger, username: str) -> str | None:
    """The stamp of the user's credentials as they are now; None for no such user."""
    with ledger.reading() as uow:
        user = uow.credentials.user_by_name(username)
    return _stamp(user) if user is not None else None


def _stamp(user: UserRecord) -> str:
    # Another role, token or password gives another stamp: a console session signed in
    # with the old ones then ends (decisions.md #75).
    fields = (user.role, user.token_hash, user.password_hash or "")
    return hashlib.sha256("\0".join(fields).encode()).hexdigest()


def add_pharmacy(
    ledger: Ledger, npi: str, name: str, chain: str, api_key: str | None = None
) -> dict[str, Any]:
    """Create or re-key a pharmacy; the new API key is shown once, here."""
    api_key = api_key or PHARMACY_KEY_PREFIX + secrets.token_urlsafe(32)
    with ledger.writing() as uow:
        uow.credentials.save_pharmacy(PharmacyRecord(npi, name, chain, token_hash(api_key)))
    forget_credentials()
    return {"npi": npi, "name": name, "chain": chain, "api_key": api_key}


def switch_principal(name: str) -> Principal:
    """A switch as a caller (its key over HTTP, its certificate's CN over TCP)."""
    return Principal("switch", name)


def switch_named(ledger: Ledger, name: str) -> bool:
    """Whether a switch of this name is registered (a TLS client certificate's CN)."""
    with ledger.reading() as uow:
        return uow.credentials.switch(name) is not None


SWITCH_NAME_MAX = 100  # the column's width


def add_switch(ledger: Ledger, name: str, api_key: str | None = None) -> dict[str, Any]:
    """Create or re-key a switch; the new API key is shown once, here."""
    if not name.strip() or name != name.strip() or len(name) > SWITCH_NAME_MAX:
        raise ValueError(
            f"name must be 1 to {SWITCH_NAME_MAX} characters without surrounding spaces"
        )
    if not name.isprintable():
        raise ValueError("name must not hold control characters")
    api_key = api_key or SWITCH_KEY_PREFIX + secrets.token_urlsafe(32)
    with ledger.writing() as uow:
        uow.credentials.save_switch(SwitchRecord(name, token_hash(api_key)))
    forget_credentials()
    return {"name": name, "api_key": api_key}


def add_user(
    ledger: Ledger, username: str, role: str, password: str | None, api_token: str | None = None
) -> dict[str, Any]:
    """Create or re-key a hub user; the new API token is shown once, here."""
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}")
    if not username.strip() or username != username.strip():
        raise ValueError("username must be a non-empty name without surrounding spaces")
    api_token = api_token or USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
    password_hash = generate_password_hash(password) if password else None
    user = UserRecord(username, role, token_hash(api_token), password_hash)
    with ledger.writing() as uow:
        uow.credentials.save_user(user)
    forget_credentials()
    return {"username": username, "role": role, "api_token": api_token}
