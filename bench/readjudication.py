"""`make bench`, part two: batch re-adjudication over a large history, SQLite + real Redis.

    python -m bench.readjudication [--patients 10000] [--claims-per-patient 10]
                                   [--small-patients 2000] [--live-rate 50] [--keep]

For two sizes (small, then large: >= 100,000 claims over >= 10,000 patients by default)
a fresh SQLite ledger is filled through SQLAlchemy Core bulk inserts with a history the
real rules produced (evaluate/decide, with the caps), an embedded Redis is rebuilt from it,
and a new terms version is posted (effective mid-year: cash-pay maximum $800 instead of
$1,000, annual maximum $15,000 instead of $12,000). Then, each in a fresh worker process
(its peak RSS is the job's memory):
- baseline: a loop that only reads the claims a job reads (the same columns), streamed;
- dry run: a `dry_run` job over the whole window;
- apply: an `apply` job; then a second run (a dry run: it must find nothing to change) and
  `accumulators check` (Redis must agree with the ledger).
Dry runs replay in helper processes, one per core (parallel_dry_run.py; the table's
peak RSS is the largest process); on the large ledger a dry run in the job's process
alone is measured too.
On the large ledger, pharmacy claims (intake + worker path, in-process) are timed at a
fixed rate while idle, and again while an apply job of a second amendment (effective
2024-10-01, window October-November 2024) runs in another process on the same ledger.

Bars: dry run >= 5,000 claims/s on the large ledger; the dry run's peak RSS on the large
ledger within 10% of the small one's (memory flat in the number of claims); the second
run changes nothing and Redis agrees with the ledger. Exit 0 only when all pass.
Results go to bench-results/readjudication-<time>.json with a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results"
WINDOW = (date(2023, 1, 1), date(2026, 6, 30))
AMENDED_ON = date(2024, 7, 1)
SECOND_AMENDMENT_ON = date(2024, 10, 1)
SECOND_WINDOW = (date(2024, 10, 1), date(2024, 11, 30))  # the apply that runs under load
DRY_RUN_BAR = 5000.0  # claims/s
MEMORY_GROWTH_BAR = 0.10  # large peak RSS at most 10% over the small one's
NDC = "15054104005"
CHAINS = ("accredo", "optum_specialty", "cvs_specialty", "walgreens_specialty")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.phase:
        return _child(args)
    began = time.monotonic()
    print(
        f"readjudication bench: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
        f"sizes {args.small_patients} and {args.patients} patients x "
        f"{args.claims_per_patient} claims",
        flush=True,
    )
    scratch = Path(tempfile.mkdtemp(prefix="adj-readj-bench-"))
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "sizes": {}}
    try:
        for label, patients in (("small", args.small_patients), ("large", args.patients)):
            live = label == "large"
            report["sizes"][label] = _bench_size(args, scratch / label, patients, live)
    finally:
        if args.keep:
            print(f"data kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - began, 1)
    return _conclude(report)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.readjudication", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--patients", type=int, default=10000, help="large size (10000)")
    parser.add_argument("--small-patients", type=int, default=2000, help="small size (2000)")
    parser.add_argument("--claims-per-patient", type=int, default=10, help="(10)")
    parser.add_argument("--live-rate", type=float, default=50.0, help="pharmacy claims/s (50)")
    parser.add_argument("--live-claims", type=int, default=300, help="idle sample size (300)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the temp ledgers")
    # internal: one phase in a fresh worker process
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    return parser


# --- one size ----------------------------------------------------------------------------


def _bench_size(args: argparse.Namespace, folder: Path, patients: int, live: bool) -> dict:
    from adjudicator.adapters.embedded_redis import EmbeddedRedis

    folder.mkdir(parents=True)
    url = f"sqlite:///{folder / 'ledger.db'}"
    result: dict[str, Any] = {"patients": patients}
    with EmbeddedRedis(folder / "redis") as redis_server:
        began = time.monotonic()
        result["claims_inserted"] = _fill_ledger(url, patients, args.claims_per_patient, args.seed)
        _rebuild_accumulators(url, redis_server.url)
        _post_terms(url, "bench-2024-07", AMENDED_ON, cash_pay_per_rx_max="800.00",
                    annual_max="15000.00")  # fmt: skip
        result["fill_seconds"] = round(time.monotonic() - began, 1)
        print(
            f"  {patients} patients: {result['claims_inserted']:,} claims in "
            f"{result['fill_seconds']} s",
            flush=True,
        )
        phases = [("baseline", "baseline"), ("dry_run", "dry_run")]
        if live:
            phases += [
                ("dry_run_in_process", "dry_run"),
                ("apply", "apply"),
                ("second_run", "dry_run"),
            ]
        for name, phase in phases:
            helpers = "1" if name == "dry_run_in_process" else str(os.cpu_count() or 1)
            result[name] = _phase(phase, url, redis_server.url, helpers)
            _say(name, result[name])
        if live:
            result["accumulator_mismatches"] = _check(url, redis_server.url)
            result["pharmacy"] = _pharmacy_latency(args, url, redis_server.url)
    return result


def _say(name: str, phase: dict[str, Any]) -> None:
    extra = f", {phase['changed']:,} changed" if "changed" in phase else ""
    if phase.get("helper_peak_rss_mb"):
        extra += f", helpers' peak RSS {phase['helper_peak_rss_mb']:.1f} MB"
    print(
        f"    {name:<12} {phase['claims']:>8,} claims in {phase['seconds']:6.2f} s = "
        f"{phase['claims_per_second']:>8,.0f}/s, peak RSS {phase['peak_rss_mb']:.1f} MB{extra}",
        flush=True,
    )


def _phase(phase: str, url: str, redis_url: str, helpers: str) -> dict[str, Any]:
    """Run one phase in a fresh Python process: its peak RSS is that phase's alone.

    `helpers`: ADJUDICATOR_REPLAY_PROCESSES for a dry run ("1": all in the job's process)."""
    command = [sys.executable, "-m", "bench.readjudication", "--phase", phase]
    command += ["--database-url", url, "--redis-url", redis_url]
    env = {**os.environ, "ADJUDICATOR_REPLAY_PROCESSES": helpers}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]  # JSON is Any


