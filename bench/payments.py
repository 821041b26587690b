"""`make bench`, part three: closing a payment cycle and writing its 835s, SQLite.

    python -m bench.payments [--events 100000,1000000] [--pharmacies 200]

For each size a fresh SQLite ledger is filled with that many money events (each a paid
claim of its own, 5% of them reversed: a payment and a reversal), over `--pharmacies`
pharmacies. Then, each in a fresh process (its peak resident set is the step's memory):
- close: `payments.close` through now (one UPDATE, a grouped sum, a remittance per
  pharmacy);
- 835s: every remittance of the cycle written as its X12 835.
It prints the time, the events per second and the peak memory of each step by size:
memory should stay flat as the events grow (nothing holds the cycle's events at once).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BATCH = 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.payments", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--events", default="100000,1000000", help="sizes, comma separated")
    parser.add_argument("--pharmacies", type=int, default=200)
    parser.add_argument("--step", choices=["close", "835"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(_step(args.step, args.url)))
        return 0
    rows = []
    for size in (int(n) for n in args.events.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-payments-") as folder:
            url = f"sqlite:///{Path(folder) / 'ledger.db'}"
            filled = _fill(url, size, args.pharmacies)
            close = _in_process("close", url)
            x835 = _in_process("835", url)
            rows.append((size, filled, close, x835))
            print(f"  {size:>9,} events filled in {filled:.1f} s", flush=True)
    _print(rows)
    return 0


def _in_process(step: str, url: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.payments", "--step", step, "--url", url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]  # JSON is Any


def _step(step: str, url: str) -> dict[str, float]:
    from adjudicator.adapters.sql_ledger import SqlLedger
    from adjudicator.services import payments, remittance_835
    from adjudicator.services.readjudication.parallel_dry_run import peak_rss_mb

    ledger = SqlLedger.from_url(url)
    rt = _Runtime(ledger)
    began, baseline = time.perf_counter(), peak_rss_mb() or 0.0
    if step == "close":
        cycle = payments.close(rt, None, "user:bench")  # type: ignore[arg-type]  # the ledger is all it reads
        count = cycle["events"]
    else:
        count = 0
        with ledger.reading() as uow:
            [cycle_record] = uow.payments.cycles(1, None)
            remittances = uow.payments.remittances(cycle_record.cycle_id, None, 10**9, None)
        for remittance in remittances:
            text = remittance_835.as_835(rt, remittance.remittance_id, npi=None)  # type: ignore[arg-type]  # as above
            count += text.count("\nCLP*")
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "count": count,
        "peak_mb": peak_rss_mb() or 0.0,
        "baseline_mb": baseline,
    }


class _Runtime:
    """What the payment use cases read of a runtime: the ledger (no Redis, no worker)."""

    def __init__(self, ledger: object) -> None:
        self.ledger = ledger


def _fill(url: str, events: int, pharmacies: int) -> float:
    """Pharmacies, paid claims and their money events (5% reversed), by bulk inserts."""
    from sqlalchemy import insert

    from adjudicator.adapters.db import make_engine, upgrade
    from adjudicator.adapters.tables import claims, money_events
    from adjudicator.adapters.tables import pharmacies as pharmacy_table

    began = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC) - timedelta(minutes=1)
    npis = [f"{1_000_000_000 + n:010d}" for n in range(pharmacies)]
    with engine.begin() as conn:
        conn.execute(insert(pharmacy_table), [
            {"npi": npi, "name": f"Pharmacy {n}", "chain": "accredo",
             "api_key_hash": uuid.uuid4().hex, "created_at": now}
            for n, npi in enumerate(npis)
        ])  # fmt: skip
    made = 0
    while made < events:
        claim_rows, event_rows = [], []
        for n in range(made, min(made + BATCH, events)):
            claim_id, npi = f"c{n:09d}", npis[n % pharmacies]
            reversed_ = n % 20 == 0 and made + len(event_rows) + 1 < events
            claim_rows.append({
                "claim_id": claim_id, "pharmacy_npi": npi, "cardholder_id": f"IC{n:010d}",
                "rx_number": str(n), "fill_number": 0, "date_of_service": date(2026, 3, 1),
                "request": {}, "request_hash": "h",
                "status": "reversed" if reversed_ else "paid", "program_paid": 150_000,
                "decision": {"amounts": {"patient_responsibility": 154_000}},
                "created_at": now, "decided_at": now,
            })  # fmt: skip
            event_rows.append({"at": now, "claim_id": claim_id, "pharmacy_npi": npi,
                               "kind": "payment", "amount": 150_000})  # fmt: skip
            if reversed_:
                event_rows.append({"at": now, "claim_id": claim_id, "pharmacy_npi": npi,
                                   "kind": "reversal", "amount": -150_000})  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(claims), claim_rows)
            conn.execute(insert(money_events), event_rows)
        made += len(event_rows)
    engine.dispose()
    return time.perf_counter() - began


def _print(rows: list[tuple[int, float, dict[str, float], dict[str, float]]]) -> None:
    print("\n## Payment cycles (SQLite, one process per step)\n")
    print("| events | close s | events/s | close peak MB | 835s s | CLPs/s | 835s peak MB |")
    print("|---|---|---|---|---|---|---|")
    for size, _filled, close, x835 in rows:
        print(
            f"| {size:,} | {close['seconds']:.2f} | {close['count'] / close['seconds']:,.0f} "
            f"| {close['peak_mb']:.0f} | {x835['seconds']:.2f} "
            f"| {x835['count'] / x835['seconds']:,.0f} | {x835['peak_mb']:.0f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
