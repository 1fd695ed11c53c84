"""What the scanner scans: configured markets and timeframes against what the data
allows, and the market list refreshed as new assets appear."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tradedeck.domain.errors import InvalidInput
from tradedeck.notify.events import InProcessBus
from tradedeck.storage.scans import ScanStore
from tradedeck.strategies.registry import StrategyRegistry
from tradedeck.strategies.scanner import ScanConfig, Scanner


def scanner(universe: dict[str, str], config: ScanConfig) -> Scanner:
    store = ScanStore(create_async_engine("sqlite+aiosqlite://"))  # never connected here
    return Scanner(store, StrategyRegistry(), config, lambda: universe, InProcessBus())


def test_defaults_scan_every_market_on_its_own_timeframe_with_the_builtins() -> None:
    found = scanner({"ETH/BTC": "5m", "BTC/USD": "1h"}, ScanConfig())
    assert found.pairs() == [("ETH/BTC", "5m"), ("BTC/USD", "1h")]
    assert set(found.strategy_names) == {
        "sma_cross",
        "rsi_reversion",
        "bollinger_breakout",
        "macd_trend",
    }


def test_timeframes_finer_than_the_data_or_not_a_multiple_are_skipped() -> None:
    found = scanner(
        {"ETH/BTC": "5m", "BTC/USD": "1h", "BTC/USDT": "1m"},
        ScanConfig(timeframes=("3m", "5m", "1h")),
    )
    assert found.pairs() == [
        ("ETH/BTC", "5m"),
        ("ETH/BTC", "1h"),
        ("BTC/USD", "1h"),
        ("BTC/USDT", "3m"),
        ("BTC/USDT", "5m"),
        ("BTC/USDT", "1h"),
    ]


def test_configured_markets_only_and_unknown_ones_ignored() -> None:
    found = scanner({"ETH/BTC": "5m", "LTC/BTC": "5m"}, ScanConfig(markets=("LTC/BTC", "X/Y")))
    assert found.markets() == {"LTC/BTC": "5m"}


def test_refreshing_the_market_list_picks_up_new_assets() -> None:
    universe = {"ETH/BTC": "5m"}
    found = scanner(universe, ScanConfig())
    universe["SOL/BTC"] = "5m"
    assert found.refresh_universe() == ["SOL/BTC"]
    assert ("SOL/BTC", "5m") in found.pairs()
    del universe["ETH/BTC"]
    assert found.refresh_universe() == []
    assert found.markets() == {"SOL/BTC": "5m"}


def test_an_unknown_strategy_is_refused_at_once() -> None:
    with pytest.raises(InvalidInput) as error:
        scanner({"ETH/BTC": "5m"}, ScanConfig(strategies=("nope",)))
    assert error.value.code == "unknown_strategy"
