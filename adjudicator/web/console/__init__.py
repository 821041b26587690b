"""The hub console at /console: server-rendered pages for reviewers and admins.

Sign-in is by username and password into a server-side session; the JSON API
(/v1, Bearer tokens only) never reads the console's cookie, and the console never
reads an Authorization header.
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask

from adjudicator.config import Config
from adjudicator.web.console import secret, session, views, words

IDLE_MINUTES_VARIABLE = "ADJUDICATOR_CONSOLE_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0


def init_app(app: Flask, config: Config) -> None:
    """Give `app` its shared secret key, the console's cookie settings and pages."""
    app.secret_key = config.secret_key or secret.load_or_create(config.data_dir)
    idle = timedelta(minutes=idle_minutes())
    app.config.update(
        SESSION_COOKIE_NAME="adjudicator_console",
        SESSION_COOKIE_PATH="/console",  # never sent to the JSON API
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=idle,
        CONSOLE_IDLE_SECONDS=max(int(idle.total_seconds()), 1),
    )
    app.session_interface = session.ConsoleSessionInterface()
    words.register(app)
    app.register_blueprint(views.bp)


def idle_minutes(env: dict[str, str] | None = None) -> float:
    raw = (os.environ if env is None else env).get(IDLE_MINUTES_VARIABLE, "")
    try:
        minutes = float(raw) if raw.strip() else DEFAULT_IDLE_MINUTES
    except ValueError:
        raise ValueError(f"{IDLE_MINUTES_VARIABLE} must be a number of minutes") from None
    if minutes <= 0:
        raise ValueError(f"{IDLE_MINUTES_VARIABLE} must be more than 0")
    return minutes
