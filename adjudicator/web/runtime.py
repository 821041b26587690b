"""The process's Runtime, kept on the Flask app."""

from __future__ import annotations

from flask import current_app

from adjudicator.services.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["adjudicator"]
