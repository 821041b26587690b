"""The `adjudicator` command: run everything, migrate, provision, check accumulators."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from adjudicator.config import Config
from adjudicator.services.runtime import Runtime


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adjudicator", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="everything a newcomer needs, in the foreground")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(handler=_run)

    db = commands.add_parser("db", help="database migrations").add_subparsers(required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler=_db_upgrade)

    pharmacies = commands.add_parser("pharmacies", help="pharmacy API keys")
    add_pharmacy = pharmacies.add_subparsers(required=True).add_parser("add")
    add_pharmacy.add_argument("--npi", required=True)
    add_pharmacy.add_argument("--name", required=True)
    add_pharmacy.add_argument("--chain", required=True)
    add_pharmacy.set_defaults(handler=_pharmacies_add)

    users = commands.add_parser("users", help="hub staff users")
    add_user = users.add_subparsers(required=True).add_parser("add")
    add_user.add_argument("--username", required=True)
    add_user.add_argument("--role", required=True, choices=["reviewer", "admin"])
    add_user.add_argument("--password")
    add_user.set_defaults(handler=_users_add)

    accumulators = commands.add_parser("accumulators", help="Redis accumulators vs the ledger")
    acc = accumulators.add_subparsers(required=True)
    acc.add_parser("check", help="compare with the ledger").set_defaults(handler=_acc_check)
    acc.add_parser("rebuild", help="restore from the ledger").set_defaults(handler=_acc_rebuild)
    return parser


def _print(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=str))


@contextmanager
def _runtime() -> Iterator[Runtime]:
    """A Runtime on REDIS_URL, or on the embedded Redis under the data dir."""
    from adjudicator.adapters.embedded_redis import EmbeddedRedis
    from adjudicator.services.runtime import build_runtime

    config = Config.from_env()
    embedded = None
    if not config.redis_url:
        embedded = EmbeddedRedis(config.data_dir / "redis").start()
        config = config.with_redis(embedded.url)
    rt = build_runtime(config, enqueue=_no_enqueue)
    try:
        yield rt
    finally:
        rt.close()
        if embedded is not None:
            embedded.stop()


def _no_enqueue(claim_id: str) -> None:
    raise RuntimeError("the command line does not enqueue claims")


def _db_upgrade(_args: argparse.Namespace) -> int:
    from adjudicator.services.setup import migrate

    migrate(Config.from_env())
    _print({"status": "ok"})
    return 0


def _with_runtime(action: Callable[[Runtime], dict[str, Any]]) -> dict[str, Any]:
    with _runtime() as rt:
        return action(rt)


def _pharmacies_add(args: argparse.Namespace) -> int:
    from adjudicator.services import identity
    from schemas.fields import npi_is_valid

    if not npi_is_valid(args.npi):
        print(f"--npi {args.npi!r} is not a valid NPI (10 digits, Luhn check)", file=sys.stderr)
        return 2
    _print(_with_db(lambda rt: identity.add_pharmacy(rt, args.npi, args.name, args.chain)))
    return 0


def _users_add(args: argparse.Namespace) -> int:
    from adjudicator.services import identity

    _print(_with_db(lambda rt: identity.add_user(rt, args.username, args.role, args.password)))
    return 0


def _with_db(action: Callable[[Runtime], dict[str, Any]]) -> dict[str, Any]:
    """Provisioning touches only the ledger: no Redis needed."""
    from adjudicator.adapters.db import make_engine
    from adjudicator.services.setup import migrate

    config = Config.from_env()
    migrate(config)
    engine = make_engine(config.database_url)
    rt = Runtime(config, engine, None, None, _no_enqueue)  # type: ignore[arg-type]
    try:
        return action(rt)
    finally:
        engine.dispose()


def _acc_check(_args: argparse.Namespace) -> int:
    from adjudicator.services import accumulators

    result = _with_runtime(accumulators.check)
    _print(result)
    return 1 if result["mismatches"] else 0


def _acc_rebuild(_args: argparse.Namespace) -> int:
    from adjudicator.services import accumulators

    _print(_with_runtime(accumulators.rebuild))
    return 0


def _run(args: argparse.Namespace) -> int:
    from adjudicator.launcher import run_all

    return run_all(Config.from_env(), args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
