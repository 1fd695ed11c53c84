"""The markets shipped inside the package, so paper trading and demos work offline at once.

Everything is read through ``importlib.resources`` from the installed package, never from a
checkout or a shared folder, so a wheel install behaves exactly like a development tree.
Nothing is read at import time; both the catalog and each series are loaded on first use
and then cached (they are immutable, so sharing them is safe).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from tradedeck.domain.candles import TIMEFRAME_SECONDS
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import Market, parse_symbol
from tradedeck.domain.money import to_decimal
from tradedeck.marketdata.loaders import CandleSeries, MarketDataError, load_candles

_PACKAGE: Final = "tradedeck.marketdata"
_DATA_DIR: Final = "data"
_CATALOG_FILE: Final = "markets.json"
_RULE_FIELDS: Final = ("price_tick", "amount_step", "min_amount", "min_notional")


@dataclass(frozen=True, slots=True)
class BundledMarket:
    """A market's trading rules plus where its candles live inside the package.

    The rules stay a plain domain :class:`Market` so exchanges and risk checks take it as is;
    ``file`` is relative to the package's data folder, ``/``-separated on every platform.
    """

    market: Market
    file: str
    timeframe: str

    @property
    def symbol(self) -> str:
        return self.market.symbol


def load_bundled_catalog() -> list[BundledMarket]:
    """All bundled markets in catalog order (a fresh list each call; entries are frozen)."""
    return list(_catalog())


def load_bundled_series(bundled: BundledMarket) -> CandleSeries:
    """The candles of one bundled market, labelled with its symbol and timeframe."""
    return _series(bundled.file, bundled.symbol, bundled.timeframe)


def _data_root() -> Traversable:
    return resources.files(_PACKAGE) / _DATA_DIR


def _resource(relative: str) -> Traversable:
    node = _data_root()
    for part in relative.split("/"):
        node = node / part
    return node


@lru_cache(maxsize=1)
def _catalog() -> tuple[BundledMarket, ...]:
    source = f"{_PACKAGE}/{_DATA_DIR}/{_CATALOG_FILE}"
    try:
        entries = json.loads(_resource(_CATALOG_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MarketDataError(f"{source}: invalid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise MarketDataError(f"{source}: expected a JSON array of markets")
    markets = tuple(_parse_entry(entry, f"{source}: market {k}") for k, entry in enumerate(entries))
    symbols = [m.symbol for m in markets]
    duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
    if duplicates:
        raise MarketDataError(f"{source}: duplicate symbols {', '.join(duplicates)}")
    return markets


def _parse_entry(entry: object, where: str) -> BundledMarket:
    if not isinstance(entry, dict):
        raise MarketDataError(f"{where}: expected an object")
    fields = {name: entry.get(name) for name in ("symbol", "file", "timeframe", *_RULE_FIELDS)}
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if missing:
        raise MarketDataError(f"{where}: missing or empty {', '.join(missing)}")
    text = {name: str(value) for name, value in fields.items()}
    if text["timeframe"] not in TIMEFRAME_SECONDS:
        raise MarketDataError(f"{where}: unknown timeframe {text['timeframe']!r}")
    try:
        base, quote = parse_symbol(text["symbol"])
        rules = {name: _positive(text[name], name) for name in _RULE_FIELDS}
    except InvalidInput as exc:
        raise MarketDataError(f"{where}: {exc.detail}") from None
    market = Market(symbol=f"{base}/{quote}", base=base, quote=quote, **rules)
    return BundledMarket(market=market, file=text["file"], timeframe=text["timeframe"])


def _positive(text: str, field: str) -> Decimal:
    value = to_decimal(text, field)
    if value <= 0:
        raise InvalidInput("invalid_number", f"{field} must be greater than zero")
    return value


@lru_cache(maxsize=32)
def _series(file: str, symbol: str, timeframe: str) -> CandleSeries:
    with resources.as_file(_resource(file)) as path:
        return load_candles(path, symbol=symbol, timeframe=timeframe)
