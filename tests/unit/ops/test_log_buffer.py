"""The log lines /logs and /errors answer from: the same masked content as stderr,
bounded, errors kept apart from the chatter, and grouped by kind."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from tests.unit.ops.test_logging import json_lines

from tradedeck.ops.log_buffer import LogBuffer
from tradedeck.ops.logging import REDACTED

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
def buffer(production_logging: None) -> Iterator[LogBuffer]:
    installed = LogBuffer.install()
    yield installed
    installed.uninstall()


def test_a_line_is_kept_as_stderr_renders_it_with_secrets_masked(
    buffer: LogBuffer, capsys: pytest.CaptureFixture[str]
) -> None:
    structlog.get_logger("tradedeck.test").info("order placed", symbol="BTC/USDT", api_key="sk-1")
    logging.getLogger("lib").warning("plain %s line", "stdlib")
    [first, second] = buffer.lines(10)
    [printed, _] = json_lines(capsys.readouterr().err)
    assert (first.event, first.level, first.logger) == ("order placed", "info", "tradedeck.test")
    assert first.fields == {"symbol": "BTC/USDT", "api_key": REDACTED}
    assert printed["api_key"] == REDACTED and first.at.isoformat().startswith(
        printed["timestamp"][:19]
    )
    assert (second.event, second.level, second.logger) == ("plain stdlib line", "warning", "lib")
    assert "sk-1" not in repr(buffer.lines(10))


def test_the_newest_lines_at_a_level_come_back_oldest_first(buffer: LogBuffer) -> None:
    log = structlog.get_logger("t")
    for n in range(10):
        log.info("tick", n=n)
        if n % 3 == 0:
            log.warning("slow", n=n)
    assert [line.fields["n"] for line in buffer.lines(3)] == [8, 9, 9]
    assert [line.fields["n"] for line in buffer.lines(10, "warning")] == [0, 3, 6, 9]
    assert buffer.lines(5, "error") == []


def test_errors_survive_a_flood_of_chatter_and_are_grouped_by_kind(
    production_logging: None,
) -> None:
    small = LogBuffer(capacity=10, error_capacity=5)
    logging.getLogger().addHandler(small)
    try:
        log = structlog.get_logger("tradedeck.feed")
        log.error("feed_failed", attempt=1)
        try:
            raise RuntimeError("exchange down\nsecond line")
        except RuntimeError:
            log.exception("order_failed", order="ab12")
        log.error("feed_failed", attempt=2)
        for n in range(100):
            log.info("tick", n=n)
    finally:
        small.uninstall()
    assert all(line.event == "tick" for line in small.lines(10))  # pushed out of the lines
    groups = small.errors(LONG_AGO)
    assert [(g.event, g.count) for g in groups] == [("feed_failed", 2), ("order_failed", 1)]
    feed, order = groups
    assert feed.first_at < feed.last_at and feed.last.fields == {"attempt": 2}
    assert order.last.exception == "RuntimeError: exchange down"
    assert small.error_count(LONG_AGO) == 3
    assert small.errors(datetime.now(UTC) + timedelta(seconds=1)) == []


def test_lines_logged_from_other_threads_are_kept(buffer: LogBuffer) -> None:
    workers = [
        threading.Thread(target=lambda n=n: structlog.get_logger("w").info("work", n=n))
        for n in range(20)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(line.fields["n"] for line in buffer.lines(50)) == list(range(20))


def test_request_urls_of_httpx_stay_out_of_the_log(
    buffer: LogBuffer, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("httpx").info('HTTP Request: POST http://h/telegram/webhook/s3cr3t "200"')
    assert "s3cr3t" not in capsys.readouterr().err
    assert buffer.lines(10) == []
