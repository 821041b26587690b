"""The de-identified claims export, on a ledger of its own (an export reads a whole year)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from adjudicator.config import Config
from adjudicator.domain.deidentify import COLUMNS
from adjudicator.services import exports
from adjudicator.services.runtime import Runtime
from adjudicator.wiring import build_runtime
from tests.examples import ENROLLMENT
from tests.integration.builders import BIN, claim_payload, enroll, pay, pharmacy
from tests.ledgers import fresh_ledger

pytestmark = pytest.mark.integration

ELDER = {
    "first_name": "Walter",
    "last_name": "Elder",
    "date_of_birth": "1930-05-05",
    "sex": "M",
    "address": {
        "line1": "9 Pond Rd",
        "city": "Keene",
        "state": "NH",
        "zip": "03601",
        "country": "US",
    },
}


@pytest.fixture
def rt(tmp_path: Path, redis_url: str, enqueued: list[str]) -> Iterator[Runtime]:
    with fresh_ledger(tmp_path, "export") as url:
        config = Config(data_dir=tmp_path, database_url=url, redis_url=redis_url)
        runtime = build_runtime(config, enqueue=enqueued.append)
        try:
            yield runtime
        finally:
            runtime.close()


@pytest.fixture
def billed(rt: Runtime) -> dict[str, list[str]]:
    """2024's claims of two patients and a stranger, and one 2025 claim; what PHI they hold."""
    olive = enroll(rt, effective_date="2024-01-01")
    elder = enroll(rt, effective_date="2024-01-01", patient=ELDER)
    npi = pharmacy(rt)
    bodies = [
        claim_payload(olive["cardholder_id"], npi),
        claim_payload(olive["cardholder_id"], npi, date_of_service="2024-05-06"),
        claim_payload(elder["cardholder_id"], npi, patient={"date_of_birth": "1930-05-05"}),
        claim_payload("IC0000000000", npi, date_of_service="2024-07-08"),
        claim_payload(olive["cardholder_id"], npi, date_of_service="2025-02-03"),
    ]
    for body in bodies:
        pay(rt, body)
    patient = ENROLLMENT["patient"]
    return {
        "phi": [
            olive["cardholder_id"],
            elder["cardholder_id"],
            "IC0000000000",
            *(body["rx_number"] for body in bodies),
            *(p[name] for p in (patient, ELDER) for name in ("first_name", "last_name")),
            "2015-04-02",
            "1930",
            "12207",  # the builders' Albany ZIP
            "03601",
            "Albany",
            "Keene",
            "Main St",
            "Pond Rd",
            "2024-03-01",
            "2024-05-06",
            "2024-07-08",
        ]
    }


def export(rt: Runtime, year: int) -> tuple[dict, list[dict[str, str]], str]:
    out = io.StringIO()
    summary = exports.write_csv(rt.ledger, year, out)
    text = out.getvalue()
    return summary, list(csv.DictReader(io.StringIO(text))), text


def test_a_years_claims_are_exported_with_safe_harbor_columns_only(rt, billed):
    summary, rows, text = export(rt, 2024)

    assert summary == {"year": 2024, "claims": 4, "patients": 3}
    assert text.splitlines()[0].split(",") == list(COLUMNS)
    assert [phi for phi in billed["phi"] if phi in text] == []
    assert {row["service_year"] for row in rows} == {"2024"}


def test_each_patient_has_one_random_key_per_export(rt, billed):
    _summary, first, _text = export(rt, 2024)
    _summary, second, _text = export(rt, 2024)

    keys = [row["patient_key"] for row in first]
    assert keys[0] == keys[1] and len(set(keys)) == 3  # Olive's two claims, Walter, a stranger
    assert not {row["patient_key"] for row in first} & {row["patient_key"] for row in second}


def test_ages_over_89_and_low_population_zips_are_grouped(rt, billed):
    _summary, rows, _text = export(rt, 2024)
    olive, _again, elder, stranger = rows

    assert (olive["age"], olive["state"], olive["zip3"]) == ("8", "NY", "122")
    assert (elder["age"], elder["state"], elder["zip3"]) == ("90+", "NH", "000")
    assert (olive["status"], olive["program_paid"], olive["coverage_type"]) == (
        "paid",
        "1500.00",
        "commercial",
    )
    assert (stranger["status"], stranger["reject_codes"], stranger["age"]) == ("rejected", "52", "")


def test_a_chain_that_reads_as_a_formula_is_written_as_text(rt, tmp_path):
    member = enroll(rt, effective_date="2024-01-01")
    pay(rt, claim_payload(member["cardholder_id"], pharmacy(rt, chain="=HYPERLINK(1)")))

    _summary, rows, _text = export(rt, 2024)

    assert rows[0]["pharmacy_chain"] == "'=HYPERLINK(1)"


def test_the_command_writes_the_csv_and_prints_its_summary(rt, billed, tmp_path):
    env = {"DATABASE_URL": rt.config.database_url, "ADJUDICATOR_DATA_DIR": str(tmp_path)}
    output = tmp_path / "ipsen-2024.csv"

    done = subprocess.run(
        [str(BIN / "adjudicator"), "export", "--year", "2024", "--output", str(output)],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    to_stdout = subprocess.run(
        [str(BIN / "adjudicator"), "export", "--year", "2024"],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "year": 2024,
        "claims": 4,
        "patients": 3,
        "output": str(output),
    }
    assert len(output.read_text().splitlines()) == 5
    assert to_stdout.returncode == 0 and len(to_stdout.stdout.splitlines()) == 5


def test_the_command_refuses_what_is_not_a_year(tmp_path):
    done = subprocess.run(
        [str(BIN / "adjudicator"), "export", "--year", "24"],
        env={**_base_env(), "ADJUDICATOR_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not a year" in done.stderr


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