def _child(args: argparse.Namespace) -> int:
    """The worker side: build a Runtime, run the phase, print its numbers as JSON."""
    from adjudicator.services import readjudication

    rt = _runtime(args.database_url, args.redis_url)
    rss_before = _peak_rss_mb()
    began = time.perf_counter()
    out: dict[str, Any] = {"phase": args.phase}
    if args.phase == "baseline":
        out["claims"] = _read_everything(rt)
    else:
        mode, _, scope = args.phase.partition(":")
        window = SECOND_WINDOW if scope == "second" else WINDOW
        request = {"date_from": window[0], "date_to": window[1], "mode": mode}
        job = readjudication.create(rt, request, "bench")
        result = readjudication.run(rt, job["job_id"])
        view = readjudication.get(rt, job["job_id"])
        if result.status != "succeeded":
            print(f"job {result.status}: {view['error']}", file=sys.stderr)
            return 1
        out["helper_peak_rss_mb"] = round(result.helper_peak_rss_mb, 1)
        out["claims"] = view["summary"]["claims"]
        out["changed"] = view["summary"]["changed"]
        out["delta_cents"] = view["summary"]["delta"]
    seconds = time.perf_counter() - began
    out.update(
        seconds=round(seconds, 3),
        claims_per_second=round(out["claims"] / seconds, 1) if seconds else 0.0,
        peak_rss_mb=round(_peak_rss_mb(), 1),
        rss_at_start_mb=round(rss_before, 1),
    )
    rt.close()
    print(json.dumps(out))
    return 0


