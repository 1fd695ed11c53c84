import json
import logging
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import SecretStr
from tests.conftest import restored_logging

from tradedeck.ops.logging import REDACTED, configure_logging, redact_secrets


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging rewires process-wide state; put it back for the other tests."""
    with restored_logging():
        yield


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_structlog_event_is_one_json_line_with_secrets_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    structlog.get_logger("tradedeck.test").info(
        "order placed",
        symbol="BTC/USDT",
        api_key="sk-live-123",
        Authorization="Bearer abc",
        exchange_secret=SecretStr("hunter2"),
        password="pw",
        refresh_token="rt-9f8e7d",
        settings={"db_password": "pw2", "port": 5432, "keys": [SecretStr("s1")]},
        passphrase=SecretStr("p"),
    )
    out, err = capsys.readouterr()
    assert out == ""
    [line] = json_lines(err)
    assert line["event"] == "order placed"
    assert line["level"] == "info"
    assert line["logger"] == "tradedeck.test"
    assert line["symbol"] == "BTC/USDT"
    for key in ("api_key", "Authorization", "exchange_secret", "password", "refresh_token"):
        assert line[key] == REDACTED
    assert line["passphrase"] == REDACTED  # a SecretStr, whatever its key
    assert line["settings"] == {"db_password": REDACTED, "port": 5432, "keys": [REDACTED]}
    for secret in ("sk-live-123", "Bearer abc", "hunter2", "rt-9f8e7d", "pw2", "s1"):
        assert secret not in err


def test_timestamp_is_iso_utc(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    structlog.get_logger().warning("x")
    [line] = json_lines(capsys.readouterr().err)
    assert line["timestamp"].endswith("Z")
    assert "T" in line["timestamp"]
    assert line["level"] == "warning"


def test_bound_context_vars_appear_and_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    structlog.contextvars.bind_contextvars(request_id="req-1", session_token="tok")
    structlog.get_logger().info("handled")
    [line] = json_lines(capsys.readouterr().err)
    assert line["request_id"] == "req-1"
    assert line["session_token"] == REDACTED


def test_stdlib_records_use_the_same_renderer(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    structlog.contextvars.bind_contextvars(request_id="req-2")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s" %d', "127.0.0.1", "GET /health", 200, extra={"x-api-key": "k"}
    )
    [line] = json_lines(capsys.readouterr().err)
    assert line["event"] == '127.0.0.1 - "GET /health" 200'
    assert line["logger"] == "uvicorn.access"
    assert line["level"] == "info"
    assert line["request_id"] == "req-2"
    assert line["x-api-key"] == REDACTED


def test_uvicorn_handlers_are_replaced_by_propagation(capsys: pytest.CaptureFixture[str]) -> None:
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(logging.StreamHandler())
    uvicorn_error.propagate = False
    configure_logging()
    uvicorn_error.error("startup failed")
    [line] = json_lines(capsys.readouterr().err)
    assert line["event"] == "startup failed"


def test_warnings_are_logged_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # catch_warnings restores showwarning on exit, so capture again inside it.
        logging.captureWarnings(True)
        warnings.warn("relationship X will copy column Y", UserWarning, stacklevel=1)
    [line] = json_lines(capsys.readouterr().err)
    assert line["logger"] == "py.warnings"
    assert "relationship X" in line["event"]


def test_exceptions_are_rendered_into_the_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    try:
        raise RuntimeError("exchange down")
    except RuntimeError:
        structlog.get_logger().exception("order failed")
    [line] = json_lines(capsys.readouterr().err)
    assert line["level"] == "error"
    assert "RuntimeError: exchange down" in line["exception"]


def test_calling_twice_does_not_duplicate_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    configure_logging()
    structlog.get_logger().info("once")
    logging.getLogger("other").warning("once too")
    assert len(json_lines(capsys.readouterr().err)) == 2


def test_level_filters_both_paths(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="warning")
    structlog.get_logger().info("hidden")
    logging.getLogger("lib").info("hidden too")
    structlog.get_logger().warning("shown")
    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["shown"]


def test_reconfiguring_changes_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="WARNING")
    log = structlog.get_logger()
    log.info("hidden")
    configure_logging(level="DEBUG")
    log.debug("shown")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["shown"]


def test_console_mode_is_not_json_but_still_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=False)
    structlog.get_logger().info("pretty", token="abc123")
    err = capsys.readouterr().err
    assert "pretty" in err
    assert "abc123" not in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError):
        configure_logging(level="LOUD")


def test_other_stdlib_handlers_only_see_redacted_events(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging()
    structlog.get_logger().info("login", password="p4ssw0rd-xyz")
    capsys.readouterr()
    assert "p4ssw0rd-xyz" not in caplog.text
    assert all("p4ssw0rd-xyz" not in str(r.msg) for r in caplog.records)


def test_redact_does_not_mutate_the_callers_objects() -> None:
    settings = {"password": "pw", "nested": {"token": "t"}}
    event = redact_secrets(None, "info", {"event": "e", "settings": settings})
    assert event["settings"] == {"password": REDACTED, "nested": {"token": REDACTED}}
    assert settings == {"password": "pw", "nested": {"token": "t"}}


def test_importing_configures_nothing() -> None:
    # A fresh interpreter: in this one other tests have already imported and configured.
    code = (
        "import logging, structlog, tradedeck.ops.logging, tradedeck.ops.metrics, "
        "tradedeck.ops.http_metrics; "
        "assert logging.getLogger().handlers == [], logging.getLogger().handlers; "
        "assert not structlog.is_configured()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
