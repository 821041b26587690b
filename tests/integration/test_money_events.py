"""Money events (PAYMENTS.md) on the real ledger: every path that moves money records its
event in the same transaction, and `payments check` finds a claim whose events do not add
up to what is owed for it now."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import delete, insert

from adjudicator.adapters.tables import money_events
from adjudicator.services import claim_queries, money, reversals, review
from adjudicator.services.runtime import Runtime
from tests.integration.builders import BIN, claim_payload, enroll, pay, pharmacy
from tests.integration.readjudication_support import post_terms, run_job

pytestmark = pytest.mark.integration


def _events(rt: Runtime, claim_id: str) -> list[tuple[str, int]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(
            money_events.select()
            .where(money_events.c.claim_id == claim_id)
            .order_by(money_events.c.seq)
        )
        return [(r.kind, r.amount) for r in rows]


def test_a_payment_and_its_reversal_are_two_events_that_add_up(rt):
    member, npi = enroll(rt, effective_date="2024-01-01"), pharmacy(rt)
    paid = pay(rt, claim_payload(member["cardholder_id"], npi))
    reversals.reverse(rt, paid.claim_id, npi, "pharmacy:test")
    reversals.reverse(rt, paid.claim_id, npi, "pharmacy:test")  # again: nothing more

    assert _events(rt, paid.claim_id) == [("payment", 150_000), ("reversal", -150_000)]
    assert money.check(rt)["mismatches"] == []


def test_a_rejected_claim_moves_no_money(rt):
    npi = pharmacy(rt)
    rejected = pay(rt, claim_payload("IC0000000000", npi))
    assert rejected.status == "rejected"
    assert _events(rt, rejected.claim_id) == []


def test_an_approved_review_pays_once(rt):
    member = enroll(rt, effective_date="2024-01-01", patient={
        "first_name": "A", "last_name": "B", "date_of_birth": "2023-06-01", "sex": "F",
        "address": {"line1": "1 Main St", "city": "Albany", "state": "NY", "zip": "12207",
                    "country": "US"}})  # fmt: skip
    npi = pharmacy(rt)
    payload = claim_payload(member["cardholder_id"], npi, patient={"date_of_birth": "2023-06-01"})
    too_young = pay(rt, payload)
    assert [r["code"] for r in too_young.decision["reject_codes"]] == ["60"]  # type: ignore[index]  # decided
    assert _events(rt, too_young.claim_id) == []
    review.review(rt, too_young.claim_id, "approve", "ok", "reviewer")
    assert _events(rt, too_young.claim_id) == [("payment", 150_000)]
    assert money.check(rt)["mismatches"] == []


def test_a_readjudication_apply_records_the_difference_as_an_adjustment(rt):
    member, npi = enroll(rt, effective_date="2024-01-01"), pharmacy(rt)
    paid = pay(rt, claim_payload(member["cardholder_id"], npi, responsibility="1500.00"))
    post_terms(rt, "2024-lower", "2024-01-01", annual_max="1000.00")
    run_job(rt, "2024-01-01", "2024-12-31", "apply", member["cardholder_id"])

    assert claim_queries.read_claim(rt, paid.claim_id).program_paid == 100_000  # type: ignore[union-attr]  # it exists
    assert _events(rt, paid.claim_id) == [("payment", 150_000), ("adjustment", -50_000)]
    assert money.check(rt)["mismatches"] == []


def test_the_check_names_a_claim_without_its_event_and_an_event_without_its_claim(rt):
    member, npi = enroll(rt, effective_date="2024-01-01"), pharmacy(rt)
    paid = pay(rt, claim_payload(member["cardholder_id"], npi))
    with rt.engine.begin() as conn:
        conn.execute(delete(money_events).where(money_events.c.claim_id == paid.claim_id))
        conn.execute(
            insert(money_events).values(
                at=rt.ledger.now(), claim_id="gone", pharmacy_npi=npi, kind="payment", amount=5
            )
        )
    found = {m["claim_id"]: m for m in money.check(rt)["mismatches"]}
    assert found[paid.claim_id] == {
        "claim_id": paid.claim_id, "events_total": "0.00", "owed_now": "1500.00"
    }  # fmt: skip
    assert found["gone"]["events_total"] == "0.05"


def test_payments_check_exits_1_on_a_mismatch(rt, tmp_path):
    member, npi = enroll(rt, effective_date="2024-01-01"), pharmacy(rt)
    paid = pay(rt, claim_payload(member["cardholder_id"], npi))
    env = {"DATABASE_URL": rt.config.database_url, "REDIS_URL": rt.config.redis_url or "",
           "ADJUDICATOR_DATA_DIR": str(tmp_path), "PATH": str(BIN)}  # fmt: skip
    clean = subprocess.run([str(BIN / "adjudicator"), "payments", "check"], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    with rt.engine.begin() as conn:
        conn.execute(delete(money_events).where(money_events.c.claim_id == paid.claim_id))
    broken = subprocess.run([str(BIN / "adjudicator"), "payments", "check"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    assert broken.returncode == 1 and paid.claim_id in broken.stdout


def test_migration_0008_gives_claims_decided_before_it_their_events(tmp_path):
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy import create_engine, select

    from adjudicator.adapters.tables import claims, pharmacies
    from tests.integration.test_terms_routing import _alembic

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    now = datetime(2024, 3, 2, tzinfo=UTC)
    rows = [("paid", 150_000, None), ("reversed", 90_000, now), ("rejected", 0, None)]
    try:
        with engine.begin() as conn:
            config = _alembic(url)
            config.attributes["connection"] = conn
            command.upgrade(config, "0007")
            pharmacy = {"npi": "1234567893", "name": "P", "chain": "accredo"}
            conn.execute(insert(pharmacies).values(**pharmacy, api_key_hash="h", created_at=now))
            for n, (status, paid, reversed_at) in enumerate(rows):
                conn.execute(insert(claims).values(
                    claim_id=f"c{n}", pharmacy_npi="1234567893", cardholder_id="IC1",
                    rx_number=str(n), fill_number=0, date_of_service=date(2024, 3, 1),
                    request={}, request_hash="h", status=status, program_paid=paid,
                    created_at=now, decided_at=now, reversed_at=reversed_at))  # fmt: skip
            command.upgrade(config, "head")
            found = conn.execute(
                select(
                    money_events.c.claim_id, money_events.c.kind, money_events.c.amount
                ).order_by(money_events.c.seq)
            ).all()
    finally:
        engine.dispose()

    assert [tuple(r) for r in found] == [
        ("c0", "payment", 150_000), ("c1", "payment", 90_000), ("c1", "reversal", -90_000)
    ]  # fmt: skip


def test_payments_close_from_the_command_line_prints_the_cycle(rt, tmp_path):
    member, npi = enroll(rt, effective_date="2024-01-01"), pharmacy(rt)
    pay(rt, claim_payload(member["cardholder_id"], npi))
    env = {"DATABASE_URL": rt.config.database_url, "REDIS_URL": rt.config.redis_url or "",
           "ADJUDICATOR_DATA_DIR": str(tmp_path), "PATH": str(BIN)}  # fmt: skip
    command = [str(BIN / "adjudicator"), "payments", "close"]
    closed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    refused = subprocess.run(
        [*command, "--through", "2020-01-01T00:00:00Z"], env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    assert '"events": 1' in closed.stdout and '"total": "1500.00"' in closed.stdout
    assert refused.returncode == 1 and "closed through" in refused.stderr