def _read_everything(rt: Any) -> int:
    """The baseline: stream the claims a job reads (the same columns), and nothing else."""
    from sqlalchemy import select

    from adjudicator.adapters import readjudication as jobs_sql
    from adjudicator.adapters.db import reading
    from adjudicator.adapters.tables import claims

    query = (
        select(*jobs_sql._REPLAY_COLUMNS)
        .where(claims.c.date_of_service.between(*WINDOW))
        .order_by(claims.c.cardholder_id, claims.c.seq)
    )
    count = 0
    with reading(rt.engine, stream_results=True, yield_per=2000) as conn:
        for row in conn.execute(query):
            count += row.status in ("paid", "rejected")
    return count


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM): unlike ru_maxrss, which Linux carries
    over exec from the parent that spawned us, it counts this program's pages only."""
    from adjudicator.services.readjudication.parallel_dry_run import peak_rss_mb

    return peak_rss_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB


# --- filling the ledger ------------------------------------------------------------------


def _fill_ledger(url: str, patients: int, per_patient: int, seed: int) -> int:
    """Members, one enrollment year each and their claims, decided by the real rules."""
    from sqlalchemy import insert

    from adjudicator.adapters.db import make_engine
    from adjudicator.adapters.tables import claims, enrollments, members, pharmacies
    from adjudicator.config import Config
    from adjudicator.domain import bundled_terms
    from adjudicator.services.setup import migrate

    migrate(Config(Path("."), url, None))
    engine = make_engine(url)
    rng = random.Random(seed)
    terms = bundled_terms()[0]
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    npis = [_npi(rng) for _ in range(len(CHAINS) + 1)]
    chains = dict(zip(npis, (*CHAINS, "corner_drugstore"), strict=True))  # the last: 40
    inserted = 0
    with engine.begin() as conn:
        conn.execute(
            insert(pharmacies),
            [
                {"npi": n, "name": f"P {n}", "chain": c, "api_key_hash": uuid.uuid4().hex,
                 "created_at": stamp}
                for n, c in chains.items()
            ],
        )  # fmt: skip
    batch: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    years: list[dict[str, Any]] = []
    for index in range(patients):
        person, year, history = _patient(index, rng, terms, chains, per_patient)
        people.append(person)
        years.append(year)
        batch.extend(history)
        if len(batch) >= 20000 or index == patients - 1:
            with engine.begin() as conn:
                conn.execute(insert(members), people)
                conn.execute(insert(enrollments), years)
                conn.execute(insert(claims), batch)
            inserted += len(batch)
            batch, people, years = [], [], []
    engine.dispose()
    return inserted


