"""What the emulator's engines announce as an account changes, for its user-data streams.

Why announcements, not snapshots. Binance pushes one message per change (an order
accepted, one fill, a cancel, a balance moving), and a client that follows the stream
must see each of them in order, a partial fill included. So the engines say what just
happened, at the moment it happens, to one observer; the stream layer (``ws_stream``)
turns each announcement into Binance's message for every connected stream. An engine
nobody observes announces to ``unobserved`` and works exactly as before.

The records hold the engine's live objects: an observer must read them at once (the
order moves on with the next fill).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tradedeck.exchanges.emulator.futures_models import AlgoOrder, FuturesOrder, FuturesTrade
from tradedeck.exchanges.emulator.spot_models import EmulatorOrder, Trade


@dataclass(frozen=True, slots=True)
class SpotOrderChanged:
    """``execution`` is Binance's execution type: NEW, TRADE (with ``trade``), CANCELED or
    EXPIRED."""

    order: EmulatorOrder
    execution: str
    trade: Trade | None = None


@dataclass(frozen=True, slots=True)
class BalancesChanged:
    """Free or locked funds of these spot assets moved (an order locked, filled or ended)."""

    assets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Deposited:
    asset: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class FuturesOrderChanged:
    order: FuturesOrder
    execution: str
    trade: FuturesTrade | None = None


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """The USDⓈ-M wallet moved; ``symbol`` names the position that moved with it (a fill),
    None for a deposit, whose amount is ``balance_change``. ``reason`` is Binance's: ORDER
    or DEPOSIT."""

    reason: str
    symbol: str | None = None
    balance_change: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class AlgoChanged:
    """A conditional order was placed, triggered, finished, canceled or expired."""

    algo: AlgoOrder


SpotEvent = SpotOrderChanged | BalancesChanged | Deposited
FuturesEvent = FuturesOrderChanged | AccountChanged | AlgoChanged
SpotObserver = Callable[[SpotEvent], None]
FuturesObserver = Callable[[FuturesEvent], None]


def unobserved(event: SpotEvent | FuturesEvent) -> None:
    """The observer of an engine without streams: announcements go nowhere."""
