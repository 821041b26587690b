"""`adjudicator run`: embedded Redis, migrations, web server and worker in one command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from adjudicator.config import Config

# Fixed demo credentials so the README's tour can be pasted as written. `run` is the
# newcomer's all-in-one; production provisions keys with `pharmacies add` / `users add`.
DEMO_PHARMACY = {
    "npi": "1234567893",
    "name": "Demo Specialty Pharmacy",
    "chain": "accredo",
    "api_key": "pk_demo_pharmacy_key",
}
D0_HOST = "127.0.0.1"
DEMO_USERS = (
    ("reviewer", "reviewer", "reviewer-demo", "ut_demo_reviewer_token"),
    ("admin", "admin", "admin-demo", "ut_demo_admin_token"),
)


def run_all(config: Config, host: str, port: int, ncpdp_port: int | None = None) -> int:
    from adjudicator.adapters.embedded_redis import EmbeddedRedis
    from adjudicator.services.setup import migrate

    config.data_dir.mkdir(parents=True, exist_ok=True)
    embedded = None
    if not config.redis_url:
        embedded = EmbeddedRedis(config.data_dir / "redis").start()
        config = config.with_redis(embedded.url)
    migrate(config)
    credentials = _demo_credentials(config)
    metrics_dir = config.data_dir / "metrics"  # every child's Prometheus counters
    shutil.rmtree(metrics_dir, ignore_errors=True)  # a new run counts from zero
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "REDIS_URL": config.redis_url or "",
        "DATABASE_URL": config.database_url,
        "ADJUDICATOR_DATA_DIR": str(config.data_dir),
    }
    children = [_start(cmd, env) for cmd in _commands(config, host, port, ncpdp_port)]
    _announce(host, port, credentials, ncpdp_port)
    stop = _stop_flag()
    redis_gone = None
    try:
        while not stop and all(child.poll() is None for child in children):
            if embedded is not None and (redis_gone := embedded.exit_code()) is not None:
                # Without its Redis nothing is decided: stop all, say why, exit non-zero.
                print(f"the embedded Redis exited ({redis_gone}): stopping", file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        for child in children:
            _terminate(child)
        if embedded is not None:
            embedded.stop()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if (failed or redis_gone is not None) and not stop else 0


def _commands(
    config: Config, host: str, port: int, ncpdp_port: int | None = None
) -> list[list[str]]:
    bin_dir = os.path.dirname(sys.executable)
    web = [
        os.path.join(bin_dir, "gunicorn"),
        "--bind",
        f"{host}:{port}",
        "--worker-class",
        "adjudicator.web.server.WaitressWorker",  # reads requests whole: decisions.md #96
        "--workers",
        "2",
        "--log-level",
        "warning",
        "adjudicator.web.wsgi:app",
    ]
    worker = [
        os.path.join(bin_dir, "celery"),
        "-A",
        "tasks.celery_app",
        "worker",
        "--beat",
        "--queues",
        "claims,claims-async,batch",  # in this order: tasks/celery_app.py
        "--pool",
        "prefork",
        "--concurrency",
        "2",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--schedule",
        str(config.data_dir / "celerybeat-schedule"),
    ]
    if ncpdp_port is None:
        return [web, worker]
    # Plain TCP, so loopback whatever --host says: a switch from elsewhere comes over TLS
    # (`adjudicator ncpdp serve --tls-cert ...`) or through a TLS-terminating proxy.
    ncpdp = [
        os.path.join(bin_dir, "adjudicator"),
        "ncpdp",
        "serve",
        "--host",
        D0_HOST,
        "--port",
        str(ncpdp_port),
    ]
    return [web, worker, ncpdp]


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Same process group as us: Ctrl-C in the terminal reaches every child too.
    return subprocess.Popen(cmd, env=env)


def _terminate(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _stop_flag() -> list[int]:
    """A list that becomes truthy on SIGINT/SIGTERM."""
    flag: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        flag.append(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return flag


def _demo_credentials(config: Config) -> dict[str, Any]:
    from adjudicator.adapters.sql_ledger import SqlLedger
    from adjudicator.services import identity

    ledger = SqlLedger.from_url(config.database_url)
    try:
        pharmacy = identity.add_pharmacy(ledger, **DEMO_PHARMACY)
        users = [identity.add_user(ledger, *user) for user in DEMO_USERS]
    finally:
        ledger.dispose()
    passwords = {name: pw for name, _role, pw, _token in DEMO_USERS}
    return {"pharmacy": pharmacy, "users": users, "passwords": passwords}


def _announce(
    host: str, port: int, credentials: dict[str, Any], ncpdp_port: int | None = None
) -> None:
    pharmacy = credentials["pharmacy"]
    lines = [
        "",
        f"Adjudicator running at http://{host}:{port}",
        f"  API docs  http://{host}:{port}/docs    hub console  http://{host}:{port}/console",
        f"  pharmacy  NPI {pharmacy['npi']} ({pharmacy['chain']})",
        f"            PHARMACY_KEY={pharmacy['api_key']}",
    ]
    for user in credentials["users"]:
        password = credentials["passwords"][user["username"]]
        lines.append(f"  {user['role']:<9} user {user['username']} / password {password}")
        lines.append(f"            {user['role'].upper()}_TOKEN={user['api_token']}")
    if ncpdp_port is not None:
        lines.append(
            f"  D.0 TCP   {D0_HOST}:{ncpdp_port} (plain, loopback: acts as switch loopback)"
        )
    lines.append("Press Ctrl-C to stop.\n")
    print("\n".join(lines), flush=True)
