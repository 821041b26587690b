"""The `adjudicator` command: run everything, migrate, provision, check accumulators."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from typing import Any

from adjudicator.config import Config
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import Ledger

D0_PORT = 8010  # `ncpdp serve`'s default port


def main(argv: list[str] | None = None) -> int:
    _private_data()
    args = _parser().parse_args(argv)
    return int(args.handler(args) or 0)


def _private_data() -> None:
    """The data dir holds PHI (the SQLite ledger, the embedded Redis's AOF): what this
    command and the servers it starts create is readable by this user alone, and a data
    dir made before that rule (mode 0755) is closed too."""
    os.umask(0o077)
    data_dir = Config.from_env().data_dir
    if data_dir.is_dir():
        with suppress(OSError):  # not ours to change: leave it
            data_dir.chmod(0o700)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adjudicator", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="everything a newcomer needs, in the foreground")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument(
        "--ncpdp-port", type=int, metavar="P", help="also serve D.0 over TCP on 127.0.0.1:P"
    )
    run.set_defaults(handler=_run)

    from adjudicator.ncpdp.commands import add_commands as add_ncpdp_commands

    ncpdp = add_ncpdp_commands(commands)  # `ncpdp encode`, `ncpdp decode`
    serve = ncpdp.add_parser("serve", help="serve D.0 over TCP until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1", help="without TLS: loopback only")
    serve.add_argument("--port", type=int, default=D0_PORT, help="0: any free port")
    serve.add_argument("--tls-cert", metavar="F", help="the server's certificate (PEM)")
    serve.add_argument("--tls-key", metavar="F", help="its private key (PEM)")
    serve.add_argument("--client-ca", metavar="F", help="CA(s) that issue switches' certificates")
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="close a connection after this long without a complete frame",
    )
    serve.set_defaults(handler=_ncpdp_serve)

    db = commands.add_parser("db", help="database migrations").add_subparsers(required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler=_db_upgrade)

    pharmacies = commands.add_parser("pharmacies", help="pharmacy API keys")
    add_pharmacy = pharmacies.add_subparsers(required=True).add_parser("add")
    add_pharmacy.add_argument("--npi", required=True)
    add_pharmacy.add_argument("--name", required=True)
    add_pharmacy.add_argument("--chain", required=True)
    add_pharmacy.set_defaults(handler=_pharmacies_add)

    switches = commands.add_parser("switches", help="claims switches' API keys (NCPDP D.0)")
    add_switch = switches.add_subparsers(required=True).add_parser("add")
    add_switch.add_argument("--name", required=True, help="also its TLS certificate's CN")
    add_switch.set_defaults(handler=_switches_add)

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

    payments = commands.add_parser("payments", help="money owed to pharmacies (PAYMENTS.md)")
    pay = payments.add_subparsers(required=True)
    pay.add_parser(
        "check", help="every claim's money events add up to what is owed for it now"
    ).set_defaults(handler=_payments_check)
    close = pay.add_parser("close", help="close a payment cycle: one remittance per pharmacy")
    close.add_argument(
        "--through", type=_moment, metavar="T", help="RFC 3339 with an offset (default: now)"
    )
    close.set_defaults(handler=_payments_close)

    readjudicate = commands.add_parser(
        "readjudicate", help="re-run a window of claims under today's terms and facts"
    )
    readjudicate.add_argument("--from", dest="date_from", required=True, type=_iso_date)
    readjudicate.add_argument("--to", dest="date_to", required=True, type=_iso_date)
    readjudicate.add_argument("--cardholder", help="only this cardholder's claims")
    readjudicate.add_argument(
        "--apply", action="store_true", help="write the new decisions (default: a dry run)"
    )
    readjudicate.add_argument(
        "--queue", action="store_true", help="run on the worker's batch queue and follow it"
    )
    readjudicate.add_argument(
        "--start-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --queue: stop following (exit 3) if no worker starts the job by then",
    )
    readjudicate.set_defaults(handler=_readjudicate)

    export = commands.add_parser(
        "export", help="the year's claims, de-identified for the manufacturer (CSV)"
    )
    export.add_argument("--year", required=True, type=_year, help="the year of service")
    export.add_argument("--output", metavar="PATH", help="write the CSV here (default: stdout)")
    export.set_defaults(handler=_export)
    return parser


def _export(args: argparse.Namespace) -> int:
    """The CSV on stdout (or --output); with --output, its summary as one JSON object."""
    from adjudicator.adapters.sql_ledger import SqlLedger
    from adjudicator.services import exports

    ledger = SqlLedger.from_url(Config.from_env().database_url)
    try:
        if not args.output:
            exports.write_csv(ledger, args.year, sys.stdout)
            return 0
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            summary = exports.write_csv(ledger, args.year, out)
    finally:
        ledger.dispose()
    _print({**summary, "output": args.output})
    return 0


def _year(text: str) -> int:
    if not (len(text) == 4 and text.isdigit() and text >= "2020"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a year (2020 or later)")
    return int(text)


def _print(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=str))


@contextmanager
def _runtime() -> Iterator[Runtime]:
    """A Runtime on REDIS_URL, or on the embedded Redis under the data dir."""
    from adjudicator.adapters.embedded_redis import EmbeddedRedis
    from adjudicator.wiring import build_runtime

    config = Config.from_env()
    embedded = None
    if not config.redis_url:
        embedded = EmbeddedRedis(config.data_dir / "redis").start()
        config = config.with_redis(embedded.url)
    rt = build_runtime(config)
    try:
        yield rt
    finally:
        rt.close()
        if embedded is not None:
            embedded.stop()


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
    _print(_with_db(lambda ledger: identity.add_pharmacy(ledger, args.npi, args.name, args.chain)))
    return 0


def _switches_add(args: argparse.Namespace) -> int:
    from adjudicator.services import identity

    try:
        added = _with_db(lambda ledger: identity.add_switch(ledger, args.name))
    except ValueError as error:  # the service's checks: the name
        print(f"adjudicator switches add: {error}", file=sys.stderr)
        return 2
    _print(added)
    return 0


def _users_add(args: argparse.Namespace) -> int:
    from adjudicator.services import identity

    try:
        added = _with_db(
            lambda ledger: identity.add_user(ledger, args.username, args.role, args.password)
        )
    except ValueError as error:  # the service's checks: the name
        print(f"adjudicator users add: {error}", file=sys.stderr)
        return 2
    _print(added)
    return 0


def _with_db(action: Callable[[Ledger], dict[str, Any]]) -> dict[str, Any]:
    """Provisioning touches only the ledger: no Redis needed."""
    from adjudicator.adapters.sql_ledger import SqlLedger
    from adjudicator.services.setup import migrate

    config = Config.from_env()
    migrate(config)
    ledger = SqlLedger.from_url(config.database_url)
    try:
        return action(ledger)
    finally:
        ledger.dispose()


def _acc_check(_args: argparse.Namespace) -> int:
    from adjudicator.services import accumulators

    result = _with_runtime(accumulators.check)
    _print(result)
    return 1 if result["mismatches"] else 0


def _payments_check(_args: argparse.Namespace) -> int:
    from adjudicator.services import money

    result = _with_runtime(money.check)
    _print(result)
    return 1 if result["mismatches"] or result["pharmacies"] else 0


def _payments_close(args: argparse.Namespace) -> int:
    from adjudicator.services import payments
    from adjudicator.services.errors import ServiceError

    try:
        _print(_with_runtime(lambda rt: payments.close(rt, args.through, "cli")))
    except ServiceError as error:
        print(f"adjudicator payments close: {error.detail}", file=sys.stderr)
        return 1
    return 0


def _moment(text: str) -> datetime:
    """An RFC 3339 moment with its offset (a bare time is ambiguous: refused)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the offset, e.g. 2026-03-07T23:59:59Z")
    return moment


def _acc_rebuild(_args: argparse.Namespace) -> int:
    from adjudicator.services import accumulators

    _print(_with_runtime(accumulators.rebuild))
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _readjudicate(args: argparse.Namespace) -> int:
    """Create a job, run it here (or on the batch queue), draw its progress, print it."""
    import time

    from adjudicator.services import readjudication
    from schemas.readjudications import JobSchema

    if args.date_from > args.date_to:
        print("--to must not be before --from", file=sys.stderr)
        return 2
    request = {
        "date_from": args.date_from,
        "date_to": args.date_to,
        "cardholder_id": args.cardholder,
        "mode": "apply" if args.apply else "dry_run",
    }
    bar = _ProgressBar(sys.stderr)
    with _runtime() as rt:
        job_id = readjudication.create(rt, request, "cli:readjudicate")["job_id"]
        if args.queue:
            rt.send_job(job_id)
            deadline = time.monotonic() + args.start_timeout
            while (job := readjudication.get(rt, job_id))["status"] in ("queued", "running"):
                if job["status"] == "queued" and time.monotonic() > deadline:
                    bar.close()
                    print(
                        f"no worker started job {job_id} within {args.start_timeout:g} s; it stays"
                        " queued and runs when a worker consumes the batch queue",
                        file=sys.stderr,
                    )
                    _print(JobSchema().dump(job))
                    return 3
                bar.update(job["progress"]["done"], job["progress"]["total"])
                time.sleep(0.5)
        else:
            readjudication.run(rt, job_id, on_progress=bar.update)
        job = readjudication.get(rt, job_id)
    bar.update(job["progress"]["done"], job["progress"]["total"])
    bar.close()
    _print(JobSchema().dump(job))
    return 0 if job["status"] == "succeeded" else 1


class _ProgressBar:
    """`[#####.....]  1,234/5,000 claims` on a terminal; a line every few seconds otherwise."""

    WIDTH = 30

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def update(self, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if not self.tty and now - self.last < 2 and done < total:
            return
        self.last = now
        filled = self.WIDTH * done // total if total else self.WIDTH
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:,}/{total:,} claims"
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _run(args: argparse.Namespace) -> int:
    from adjudicator.launcher import run_all

    return run_all(Config.from_env(), args.host, args.port, ncpdp_port=args.ncpdp_port)


def _ncpdp_serve(args: argparse.Namespace) -> int:
    """D.0 over TCP until SIGTERM/SIGINT; 2 for arguments it cannot serve with."""
    import signal
    import ssl
    from pathlib import Path

    from adjudicator import logs
    from adjudicator.adapters import ncpdp_socket
    from adjudicator.adapters.switch_throttle import SwitchThrottle
    from adjudicator.services import identity, ncpdp

    def refuse(message: str, code: int = 2) -> int:
        print(f"adjudicator ncpdp serve: {message}", file=sys.stderr)
        return code

    tls_files = (args.tls_cert, args.tls_key, args.client_ca)
    if any(tls_files) and not all(tls_files):
        return refuse("--tls-cert, --tls-key and --client-ca are given together or not at all")
    try:
        files = ncpdp_socket.TlsFiles(*(Path(f) for f in tls_files)) if all(tls_files) else None
        tls = ncpdp_socket.tls_context(files) if files else None
    except (OSError, ssl.SSLError) as error:
        return refuse(f"the TLS files could not be loaded ({type(error).__name__}: {error})")
    try:
        listener = ncpdp_socket.listen(args.host, args.port, loopback_only=tls is None)
    except ncpdp_socket.RefusedBind as error:
        return refuse(str(error))
    except OSError as error:
        return refuse(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}", 1)
    logs.configure()
    with _runtime() as rt:
        server = ncpdp_socket.D0Server(
            listener,
            lambda caller, frame: ncpdp.answer(rt, caller, frame),
            tls=tls,
            is_switch=lambda name: identity.switch_named(rt.ledger, name),
            throttle=SwitchThrottle(rt.redis, rt.config.rate_switch),
            idle_seconds=args.idle_timeout,
        )
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda _signum, _frame: server.stop())
        host, port = server.address
        kind = "TLS, client certificates of registered switches" if tls else "plain, loopback"
        print(f"D.0 over TCP on {host}:{port} ({kind})", file=sys.stderr, flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
