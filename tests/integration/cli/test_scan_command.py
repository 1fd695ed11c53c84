"""`tradedeck scan` as an operator runs it: a real child process on the database a first
start of the app filled, printing the ranking as a table or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.integration.cli.helpers import cli_env, tradedeck
from tests.integration.scanner.history import MARKETS, clear_candles, store_candles
from tradedeck.services import start_services
from tradedeck.storage.db import make_engine
from tradedeck.storage.scans import ScanStore


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    """A data directory after one start of the app; BTC/USDT then lost its candles but one."""
    data = tmp_path / "data"
    services = await start_services(make_settings(data, markets=MARKETS), start_feed=False)
    try:
        await clear_candles(services.repository, ["BTC/USDT"])
        await store_candles(services.repository, "BTC/USDT", 0, 1)
    finally:
        await services.stop()
    return data


def env(data_dir: Path) -> dict[str, str]:
    return cli_env(data_dir, TRADEDECK_MARKETS=",".join(MARKETS), TRADEDECK_LOG_LEVEL="INFO")


async def test_the_table_ranks_the_markets_and_the_scan_is_stored(data_dir: Path) -> None:
    ran = tradedeck(env(data_dir), "scan")

    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""  # routine log lines stay out of the way, even at INFO
    title, header, *rows = ran.stdout.splitlines()
    assert title.startswith("scan #1 at ") and "4 markets, 1 failed, strong at ±0.5" in title
    assert header.split() == [
        "rank", "symbol", "timeframe", "signal", "score", "strategy", "last", "close", "error"
    ]  # fmt: skip
    cells = [row.split() for row in rows]
    assert [c[0] for c in cells] == ["1", "2", "3", "4"]
    *scanned, failed = cells
    assert failed[1:5] == ["BTC/USDT", "1m", "failed", "-"]
    assert "only 1 closed 1m candles, 30 needed" in rows[-1]
    assert {c[1] for c in scanned} == {"ETH/BTC", "LTC/BTC", "ADA/BTC"}
    for c in scanned:
        assert c[2] == "5m" and c[3] in {"buy", "sell", "none"} and float(c[6]) > 0
    strengths = [abs(float(c[4])) for c in scanned]
    assert strengths == sorted(strengths, reverse=True)

    engine = make_engine(f"sqlite+aiosqlite:///{data_dir / 'tradedeck.db'}")
    try:
        run, results = await ScanStore(engine).latest()
    finally:
        await engine.dispose()
    assert run is not None and (run.id, run.kind, run.markets, run.failures) == (1, "full", 4, 1)
    assert len(results) == 4


def test_json_with_a_market_and_a_timeframe(data_dir: Path) -> None:
    ran = tradedeck(env(data_dir), "scan", "--json", "--market", "eth-btc", "--timeframe", "1h")

    assert ran.returncode == 0, ran.stderr
    document = json.loads(ran.stdout)
    assert document["scan"]["timeframes"] == ["1h"] and document["scan"]["markets"] == 1
    assert document["failures"] == 0
    (result,) = document["results"]
    assert (result["rank"], result["symbol"], result["timeframe"]) == (1, "ETH/BTC", "1h")
    assert result["error"] is None and result["signal"] in {"buy", "sell", "none"}
    assert result["candle_time"].endswith(":00:00+00:00")  # hourly candles, built from 5m
    assert set(result["indicators"]) == {"rsi", "macd_hist", "bb_pct", "atr_pct", "adx"}
    assert -1 <= result["score"] <= 1 and result["last_close"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--market", "DOGE/BTC"], "tradedeck: unknown market DOGE/BTC; known: ETH/BTC, "),
        (["--timeframe", "7m"], "tradedeck: unknown timeframe 7m; known: 1m, "),
        (["--market", "ETH/BTC", "--timeframe", "1m"], "tradedeck: ETH/BTC cannot be scanned"),
    ],
)
def test_bad_options_are_one_line_and_store_nothing(
    data_dir: Path, args: list[str], message: str
) -> None:
    ran = tradedeck(env(data_dir), "scan", *args)

    assert ran.returncode == 2 and ran.stdout == ""
    assert ran.stderr.startswith(message) and len(ran.stderr.splitlines()) == 1, ran.stderr
    listed = tradedeck(env(data_dir), "scan", "--json", "--market", "LTC/BTC")
    assert json.loads(listed.stdout)["scan"]["id"] == 1  # the refused scans stored nothing


def test_a_database_without_candles_says_what_to_do(tmp_path: Path) -> None:
    ran = tradedeck(cli_env(tmp_path / "never-ran", TRADEDECK_MARKETS="ETH/BTC"), "scan")

    assert ran.returncode == 0
    assert "ETH/BTC  5m         failed" in ran.stdout
    assert ran.stderr.strip().endswith("start `tradedeck run` once, it stores market history")
