"""Building the ccxt exchange object: keys, market type, sandbox, and the URL override.

This is the one place that reads the secrets (``SecretStr.get_secret_value``) and the one
place that imports ccxt's exchange classes, both when the client is constructed and not
before: ccxt is an optional extra and tradedeck runs on paper without it.

The URL override exists for the local emulator (tests and demos). For binance it goes
through the emulator's own ``aim_ccxt``, which also keeps ccxt's production error table;
that import happens only when an override is set, so production never loads the emulator.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tradedeck.domain.errors import InvalidInput
from tradedeck.exchanges.ccxt_live import send_gate
from tradedeck.exchanges.ccxt_live.models import MarketKind
from tradedeck.exchanges.ccxt_live.settings import LiveSettings


def exchange_options(settings: LiveSettings) -> dict[str, Any]:
    """ccxt ``options``: the default market type, plus binance's load and query hints."""
    options: dict[str, Any] = {
        "defaultType": "spot" if settings.market_type is MarketKind.SPOT else "swap",
    }
    if settings.exchange == "binance":
        # Load only the markets traded (one exchangeInfo call, not spot+futures+delivery),
        # and allow open orders of every symbol in one call (the watchdog's cancel-all).
        kinds = ["spot"] if settings.market_type is MarketKind.SPOT else ["linear"]
        options["fetchMarkets"] = {"types": kinds}
        if settings.market_type is MarketKind.PERPETUAL:
            options["defaultSubType"] = "linear"
        options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        # Signed requests outside recvWindow are refused (-1021): sync to the server's clock.
        options["adjustForTimeDifference"] = True
    return options


def _aim(exchange: Any, settings: LiveSettings, url: str) -> None:
    if settings.exchange == "binance":
        from tradedeck.exchanges.emulator import aim_ccxt, ccxt_options

        exchange.options.update(
            ccxt_options("spot" if settings.market_type is MarketKind.SPOT else "future")
        )
        exchange.options.update(exchange_options(settings))
        aim_ccxt(exchange, url)
        return
    api = exchange.urls.get("api")
    if isinstance(api, dict):
        exchange.urls["api"] = {name: url for name in api}
    else:
        exchange.urls["api"] = url


def build_exchange(settings: LiveSettings, *, streaming: bool = False) -> Any:
    """A ccxt exchange for ``settings``, rate-limited by ccxt itself: the REST client of
    ``ccxt.async_support``, or with ``streaming`` the websocket one of ``ccxt.pro``, both
    configured alike (options, keys, sandbox, the emulator's URL, ccxt's logging)."""
    if streaming:
        import ccxt.pro as family
    else:
        import ccxt.async_support as family
    exchange_class = getattr(family, settings.exchange, None)
    if exchange_class is None:
        kind = "websocket" if streaming else "REST"
        raise InvalidInput(
            "exchange_not_supported", f"ccxt has no {kind} client for {settings.exchange}"
        )
    config: dict[str, Any] = {"enableRateLimit": True, "options": exchange_options(settings)}
    for name, secret in (
        ("apiKey", settings.api_key),
        ("secret", settings.api_secret),
        ("password", settings.api_password),
    ):
        if secret is not None:
            config[name] = secret.get_secret_value()
    exchange = exchange_class(config)
    # ccxt logs every request with its headers (the API key among them) at DEBUG.
    if exchange.logger.getEffectiveLevel() < logging.INFO:
        exchange.logger.setLevel(logging.INFO)
    if settings.testnet:
        exchange.set_sandbox_mode(True)
    if settings.api_url is not None:
        _aim(exchange, settings, settings.api_url)
    credit_idle_time(exchange)
    send_gate.install(exchange)
    return exchange


def credit_idle_time(exchange: Any) -> None:
    """Let ccxt's rate limiter count the time it sat idle.

    ccxt's leaky bucket refills only while a request waits in it: after a quiet spell the
    next request still pays the previous one's whole cost (binance: 50 ms x weight, about
    10 ms for an order) although the budget was refilled long ago. Before a request finds
    the bucket idle, the idle time is credited, capped at the bucket's capacity, so a
    burst is still spread out exactly as ccxt would and a lone order leaves at once.

    A request that finds the bucket idle and with tokens to spare is let through here, the
    cost taken as ccxt's loop would take it; ccxt's way is a future resolved by a loop task
    of its own, three turns of the event loop for nothing on every lone order.
    """
    throttler = getattr(exchange, "throttler", None)
    if throttler is None:
        return
    original = exchange.throttle
    last = [time.monotonic()]
    leaky = throttler.config.get("algorithm") == "leakyBucket"

    async def throttle(cost: Any = None) -> Any:
        config = throttler.config
        if not throttler.running:
            idle_ms = (time.monotonic() - last[0]) * 1000
            config["tokens"] = min(
                config["tokens"] + idle_ms * config["refillRate"], config["capacity"]
            )
        try:
            if not throttler.running and leaky and not throttler.queue and config["tokens"] >= 0:
                config["tokens"] -= config["cost"] if cost is None else cost
                return None
            return await original(cost)
        finally:
            last[0] = time.monotonic()

    exchange.throttle = throttle
