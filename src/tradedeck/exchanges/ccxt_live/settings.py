"""The live adapter's own settings, cut out of ``Settings`` once at start-up.

The client needs a dozen exchange values and nothing else; a frozen bundle keeps it from
reaching into the whole configuration, lets tests build one directly (the emulator's URL,
no keys for public data), and keeps the secrets as ``SecretStr`` until the one moment the
ccxt client is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr

from tradedeck.config import Settings
from tradedeck.exchanges.ccxt_live.models import MarginMode, MarketKind

PAPER = "paper"


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """Which exchange, which market kind, which keys; secrets stay masked in ``repr``."""

    exchange: str  # a ccxt exchange id: "binance"
    market_type: MarketKind = MarketKind.SPOT
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_password: SecretStr | None = None
    testnet: bool = False
    api_url: str | None = None
    leverage: int = 1
    margin_mode: MarginMode = MarginMode.ISOLATED
    markets_refresh: timedelta = timedelta(hours=24)
    poll_seconds: float = 2.0
    reconcile_seconds: float = 300.0

    @property
    def has_keys(self) -> bool:
        return self.api_key is not None and self.api_secret is not None


def is_live(settings: Settings) -> bool:
    return settings.exchange != PAPER


def live_settings(settings: Settings) -> LiveSettings:
    """The live bundle of validated ``Settings``; refused when they say paper."""
    if not is_live(settings):
        raise ValueError("TRADEDECK_EXCHANGE is paper: there is no live exchange to configure")
    return LiveSettings(
        exchange=settings.exchange,
        market_type=MarketKind(settings.exchange_market_type),
        api_key=settings.exchange_api_key,
        api_secret=settings.exchange_api_secret,
        api_password=settings.exchange_api_password,
        testnet=settings.exchange_testnet,
        api_url=settings.exchange_api_url,
        leverage=settings.exchange_leverage,
        margin_mode=MarginMode(settings.exchange_margin_mode),
        markets_refresh=timedelta(hours=settings.exchange_markets_refresh_hours),
        poll_seconds=settings.exchange_poll_seconds,
        reconcile_seconds=settings.exchange_reconcile_seconds,
    )
