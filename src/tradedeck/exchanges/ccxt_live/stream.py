"""The exchange's own order updates (ccxt.pro's ``watch_orders``), as tradedeck's orders.

Why a stream beside the polling. Polling sees an order's fills one poll late and costs
request weight for every open order; the exchange pushes each change the moment it
happens. The stream is an accelerator, not the truth: a socket can drop, and what
happened while it was down is not replayed, so REST polling and reconciliation stay the
fallback that catches anything the stream missed.

Why a reader task. ccxt resolves ``watch_orders`` only when a message arrives after the
call; a change that lands while nobody is waiting sits in ccxt's cache until the next
one. So one task keeps a watch armed at all times and converts each batch at once (ccxt
updates its cached order dicts in place), and ``updates`` hands out what it queued.

Reconnecting. Any failure of the watch (the socket dropped, the exchange is down, a
reply it could not read) is logged and retried with exponential backoff, and never
reaches the consumer, except a refusal of the credentials: that ends the stream with
``ExchangeAuthFailed``, as it stops every other call. Before a retry a listen key is kept
alive once (binance's futures stream rides on one): a key the exchange no longer honours
is then dropped, so the retry asks for a new one and a revoked API key shows as refused
instead of as a stream that never reconnects. ccxt reports a refused spot subscription
from inside its own cleanup (a ``KeyError`` raised while handling the refusal), so the
refusal is looked for along the exception's chain.

Orders read the same as through ``CcxtClient``: the same converters, the same symbols
(``BTC/USDT`` for ccxt's ``BTC/USDT:USDT``), trades and fees as the stream reported them.
A binance futures trigger order is reported by its algo record until it fires; from then
on the order it placed (same client order id) reports the fills, so the algo record's
TRIGGERED/FINISHED updates, which ccxt reads as "closed" with nothing filled, are left out
(``CcxtClient`` reads the placed order then too).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import InvalidOperation
from typing import Any

import structlog

from tradedeck.domain.errors import DomainError, InvalidInput
from tradedeck.exchanges.ccxt_live import convert, rules
from tradedeck.exchanges.ccxt_live.connect import build_exchange
from tradedeck.exchanges.ccxt_live.errors import credentials_refused, describe, to_domain
from tradedeck.exchanges.ccxt_live.models import RemoteOrder
from tradedeck.exchanges.ccxt_live.settings import LiveSettings

log = structlog.get_logger(__name__)

_UNREADABLE = (KeyError, TypeError, ValueError, InvalidOperation)
_FIRED = ("TRIGGERED", "FINISHED")  # binance's statuses of an algo order that placed its order


class OrderStream:
    """Order updates of the account ``settings`` name, for one consumer.

    Iterate ``updates()``; ``close()`` ends the iteration and releases the connection.
    """

    def __init__(
        self,
        settings: LiveSettings,
        *,
        exchange: Any | None = None,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not settings.has_keys:
            raise InvalidInput("missing_credentials", "order updates need the API key and secret")
        self.settings = settings
        self.exchange: Any = (
            exchange if exchange is not None else build_exchange(settings, streaming=True)
        )
        if not self.exchange.has.get("watchOrders"):
            raise InvalidInput(
                "stream_not_supported", f"{settings.exchange} has no order updates stream in ccxt"
            )
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._now = now
        # Only to scrub them out of what is logged.
        self._secrets = tuple(
            s.get_secret_value()
            for s in (settings.api_key, settings.api_secret, settings.api_password)
            if s is not None
        )
        self._symbols: dict[str, str] = {}  # ccxt symbol -> tradedeck symbol
        self._queue: asyncio.Queue[RemoteOrder | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._failure: DomainError | None = None
        self._closed = False

    @property
    def name(self) -> str:
        return self.settings.exchange

    async def updates(self) -> AsyncIterator[RemoteOrder]:
        """Each order's new state as the exchange reports it, in order, from the moment the
        stream is subscribed (the first call starts it); reconnects by itself.

        Raises ``ExchangeAuthFailed`` when the exchange refuses the credentials; ends after
        ``close``.
        """
        if self._reader is None and not self._closed:
            self._reader = asyncio.create_task(self._read(), name=f"{self.name}-order-stream")
            self._reader.add_done_callback(lambda _: self._queue.put_nowait(None))
        while True:
            if self._queue.empty() and self._over():
                return
            order = await self._queue.get()
            if order is not None:
                yield order

    def _over(self) -> bool:
        """True once closed; raises what ended the reader, if something did."""
        if self._failure is not None:
            raise self._failure
        if self._closed:
            return True
        if self._reader is not None and self._reader.done() and not self._reader.cancelled():
            self._reader.result()  # a crash of the reader itself reaches the consumer
        return False

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        self._queue.put_nowait(None)
        await self.exchange.close()

    async def _read(self) -> None:
        delay = self._base_delay
        retrying = False
        while True:
            try:
                if not self._symbols:
                    await self._load_symbols()
                if retrying:
                    await self._renew_listen_key()
                batch = await self.exchange.watch_orders()
            except Exception as error:
                refused = _refusal(error)
                if refused is not None:
                    self._failure = to_domain(refused, self.name, self._secrets)
                    log.warning(
                        "order_stream_refused",
                        exchange=self.name,
                        **describe(refused, self._secrets),
                    )
                    return
                log.warning(
                    "order_stream_interrupted",
                    exchange=self.name,
                    retry_in=delay,
                    **describe(error, self._secrets),
                )
                await self._sleep(delay)
                delay = min(delay * 2, self._max_delay)
                retrying = True
                continue
            delay = self._base_delay
            retrying = False
            for raw in batch:
                self._deliver(raw)

    def _deliver(self, raw: dict[str, Any]) -> None:
        if _fired_trigger(raw):
            return
        symbol = self._symbols.get(str(raw.get("symbol")), str(raw.get("symbol")))
        try:
            order = convert.remote_order(raw, symbol, self._now())
        except _UNREADABLE as error:
            log.warning(
                "order_update_unreadable",
                exchange=self.name,
                order=raw.get("id"),
                **describe(error, self._secrets),
            )
            return
        self._queue.put_nowait(order)

    async def _load_symbols(self) -> None:
        markets = await self.exchange.load_markets()
        mode = int(self.exchange.precisionMode)
        kind = self.settings.market_type
        self._symbols = {
            str(raw["symbol"]): rules.live_market(raw, mode, kind).market.symbol
            for raw in markets.values()
            if rules.tradable(raw, kind)
        }

    async def _renew_listen_key(self) -> None:
        keep_alive = getattr(self.exchange, "keep_alive_listen_key", None)
        if keep_alive is not None:
            await keep_alive()


def _fired_trigger(raw: dict[str, Any]) -> bool:
    """A binance algo order's update after it fired (``aid``: the algo id, ``X``: its status)."""
    info = raw.get("info") or {}
    return "aid" in info and info.get("X") in _FIRED


def _refusal(error: BaseException) -> BaseException | None:
    """The credentials refusal behind ``error`` (itself, or along its chain), if any."""
    import ccxt

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ccxt.AuthenticationError) or credentials_refused(current):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
