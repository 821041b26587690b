import json
import logging

import pytest

from adjudicator.logs import JsonFormatter, configure

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


def _library_record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args or None, None)


def test_a_bad_request_line_gunicorn_quotes_is_left_out() -> None:
    record = _library_record(
        "gunicorn.error",
        "Invalid request from ip=127.0.0.1: Invalid HTTP request line: "
        "'GET /v1/members/IC6016114652/benefit'",
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Invalid request from ip=127.0.0.1"


def test_a_cardholder_id_or_a_query_in_a_library_path_is_left_out() -> None:
    record = _library_record(
        "gunicorn.error", "Error handling request /v1/members/IC6016114652/benefit?date=2026-01-02"
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Error handling request /v1/members/…/benefit?…"


def test_a_failed_task_is_logged_with_its_error_type_not_its_text() -> None:
    record = _library_record(
        "celery.app.trace",
        "Task %(name)s[%(id)s] %(description)s: %(exc)s",
        {
            "name": "adjudicator.adjudicate_claim",
            "id": "t1",
            "description": "raised unexpected",
            "exc": "OperationalError(\"[parameters: ('IC0000000001', 'Olive')]\")",
        },
    )
    text = JsonFormatter().format(record)
    line = json.loads(text)
    assert line["message"] == "Task adjudicator.adjudicate_claim[t1] raised unexpected"
    assert line["error"] == "OperationalError"
    assert "IC0000000001" not in text and "Olive" not in text


def test_our_own_messages_are_written_whole() -> None:
    record = logging.LogRecord(
        "adjudicator.web", logging.INFO, __file__, 1, "sweep: %s claims", (3,), None
    )
    assert json.loads(JsonFormatter().format(record))["message"] == "sweep: 3 claims"


def test_gunicorns_own_handlers_get_the_json_formatter() -> None:
    gunicorn_log = logging.getLogger("gunicorn.error")
    handler = logging.StreamHandler()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    gunicorn_log.addHandler(handler)
    try:
        configure()
        assert isinstance(handler.formatter, JsonFormatter)
    finally:
        gunicorn_log.removeHandler(handler)
        root.handlers[:], root.level = saved[0], saved[1]
