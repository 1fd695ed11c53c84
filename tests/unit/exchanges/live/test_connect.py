"""How the ccxt exchange object is built from the live settings."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from pydantic import SecretStr

from tradedeck.exchanges.ccxt_live.connect import build_exchange
from tradedeck.exchanges.ccxt_live.models import MarketKind
from tradedeck.exchanges.ccxt_live.settings import LiveSettings

KEYS = {"api_key": SecretStr("the-key"), "api_secret": SecretStr("the-secret")}


async def test_spot_binance_with_keys_and_rate_limiting() -> None:
    exchange = build_exchange(LiveSettings(exchange="binance", **KEYS))
    try:
        assert (exchange.apiKey, exchange.secret) == ("the-key", "the-secret")
        assert exchange.enableRateLimit is True
        assert exchange.options["defaultType"] == "spot"
        assert exchange.options["fetchMarkets"]["types"] == ["spot"]
        assert exchange.urls["api"]["private"].startswith("https://api.binance.com")
    finally:
        await exchange.close()


async def test_perpetual_testnet() -> None:
    exchange = build_exchange(
        LiveSettings(exchange="binance", market_type=MarketKind.PERPETUAL, testnet=True, **KEYS)
    )
    try:
        assert exchange.options["defaultType"] == "swap"
        assert exchange.options["fetchMarkets"]["types"] == ["linear"]
        assert "testnet" in exchange.urls["api"]["fapiPrivate"]
    finally:
        await exchange.close()


async def test_url_override_of_another_exchange_replaces_every_rest_base() -> None:
    exchange = build_exchange(LiveSettings(exchange="kraken", api_url="http://127.0.0.1:9"))
    try:
        assert set(exchange.urls["api"].values()) == {"http://127.0.0.1:9"}
        assert exchange.apiKey in (None, "")
    finally:
        await exchange.close()


def test_production_never_imports_the_emulator() -> None:
    probe = (
        "import sys\n"
        "from pydantic import SecretStr\n"
        "from tradedeck.exchanges.ccxt_live import CcxtClient, LiveSettings\n"
        "CcxtClient(LiveSettings(exchange='binance', api_key=SecretStr('k'), "
        "api_secret=SecretStr('s')))\n"
        "print('tradedeck.exchanges.emulator' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


async def test_a_lone_request_passes_the_idle_rate_limiter_at_once_and_pays_its_cost() -> None:
    exchange = build_exchange(LiveSettings(exchange="binance", **KEYS))
    try:
        throttler = exchange.throttler
        await exchange.throttle(1)
        capacity = throttler.config["capacity"]
        assert not throttler.running  # ccxt's queue was never needed
        assert throttler.config["tokens"] <= capacity - 1
    finally:
        await exchange.close()


async def test_a_burst_is_still_spread_out_by_ccxts_bucket() -> None:
    exchange = build_exchange(LiveSettings(exchange="binance", **KEYS))
    try:
        refill_per_ms = exchange.throttler.config["refillRate"]
        started = time.monotonic()
        await asyncio.gather(*(exchange.throttle(1) for _ in range(4)))
        waited_ms = (time.monotonic() - started) * 1000
        # At most a full bucket (one token) and the one that empties it pass at once; the
        # other two each wait for a token to drip back in.
        assert waited_ms >= 0.9 * 2 / refill_per_ms
    finally:
        await exchange.close()
