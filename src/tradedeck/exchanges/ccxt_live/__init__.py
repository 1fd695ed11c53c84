"""Live trading through ccxt: the client that talks to a real exchange in domain terms.

tradedeck paper-trades by default; with ``TRADEDECK_EXCHANGE`` set to a ccxt exchange id
this package is what reaches the exchange. Importing it does not import ccxt (an optional
extra): that happens when a ``CcxtClient`` is built or an exchange error is examined.
"""

from __future__ import annotations

from tradedeck.exchanges.ccxt_live.client import CcxtClient, RetryPolicy
from tradedeck.exchanges.ccxt_live.errors import ExchangeAuthFailed
from tradedeck.exchanges.ccxt_live.models import (
    AccountSnapshot,
    FuturesPosition,
    LiveMarket,
    MarginMode,
    MarketKind,
    PlaceOrder,
    RemoteOrder,
    RemoteTrade,
)
from tradedeck.exchanges.ccxt_live.orders import STOP_LIMIT_OFFSET
from tradedeck.exchanges.ccxt_live.settings import LiveSettings, is_live, live_settings

__all__ = [
    "STOP_LIMIT_OFFSET",
    "AccountSnapshot",
    "CcxtClient",
    "ExchangeAuthFailed",
    "FuturesPosition",
    "LiveMarket",
    "LiveSettings",
    "MarginMode",
    "MarketKind",
    "PlaceOrder",
    "RemoteOrder",
    "RemoteTrade",
    "RetryPolicy",
    "is_live",
    "live_settings",
]
