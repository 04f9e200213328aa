"""The JSON log: a logged exception shows its whole traceback, and no secret survives anywhere in
a line, the exception's text and its cause included."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import quote

import pytest

from warden.adapters.logs import configure_logging

CANARY = "canary-secret-4b9e/+x"


@pytest.fixture
def lines():
    out = io.StringIO()
    configure_logging("INFO", secrets=[CANARY], stream=out)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    logging.getLogger().handlers.clear()


def fail_deep(key: str) -> None:
    try:
        {}["missing"]
    except KeyError as e:
        raise RuntimeError(f"exchange refused key {key} (url http://u:{quote(key, safe='')}@h)") from e


def test_a_logged_exception_shows_its_traceback_with_the_secret_redacted(lines):
    try:
        fail_deep(CANARY)
    except RuntimeError:
        logging.getLogger("warden.test").exception("placing the stop failed for %s", CANARY)

    [line] = lines()
    error = line["error"]
    assert "Traceback (most recent call last)" in error
    assert 'in fail_deep\n    raise RuntimeError' in error  # the frame that raised, with its source line
    assert "The above exception was the direct cause" in error and "KeyError: 'missing'" in error
    assert "RuntimeError: exchange refused key *** (url http://u:***@h)" in error
    assert line["msg"] == "placing the stop failed for ***"
    assert CANARY not in json.dumps(line) and quote(CANARY, safe="") not in json.dumps(line)


def test_the_exception_stays_on_the_record_for_other_handlers(lines):
    seen = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.exc_info)

    logging.getLogger().addHandler(Keep())
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("warden.test").exception("failed")
    assert seen and seen[0] is not None and seen[0][0] is ValueError
    assert "ValueError: boom" in lines()[0]["error"]


def test_context_fields_and_stack_info_are_redacted_too(lines):
    logging.getLogger("warden.test").info("placed", extra={"symbol": f"BTC{CANARY}"}, stack_info=True)
    [line] = lines()
    assert line["symbol"] == "BTC***" and "test_context_fields_and_stack_info" in line["stack"]
