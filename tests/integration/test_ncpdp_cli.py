"""`adjudicator ncpdp encode` and `decode` as subprocesses: what a newcomer types."""

from __future__ import annotations

import copy
import json
import os
import subprocess

import pytest

from adjudicator.ncpdp.codec import FS, GS, RS
from tests.examples import CLAIM
from tests.integration.builders import BIN

pytestmark = pytest.mark.integration


def adjudicator(tmp_path, *args, stdin=None):
    env = {**os.environ, "ADJUDICATOR_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [str(BIN / "adjudicator"), "ncpdp", *args],
        input=stdin, env=env, capture_output=True, timeout=60,
    )  # fmt: skip


def test_encode_prints_the_raw_transmission_and_decode_reads_it_from_stdin(tmp_path):
    claim = copy.deepcopy(CLAIM)
    claim["rx_number"], claim["lines"] = "1001", claim["lines"][:1]
    (tmp_path / "claim.json").write_text(json.dumps(claim))

    encoded = adjudicator(tmp_path, "encode", str(tmp_path / "claim.json"))
    decoded = adjudicator(tmp_path, "decode", "-", stdin=encoded.stdout)

    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout.startswith(b"999999D0B1IPSENCARES1")
    assert all(separator.encode() in encoded.stdout for separator in (FS, GS, RS))
    assert decoded.returncode == 0, decoded.stderr
    shown = json.loads(decoded.stdout)
    assert shown["header"]["provider_id"] == "1234567893     "
    claim_segment = shown["groups"][0]["segments"][0]
    assert claim_segment["segment"] == "AM07"
    assert ["D2", "1001"] in claim_segment["fields"]
    assert claim_segment["names"]["D2"] == "402-D2 prescription/service reference number"


def test_the_readable_form_decodes_too_and_the_example_claim_is_refused_clearly(tmp_path):
    claim = copy.deepcopy(CLAIM)
    claim["rx_number"], claim["lines"] = "1001", claim["lines"][:1]
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    (tmp_path / "example.json").write_text(json.dumps(CLAIM))

    shown = adjudicator(tmp_path, "encode", "--readable", str(tmp_path / "claim.json"))
    (tmp_path / "claim.txt").write_bytes(shown.stdout)
    decoded = adjudicator(tmp_path, "decode", str(tmp_path / "claim.txt"))
    refused = adjudicator(tmp_path, "encode", str(tmp_path / "example.json"))

    assert b"<RS><FS>AM04<FS>C2C-0001" in shown.stdout
    assert decoded.returncode == 0, decoded.stderr
    assert json.loads(decoded.stdout)["transmission"]["segments"][0]["segment"] == "AM04"
    assert refused.returncode == 2 and refused.stdout == b""
    assert b"D.0 claims have no service line" in refused.stderr
