"""A local Binance spot REST emulator that the real ccxt client talks to over HTTP.

Tests and demos cannot reach an exchange, so this package serves Binance's own wire format
on loopback: point ``ccxt.binance``'s ``urls["api"]`` at it (``ccxt_urls``) and the live
adapter runs unchanged, with prices, fills and faults under the test's control.
"""

from __future__ import annotations

from typing import Any

from tradedeck.exchanges.emulator.app import BinanceEmulator, Faults, default_markets
from tradedeck.exchanges.emulator.engine import BinanceError, EmulatorMarket, Kline, SpotEngine


def ccxt_urls(base_url: str) -> dict[str, str]:
    """The ``urls["api"]`` entries ccxt's binance class needs for spot, aimed at ``base_url``."""
    api = base_url.rstrip("/") + "/api/v3"
    return {"public": api, "private": api}


def aim_ccxt(client: Any, base_url: str) -> None:
    """Point a ``ccxt.binance`` client at the emulator, errors mapped as for api.binance.com.

    ccxt picks its spot error table (-1013 is InvalidOrder, -2010 InsufficientFunds...) by
    matching the request URL against ``https://api.binance.com/``; a loopback URL would fall
    back to the generic table (-1013 becomes BadRequest). Overlaying the spot table keeps
    the exceptions the adapter sees identical to production.
    """
    client.urls["api"] = ccxt_urls(base_url)
    spot = client.exceptions.get("spot", {})
    for kind in ("exact", "broad"):
        client.exceptions[kind] = {**client.exceptions[kind], **spot.get(kind, {})}


def ccxt_options() -> dict[str, object]:
    """ccxt binance options that keep ``load_markets`` on the spot endpoints the emulator serves.

    ``fetchMarkets.types`` skips the futures/options exchangeInfo calls, ``fetchMargins``
    the sapi margin-pair calls and ``fetchCurrencies`` the sapi capital config call.
    """
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
    "Kline",
    "SpotEngine",
    "aim_ccxt",
    "ccxt_options",
    "ccxt_urls",
    "default_markets",
]
