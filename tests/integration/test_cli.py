"""The `adjudicator` command as a subprocess, on the session's ledger and Redis."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid

import pytest
from sqlalchemy import text

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services import identity
from adjudicator.services.identity import Principal
from tests.integration.builders import BIN, one_json_object, run_cli, valid_npi

pytestmark = pytest.mark.integration


def test_pharmacies_add_prints_the_pharmacy_and_a_key_that_authenticates(
    runtime, redis_url, tmp_path
):
    npi = valid_npi()

    done = run_cli(
        runtime, redis_url, tmp_path, "pharmacies", "add", "--npi", npi, "--name", "Acme SP",
        "--chain", "Accredo",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    printed = one_json_object(done.stdout)
    assert set(printed) == {"npi", "name", "chain", "api_key"}
    assert (printed["npi"], printed["name"], printed["chain"]) == (npi, "Acme SP", "Accredo")
    assert identity.authenticate(runtime.ledger, printed["api_key"]) == Principal(
        "pharmacy", npi, npi
    )
    with reading(runtime.engine) as conn:
        stored = ledger.pharmacy_by_npi(conn, npi)
    assert stored.api_key_hash == identity.token_hash(printed["api_key"])
    assert printed["api_key"] not in stored  # only the hash is kept


def test_adding_a_pharmacy_again_replaces_its_key(runtime, redis_url, tmp_path):
    npi = valid_npi()
    args = ("pharmacies", "add", "--npi", npi, "--name", "Acme SP", "--chain", "cvs_specialty")
    first = one_json_object(run_cli(runtime, redis_url, tmp_path, *args).stdout)

    second = one_json_object(run_cli(runtime, redis_url, tmp_path, *args).stdout)

    assert first["api_key"] != second["api_key"]
    assert identity.authenticate(runtime.ledger, first["api_key"]) is None
    assert identity.authenticate(runtime.ledger, second["api_key"]) == Principal(
        "pharmacy", npi, npi
    )


def test_pharmacies_add_refuses_an_npi_with_a_bad_check_digit(runtime, redis_url, tmp_path):
    npi = valid_npi()
    bad = npi[:-1] + str((int(npi[-1]) + 1) % 10)

    done = run_cli(
        runtime, redis_url, tmp_path, "pharmacies", "add", "--npi", bad, "--name", "X",
        "--chain", "accredo",
    )  # fmt: skip

    assert done.returncode != 0
    assert done.stdout == ""
    assert bad in done.stderr
    with reading(runtime.engine) as conn:
        assert ledger.pharmacy_by_npi(conn, bad) is None


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_users_add_prints_the_user_and_a_token_that_authenticates(
    runtime, redis_url, tmp_path, role
):
    username = f"staff-{uuid.uuid4().hex[:8]}"

    done = run_cli(
        runtime, redis_url, tmp_path, "users", "add", "--username", username, "--role", role,
        "--password", "correct horse",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    printed = one_json_object(done.stdout)
    assert set(printed) == {"username", "role", "api_token"}
    assert (printed["username"], printed["role"]) == (username, role)
    assert identity.authenticate(runtime.ledger, printed["api_token"]) == Principal(role, username)
    assert identity.login(runtime.ledger, username, "correct horse") == Principal(role, username)
    assert identity.login(runtime.ledger, username, "wrong") is None


def test_users_add_refuses_an_unknown_role(runtime, redis_url, tmp_path):
    done = run_cli(
        runtime, redis_url, tmp_path, "users", "add", "--username", "x", "--role", "pharmacy"
    )

    assert done.returncode != 0
    assert done.stdout == ""


def test_users_add_refuses_an_empty_username(runtime, redis_url, tmp_path):
    done = run_cli(
        runtime, redis_url, tmp_path, "users", "add", "--username", " ", "--role", "reviewer"
    )

    assert (done.returncode, done.stdout) == (2, "")
    assert "without surrounding spaces" in done.stderr


def test_db_upgrade_is_idempotent(runtime, redis_url, tmp_path):
    def state() -> tuple[list, list]:
        with reading(runtime.engine) as conn:
            revisions = list(conn.execute(text("SELECT version_num FROM alembic_version")))
            versions = [d["version"] for d in ledger.terms_documents(conn)]
        return revisions, versions

    before = state()

    for _ in range(2):
        done = run_cli(runtime, redis_url, tmp_path, "db", "upgrade")
        assert done.returncode == 0, done.stderr
        assert one_json_object(done.stdout) == {"status": "ok"}

    assert state() == before
    assert len(before[0]) == 1
    assert before[1].count("2020-01") == 1


def _upgrade_with_a_lax_umask(data_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["ADJUDICATOR_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(BIN / "adjudicator"), "db", "upgrade"],
        env=env,
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0o022),  # what a shell usually gives
    )


def test_the_files_it_creates_are_private_to_its_user(tmp_path):
    data_dir = tmp_path / "private"

    done = _upgrade_with_a_lax_umask(data_dir)

    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    ledger_files = list(data_dir.glob("*.db*"))
    assert ledger_files
    assert {stat.S_IMODE(f.stat().st_mode) for f in ledger_files} == {0o600}


def test_a_data_dir_made_open_before_is_closed(tmp_path):
    data_dir = tmp_path / "older"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)

    done = _upgrade_with_a_lax_umask(data_dir)

    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
