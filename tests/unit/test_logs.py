import json
import logging

import pytest

from adjudicator.logs import JsonFormatter

pytestmark = pytest.mark.unit


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("adjudicator", logging.INFO, __file__, 1, "claim decided", (), None)
    record.__dict__.update(extra)
    return record


def test_a_log_line_is_json_with_the_claim_id() -> None:
    line = json.loads(JsonFormatter().format(_record(claim_id="c1", status="paid")))
    assert line["message"] == "claim decided"
    assert line["claim_id"] == "c1" and line["status"] == "paid"


def test_fields_that_may_carry_phi_never_reach_the_log() -> None:
    record = _record(cardholder_id="IC0000000001", date_of_birth="2015-04-02", last_name="Doe")
    text = JsonFormatter().format(record)
    assert "IC0000000001" not in text and "2015-04-02" not in text and "Doe" not in text


def test_an_exception_is_logged_by_type_without_its_message() -> None:
    try:
        raise ValueError("Olive Example, 1 Main St")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "adjudicator", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["error"] == "ValueError"
    assert "Olive" not in json.dumps(line)
