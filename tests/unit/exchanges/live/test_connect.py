"""How the ccxt exchange object is built from the live settings."""

from __future__ import annotations

import subprocess
import sys

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