def _patient(
    index: int, rng: random.Random, terms: Any, chains: dict[str, str], per_patient: int
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    from adjudicator.domain import decide, evaluate, grant
    from adjudicator.domain.eligibility import benefit_period
    from adjudicator.domain.model import ClaimContext, EnrollmentYear, Reason
    from adjudicator.domain.records import claim_from_request
    from adjudicator.services import records

    cardholder = f"BC{index:010d}"
    start = date(2023, 7 + index % 6, 1) if index % 2 else date(2024, 1 + index % 6, 1)
    start, end = benefit_period(start)
    cash_pay = rng.random() < 0.25
    state = "MA" if rng.random() < 0.1 else "NY"
    ineligible = rng.random() < 0.02
    enrollment_id = uuid.uuid4().hex
    stamp = datetime(2023, 1, 1, tzinfo=UTC)
    facts = {
        "patient": {
            "first_name": "Bench", "last_name": f"Patient{index}", "date_of_birth": "2015-04-02",
            "sex": "F",
            "address": {"line1": "1 Main St", "city": "Albany", "state": state, "zip": "12207",
                        "country": "US"},
        },
        "coverage": {"type": "uninsured", "covers_product": True} if cash_pay
        else {"type": "commercial", "covers_product": True, "bin": "003858", "pcn": "A4"},
        "attestations": {"government_program": ineligible, "other_assistance": False},
        "weight_kg": "25",
        "effective_date": start.isoformat(),
    }  # fmt: skip
    reasons = (
        [{"code": "government_program", "message": "Patients enrolled in a state ..."}]
        if ineligible
        else []
    )
    year = EnrollmentYear(
        enrollment_id, start, end, "ineligible" if ineligible else "active",
        tuple(Reason(r["code"], r["message"]) for r in reasons),
        cash_pay, date(2015, 4, 2), state, Decimal("25"),
    )  # fmt: skip
    person = {"cardholder_id": cardholder, "created_at": stamp}
    enrollment = {
        "enrollment_id": enrollment_id, "cardholder_id": cardholder, "period_start": start,
        "period_end": end, "status": year.status, "reasons": reasons, "cash_pay": cash_pay,
        "facts": facts, "created_at": stamp, "updated_at": stamp,
    }  # fmt: skip
    days = sorted(rng.sample(range((end - start).days + 1), per_patient))
    npis = list(chains)
    used = 0
    rows = []
    for fill, offset in enumerate(days):
        dos = start + timedelta(days=offset)
        npi = npis[-1] if rng.random() < 0.03 else npis[index % (len(npis) - 1)]
        cents = rng.randrange(50, 301) * 1000  # $500 to $3,000
        claim_id = uuid.uuid4().hex
        request = {
            "transaction_code": "B1", "cardholder_id": cardholder, "group_id": "IPSENCARES",
            "service_provider_id": npi, "prescriber_npi": "1245319599",
            "rx_number": f"RX{index}", "fill_number": fill, "date_of_service": dos.isoformat(),
            "date_of_birth": "2015-04-02",
            "cob": {"other_coverage_code": 1, "other_payer_bin": None, "other_payer_pcn": None,
                    "other_payer_reject_codes": []} if cash_pay
            else {"other_coverage_code": 8, "other_payer_bin": "003858",
                  "other_payer_pcn": "A4", "other_payer_reject_codes": []},
            "lines": [{"kind": "drug", "code": NDC, "quantity": "8", "days_supply": 30,
                       "patient_responsibility": cents}],
            "diagnosis_code": "E34.3",
        }  # fmt: skip
        claim = claim_from_request(claim_id, request)
        context = ClaimContext(True, (year,), chains[npi])
        evaluation = evaluate(claim, context, terms)
        granted = 0 if evaluation.rejects else grant(evaluation.requested, used, terms.annual_max)
        decision = decide(evaluation, used, granted)
        paid = decision.status == "paid"
        reversed_ = paid and rng.random() < 0.02  # reversed before the next claim
        used += decision.amounts.program_paid if paid and not reversed_ else 0
        decided = datetime.combine(dos, datetime.min.time(), UTC) + timedelta(seconds=index)
        rows.append(
            {
                "claim_id": claim_id, "pharmacy_npi": npi, "cardholder_id": cardholder,
                "rx_number": f"RX{index}", "fill_number": fill, "date_of_service": dos,
                "request": request, "request_hash": claim_id,
                "status": "reversed" if reversed_ else decision.status,
                "decision": records.decision_record(decision), "enrollment_id": enrollment_id,
                "program_paid": decision.amounts.program_paid,
                "authorization_number": uuid.uuid4().hex[:12].upper() if paid else None,
                "paid_key": f"{npi}|RX{index}|{fill}|{dos}" if paid and not reversed_ else None,
                "created_at": decided, "decided_at": decided,
            }
        )  # fmt: skip
    return person, enrollment, rows


def _npi(rng: random.Random) -> str:
    body = f"{rng.randrange(1, 10)}{rng.randrange(10**8):08d}"
    total = 0
    for position, char in enumerate(reversed("80840" + body)):
        digit = int(char) * (1 if position % 2 else 2)
        total += digit - 9 if digit > 9 else digit
    return body + str((10 - total % 10) % 10)


def _runtime(url: str, redis_url: str) -> Any:
    """A Runtime whose claims and jobs go nowhere: the bench runs them in-process."""
    from adjudicator.config import Config
    from adjudicator.wiring import build_runtime

    config = Config(Path("."), url, redis_url)
    return build_runtime(config, enqueue=lambda claim_id: None, send_job=lambda job_id: None)


def _rebuild_accumulators(url: str, redis_url: str) -> None:
    from adjudicator.services import accumulators

    rt = _runtime(url, redis_url)
    try:
        accumulators.rebuild(rt)
    finally:
        rt.close()


def _post_terms(url: str, version: str, effective: date, **changes: str) -> None:
    from adjudicator.adapters.sql_ledger import SqlLedger
    from adjudicator.domain import bundled_terms
    from adjudicator.services import terms

    document = bundled_terms()[0].to_document()
    document.update(version=version, effective_date=effective.isoformat(), **changes)
    ledger = SqlLedger.from_url(url)
    try:
        terms.create(ledger, document, "bench")
    finally:
        ledger.dispose()


def _check(url: str, redis_url: str) -> int:
    from adjudicator.services import accumulators

    rt = _runtime(url, redis_url)
    try:
        return len(accumulators.check(rt)["mismatches"])
    finally:
        rt.close()


# --- pharmacy claims while a batch runs --------------------------------------------------


def _pharmacy_latency(args: argparse.Namespace, url: str, redis_url: str) -> dict[str, Any]:
    """Decision latency (intake + worker path, in-process) idle and during an apply job."""
    rt = _runtime(url, redis_url)
    try:
        idle = _timed_claims(rt, args, stop=None)
        _post_terms(url, "bench-2024-10", SECOND_AMENDMENT_ON, cash_pay_per_rx_max="1000.00",
                    annual_max="15000.00")  # fmt: skip
        job = subprocess.Popen(
            [sys.executable, "-m", "bench.readjudication", "--phase", "apply:second",
             "--database-url", url, "--redis-url", redis_url],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        stop = threading.Event()
        watcher = threading.Thread(target=lambda: (job.wait(), stop.set()), daemon=True)
        watcher.start()
        during = _timed_claims(rt, args, stop=stop)
        out, err = job.communicate()
        if job.returncode != 0:
            raise SystemExit(f"apply during pharmacy load failed:\n{err[-4000:]}")
        batch = json.loads(out.splitlines()[-1])
    finally:
        rt.close()
    result = {"idle": idle, "during_batch": during, "batch": batch}
    print(
        f"    pharmacy claims at {args.live_rate:.0f}/s: p50/p99 idle "
        f"{idle['p50_ms']:.1f}/{idle['p99_ms']:.1f} ms ({idle['claims']}), during an apply "
        f"{during['p50_ms']:.1f}/{during['p99_ms']:.1f} ms ({during['claims']}); "
        f"the apply: {batch['claims']:,} claims at {batch['claims_per_second']:,.0f}/s",
        flush=True,
    )
    return result


def _timed_claims(rt: Any, args: argparse.Namespace, stop: threading.Event | None) -> dict:
    """Claims at a fixed rate for patients of the ledger; latency from each one's due time."""
    from sqlalchemy import select

    from adjudicator.adapters.db import reading
    from adjudicator.adapters.tables import pharmacies
    from adjudicator.services import adjudication, intake
    from schemas.claims import ClaimRequestSchema

    query = select(pharmacies.c.npi).where(pharmacies.c.chain == CHAINS[0])
    with reading(rt.engine) as conn:
        npi = conn.execute(query).scalar_one()
    rng = random.Random(7)
    schema = ClaimRequestSchema()
    latencies: list[float] = []
    interval = 1 / args.live_rate
    began = time.perf_counter()
    while True:
        count = len(latencies)
        if stop is None and count >= args.live_claims:
            break
        if stop is not None and stop.is_set() and count >= 20:
            break
        due = began + count * interval
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        patient = rng.randrange(args.small_patients)  # exists in both sizes
        payload = _live_payload(f"BC{patient:010d}", npi, rng)
        submitted = intake.submit_claim(rt, schema.load(payload), wait=None)
        adjudication.adjudicate(rt, submitted.claim_id)
        latencies.append((time.perf_counter() - due) * 1000)
    ordered = sorted(latencies)
    return {
        "claims": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


def _live_payload(cardholder: str, npi: str, rng: random.Random) -> dict[str, Any]:
    line = {
        "kind": "drug",
        "code": NDC,
        "quantity": "8.000",
        "days_supply": 30,
        "patient_responsibility": f"{rng.randrange(5, 30)}00.00",
    }
    return {
        "cardholder_id": cardholder,
        "service_provider_id": npi,
        "rx_number": f"LIVE{uuid.uuid4().hex[:10]}",
        "fill_number": 0,
        "date_of_service": "2024-06-15",
        "patient": {"date_of_birth": "2015-04-02"},
        "cob": {"other_coverage_code": 8, "other_payer_bin": "003858"},
        "lines": [line],
    }


# --- the verdict -------------------------------------------------------------------------


def _conclude(report: dict[str, Any]) -> int:
    small, large = report["sizes"]["small"], report["sizes"]["large"]
    dry = large["dry_run"]
    single = large["dry_run_in_process"]
    growth = _peak(large["dry_run"]) / _peak(small["dry_run"]) - 1
    bars = {
        f"dry run >= {DRY_RUN_BAR:,.0f} claims/s ({dry['claims_per_second']:,.0f}/s; in one "
        f"process {single['claims_per_second']:,.0f}/s)": dry["claims_per_second"] >= DRY_RUN_BAR,
        f"memory flat: dry-run peak RSS +{growth:.1%} for "
        f"{large['claims_inserted'] / small['claims_inserted']:.0f}x the claims (<= "
        f"{MEMORY_GROWTH_BAR:.0%})": growth <= MEMORY_GROWTH_BAR,
        "after the apply a second run changes nothing, Redis agrees with the ledger": (
            large["second_run"]["changed"] == 0 and large["accumulator_mismatches"] == 0
        ),
    }
    report["bars"] = bars
    report["markdown"] = _markdown(report)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"readjudication-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print()
    for bar, passed in bars.items():
        print(f"{'PASS' if passed else 'FAIL'}  {bar}")
    print()
    print(report["markdown"])
    print(f"\n(results in {path.relative_to(ROOT)}; {report['seconds']} s)")
    return 0 if all(bars.values()) else 1


def _peak(phase: dict[str, Any]) -> float:
    """The largest process of a phase: the job's, or one of its helpers'."""
    return max(phase["peak_rss_mb"], phase.get("helper_peak_rss_mb", 0.0))


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "| ledger | phase | claims | seconds | claims/s | peak RSS (MB) | changed |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"].values():
        name = f"{size['claims_inserted']:,} claims, {size['patients']:,} patients"
        for phase in ("baseline", "dry_run", "dry_run_in_process", "apply", "second_run"):
            if phase not in size:
                continue
            p = size[phase]
            lines.append(
                f"| {name} | {phase.replace('_', ' ')} | {p['claims']:,} | {p['seconds']:.2f} | "
                f"{p['claims_per_second']:,.0f} | {_peak(p):.1f} | "
                f"{format(p['changed'], ',') if 'changed' in p else '-'} |"
            )
    pharmacy = report["sizes"]["large"].get("pharmacy")
    if pharmacy:
        idle, during = pharmacy["idle"], pharmacy["during_batch"]
        lines += [
            "",
            "| pharmacy claims (intake + worker path, in-process) | claims | p50 ms | p99 ms |",
            "|---|---:|---:|---:|",
            f"| idle | {idle['claims']} | {idle['p50_ms']:.1f} | {idle['p99_ms']:.1f} |",
            f"| during an apply job | {during['claims']} | {during['p50_ms']:.1f} | "
            f"{during['p99_ms']:.1f} |",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
