"""A local Binance emulator (spot and USDⓈ-M futures) that the real ccxt talks to over HTTP.

Tests and demos cannot reach an exchange, so this package serves Binance's own wire format
on loopback: ``aim_ccxt`` points a ``ccxt.binance`` / ``ccxt.binanceusdm`` client at it and
the live adapter runs unchanged, with prices, fills and faults under the test's control.
A ``ccxt.pro`` client is aimed at its user-data streams as well (WebSockets on the port).
"""

from __future__ import annotations

from typing import Any, Literal

from tradedeck.exchanges.emulator.app import (
    BinanceEmulator,
    default_futures_markets,
    default_markets,
)
from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError
from tradedeck.exchanges.emulator.faults import Faults
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_models import FuturesMarket
from tradedeck.exchanges.emulator.spot_models import EmulatorMarket, Kline

Kind = Literal["spot", "future"]

# The ccxt api sections the emulator serves, and the error table ccxt uses for each.
_SECTIONS = {
    "public": ("/api/v3", "spot"),
    "private": ("/api/v3", "spot"),
    "fapiPublic": ("/fapi/v1", "linear"),
    "fapiPublicV2": ("/fapi/v2", "linear"),
    "fapiPublicV3": ("/fapi/v3", "linear"),
    "fapiPrivate": ("/fapi/v1", "linear"),
    "fapiPrivateV2": ("/fapi/v2", "linear"),
    "fapiPrivateV3": ("/fapi/v3", "linear"),
}


def ccxt_urls(base_url: str) -> dict[str, str]:
    """The ``urls["api"]`` entries ccxt's binance classes need, aimed at ``base_url``.

    Only the sections the emulator serves: a call to any other (sapi, dapi, eapi...) fails
    in ccxt with NotSupported instead of reaching the real exchange.
    """
    root = base_url.rstrip("/")
    return {section: root + path for section, (path, _) in _SECTIONS.items()}


def ccxt_ws_urls(base_url: str) -> dict[str, Any]:
    """The ``urls["api"]["ws"]`` entries ccxt.pro's binance class needs for user data.

    Spot subscribes on the WebSocket API (``ws-api.spot``); linear reads a listenKey stream
    at ``<linear>`` with ``/ws`` turned into ``/private/ws``. Public market streams are not
    served, so there are no entries for them: ccxt.pro fails on those rather than reaching
    the real exchange.
    """
    scheme, separator, rest = base_url.rstrip("/").partition("://")
    root = {"http": "ws", "https": "wss"}.get(scheme, scheme) + separator + rest
    return {"linear": root + "/fstream/ws", "ws-api": {"spot": root + "/ws-api/v3"}}


def aim_ccxt(client: Any, base_url: str) -> None:
    """Point a ccxt binance client at the emulator, errors mapped as for binance.com.

    ccxt picks its error table by matching the request URL: ``https://api.binance.com/``
    gets the spot table (-1013 is InvalidOrder, -2010 InsufficientFunds...) and
    ``https://fapi.binance.com/`` the linear one (-2019 InsufficientFunds, -2022
    InvalidOrder...); a loopback URL would match neither and fall back to the generic
    table. The client's URL matcher is replaced by one that gives the emulator's spot and
    futures URLs those same tables, so the exceptions the adapter sees are production's.
    (Errors on a WebSocket match no table, on binance.com as here.)

    A ccxt.pro client (one with WebSocket URLs) gets ``ccxt_ws_urls`` too.
    """
    streaming = "ws" in client.urls.get("api", {})
    client.urls["api"] = ccxt_urls(base_url)
    if streaming:
        client.urls["api"]["ws"] = ccxt_ws_urls(base_url)
    root = base_url.rstrip("/")
    prefixes = sorted({(root + path + "/", table) for path, table in _SECTIONS.values()})

    def exceptions_by_url(url: str | None, exact_or_broad: str) -> dict[str, Any]:
        for prefix, table in prefixes:
            if url is not None and url.startswith(prefix):
                tables: dict[str, Any] = client.exceptions.get(table, {})
                return dict(tables.get(exact_or_broad, {}))
        return {}

    client.get_exceptions_by_url = exceptions_by_url


def ccxt_options(kind: Kind = "spot") -> dict[str, object]:
    """ccxt binance options that keep ``load_markets`` on the endpoints the emulator serves.

    ``fetchMarkets.types`` loads only spot (``/api/v3/exchangeInfo``) or only the linear
    perpetuals (``/fapi/v1/exchangeInfo``); ``fetchMargins`` skips the sapi margin-pair
    calls and ``fetchCurrencies`` the sapi capital config call. ``"future"`` also makes
    linear swaps the default type, for ``ccxt.binance`` (``ccxt.binanceusdm`` already is).
    """
    if kind == "future":
        return {
            "defaultType": "swap",
            "defaultSubType": "linear",
            "fetchMarkets": {"types": ["linear"]},
            "fetchMargins": False,
            "fetchCurrencies": False,
        }
    return {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},
        "fetchMargins": False,
        "fetchCurrencies": False,
    }


__all__ = [
    "BinanceEmulator",
    "BinanceError",
    "EmulatorMarket",
    "Faults",
    "FuturesEngine",
    "FuturesMarket",
    "Kind",
    "Kline",
    "SpotEngine",
    "aim_ccxt",
    "ccxt_options",
    "ccxt_urls",
    "ccxt_ws_urls",
    "default_futures_markets",
    "default_markets",
]
