"""Web fixtures: the Flask app on the session's ledger and Redis, and a pharmacy's key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adjudicator.services.runtime import Runtime
from tests.integration import builders


@pytest.fixture
def web_app(runtime: Runtime, tmp_path: Path) -> Iterator[Flask]:
    with builders.web_app(runtime, tmp_path) as app:
        yield app


@pytest.fixture
def web(web_app: Flask) -> FlaskClient:
    """A test client of `web_app`."""
    return web_app.test_client()


@pytest.fixture
def pharmacy_api(runtime: Runtime) -> tuple[dict[str, str], str]:
    """(a new pharmacy's bearer header, its NPI)."""
    return builders.pharmacy_bearer(runtime)
