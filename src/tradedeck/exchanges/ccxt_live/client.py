"""The live exchange as tradedeck sees it: markets, orders, balances and positions through
ccxt's async API, in domain types, with every rule enforced before anything is sent.

One client per process. It owns the ccxt exchange object, the markets it loaded and one
circuit breaker named after the exchange. Reads go through ``GuardedCalls.read``: transient
failures are retried with exponential backoff, and while the exchange is down the last
answer is served from cache. Writes go through the breaker once: while it is open they are
refused with its "temporarily unavailable" at once, since a write that may not happen must
be said so, not queued.

Never doubling an order. A placement that timed out or lost its connection may have been
accepted. So before any second attempt the order is looked up by its client order id
(never from cache); found, it is the answer; not found, it is sent again with the same id,
a bounded number of times with backoff. When even the lookup fails, the order's state is
unknown and the client says exactly that (``Unavailable``, code ``order_state_unknown``),
leaving it to reconciliation rather than guessing. A 429 or a maintenance reply refused the
request before acting, so it is simply retried.

Errors leave as tradedeck's refusals (``errors.to_domain``) with their ccxt cause detached:
a ccxt message can carry the signed request URL, and a traceback would print it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import structlog

from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import DomainError, InvalidInput, NotFound, Unavailable
from tradedeck.domain.orders import OrderType, Side
from tradedeck.exchanges.ccxt_live import convert, rules
from tradedeck.exchanges.ccxt_live.connect import build_exchange
from tradedeck.exchanges.ccxt_live.errors import (
    describe,
    is_already_set,
    is_duplicate,
    is_exchange_error,
    is_not_found,
    is_transient,
    outcome_unknown,
    to_domain,
)
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
from tradedeck.exchanges.ccxt_live.orders import create_order, oco_request, protection_legs
from tradedeck.exchanges.ccxt_live.settings import LiveSettings
from tradedeck.ops.circuit import Cached, CircuitBreaker, GuardedCalls

log = structlog.get_logger(__name__)

T = TypeVar("T")
Raw = dict[str, Any]

OCO_ENDPOINT = "privatePostOrderListOco"  # ccxt's implicit method for binance's orderList/oco
TRADES_PAGE = 1000  # trades per read (binance's most)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard the client tries, and when its breaker opens."""

    attempts: int = 3  # per read, and per lookup of an order
    base_delay: float = 0.2
    max_delay: float = 5.0
    place_attempts: int = 3  # sends of one order whose earlier sends were lost
    failure_threshold: int = 5
    reset_timeout: float = 60.0


class CcxtClient:
    def __init__(
        self,
        settings: LiveSettings,
        *,
        exchange: Any | None = None,
        retry: RetryPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.exchange: Any = exchange if exchange is not None else build_exchange(settings)
        self.retry = retry or RetryPolicy()
        self.breaker = CircuitBreaker(
            settings.exchange,
            failure_threshold=self.retry.failure_threshold,
            reset_timeout=self.retry.reset_timeout,
            is_transient=is_transient,
            clock=monotonic,
        )
        self._calls = GuardedCalls(
            self.breaker,
            attempts=self.retry.attempts,
            base_delay=self.retry.base_delay,
            max_delay=self.retry.max_delay,
            clock=monotonic,
            sleep=sleep,
        )
        self._sleep = sleep
        self._now = now
        # Only to scrub them out of error messages.
        self._secrets = tuple(
            s.get_secret_value()
            for s in (settings.api_key, settings.api_secret, settings.api_password)
            if s is not None
        )
        self._markets: dict[str, LiveMarket] = {}
        self._symbols: dict[str, str] = {}  # ccxt symbol -> tradedeck symbol
        self.markets_loaded_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.settings.exchange

    @property
    def kind(self) -> MarketKind:
        return self.settings.market_type

    async def close(self) -> None:
        await self.exchange.close()

    # -- markets -----------------------------------------------------------------------------

    async def load_markets(self, reload: bool = False) -> dict[str, LiveMarket]:
        """The exchange's tradable markets of our kind, keyed ``BASE/QUOTE``."""
        answer = await self._read("markets", lambda: self.exchange.load_markets(reload))
        mode = int(self.exchange.precisionMode)
        markets: dict[str, LiveMarket] = {}
        for raw in answer.value.values():
            if rules.tradable(raw, self.kind):
                live = rules.live_market(raw, mode, self.kind)
                markets.setdefault(live.market.symbol, live)
        self._markets = markets
        self._symbols = {m.exchange_symbol: s for s, m in markets.items()}
        self.markets_loaded_at = self._now() - timedelta(seconds=answer.age)
        return dict(markets)

    @property
    def markets(self) -> dict[str, LiveMarket]:
        return dict(self._markets)

    def market(self, symbol: str) -> LiveMarket:
        if not self._markets:
            raise Unavailable("markets_not_loaded", f"{self.name} markets are not loaded yet")
        found = self._markets.get(symbol.strip().upper())
        if found is None:
            raise InvalidInput(
                "unknown_symbol", f"{symbol} is not a {self.kind.value} market on {self.name}"
            )
        return found

    async def refresh_if_due(self, now: datetime) -> bool:
        """Reload the markets when ``markets_refresh`` has passed since the last load."""
        loaded = self.markets_loaded_at
        if loaded is not None and now - loaded < self.settings.markets_refresh:
            return False
        await self.load_markets(reload=True)
        return True

    # -- rules -------------------------------------------------------------------------------

    def round_amount(self, symbol: str, amount: Decimal) -> Decimal:
        """Down to the market's amount step: never more than asked."""
        return rules.round_amount(self.market(symbol), amount)

    def round_price(self, symbol: str, price: Decimal, side: Side | None = None) -> Decimal:
        """To the market's tick: nearest, or for a limit order's ``side`` the direction that
        never makes it worse (buy down, sell up)."""
        return rules.round_price(self.market(symbol), price, side)

    def check(self, order: PlaceOrder, reference_price: Decimal | None = None) -> None:
        """Refuse locally what the exchange would refuse (``rules.check_order``)."""
        rules.check_order(self.market(order.symbol), order, reference_price)

    # -- placing -----------------------------------------------------------------------------

    async def place(self, order: PlaceOrder, reference_price: Decimal | None = None) -> RemoteOrder:
        """Send ``order`` once (looked up, never doubled, if its reply is lost).

        A market or stop order is checked against ``reference_price``, or the last price
        when none is given, so its minimum value and trigger side are checked too.
        """
        market = self.market(order.symbol)
        if market.kind is MarketKind.SPOT and order.reduce_only:
            raise InvalidInput("reduce_only_spot", "reduce-only orders exist on perpetuals only")
        needs_reference = order.type is OrderType.MARKET or order.type.needs_stop
        if reference_price is None and needs_reference:
            reference_price = await self.fetch_ticker_price(order.symbol)
        rules.check_order(market, order, reference_price)
        call = create_order(order, market)
        placed = await self._send(
            order.symbol,
            (order.client_order_id,),
            lambda: call.send(self.exchange),
            lambda raw: [self._order(raw)],
        )
        return placed[0]

    async def place_protection(
        self,
        symbol: str,
        amount: Decimal,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
        *,
        position_side: Side = Side.BUY,
    ) -> list[RemoteOrder]:
        """The exits that stay on the exchange after an entry (see ``orders``): an OCO or
        one stop-limit / limit on spot, reduce-only stop and take-profit on a perpetual.

        Client order ids are ``<prefix>-sl`` and ``<prefix>-tp``; ``position_side`` is the
        side of the position protected (BUY = long; spot positions are always long).
        """
        market = self.market(symbol)
        if stop_loss is None and take_profit is None:
            raise InvalidInput("missing_protection", "give a stop loss, a take profit or both")
        if market.kind is MarketKind.SPOT and position_side is not Side.BUY:
            raise InvalidInput("spot_short", f"{symbol} is spot: there is no short to protect")
        exit_side = position_side.opposite
        reference = await self.fetch_ticker_price(symbol)
        rules.check_protection(market, exit_side, stop_loss, take_profit, reference)
        legs = protection_legs(
            market, amount, stop_loss, take_profit, client_order_id_prefix, exit_side
        )
        for leg in legs:
            rules.check_order(market, leg, reference)
        if market.kind is MarketKind.SPOT and len(legs) == 2:
            return await self._place_oco(market, legs[0], legs[1], client_order_id_prefix)
        placed: list[RemoteOrder] = []
        for leg in legs:
            try:
                placed.append(await self.place(leg, reference))
            except DomainError:
                if placed:
                    log.warning(
                        "protection_partial",
                        exchange=self.name,
                        symbol=symbol,
                        placed=[p.client_order_id for p in placed],
                        failed=leg.client_order_id,
                    )
                raise
        return placed

    async def _place_oco(
        self, market: LiveMarket, stop: PlaceOrder, target: PlaceOrder, prefix: str
    ) -> list[RemoteOrder]:
        endpoint = getattr(self.exchange, OCO_ENDPOINT, None)
        if endpoint is None:
            raise InvalidInput(
                "oco_not_supported",
                f"{self.name} has no OCO orders: give either a stop loss or a take profit",
            )
        request = oco_request(market, stop, target, prefix)
        ccxt_market = self.exchange.market(market.exchange_symbol)

        def parse(raw: Raw) -> list[RemoteOrder]:
            reports = raw.get("orderReports") or []
            return [self._order(self.exchange.parse_order(r, ccxt_market)) for r in reports]

        return await self._send(
            market.market.symbol,
            (stop.client_order_id, target.client_order_id),
            lambda: endpoint(request),
            parse,
        )

    async def _send(
        self,
        symbol: str,
        client_order_ids: Sequence[str],
        send: Callable[[], Awaitable[Raw]],
        parse: Callable[[Raw], list[RemoteOrder]],
    ) -> list[RemoteOrder]:
        """Send once; on a lost reply look the orders up before sending again."""
        delay = self.retry.base_delay
        unknown = False
        last: BaseException | None = None
        for attempt in range(1, self.retry.place_attempts + 1):
            try:
                return parse(await self.breaker.call(send))
            except Unavailable as refusal:
                raise _detached(refusal) from None
            except Exception as error:
                if not is_exchange_error(error):
                    raise
                last = error
                if is_duplicate(error):
                    found = await self._look_up(symbol, client_order_ids)
                    if found:
                        return found
                if not is_transient(error):
                    raise self._domain(error) from None
                unknown = outcome_unknown(error)
                log.warning(
                    "order_send_failed",
                    exchange=self.name,
                    symbol=symbol,
                    client_order_ids=list(client_order_ids),
                    attempt=attempt,
                    outcome_unknown=unknown,
                    **describe(error, self._secrets),
                )
            if unknown or attempt < self.retry.place_attempts:
                await self._sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)
            if unknown:
                found = await self._look_up(symbol, client_order_ids)
                if found:
                    return found
        ids = ", ".join(client_order_ids)
        if unknown:
            raise Unavailable(
                "order_state_unknown",
                f"{self.name} did not confirm order {ids} on {symbol} after "
                f"{self.retry.place_attempts} attempts; its state is unknown and "
                "reconciliation will settle it",
            )
        reason = to_domain(last, self.name, self._secrets).detail if last else "no answer"
        raise Unavailable(
            "exchange_unavailable", f"order {ids} on {symbol} was not placed: {reason}"
        )

    async def _look_up(self, symbol: str, client_order_ids: Sequence[str]) -> list[RemoteOrder]:
        """The orders with these client ids, read fresh; failing that, the state is unknown."""
        market = self.market(symbol)
        found: list[RemoteOrder] = []
        for client_order_id in client_order_ids:
            try:
                raw = await self._fresh(partial(self._find, market, client_order_id))
            except Unavailable as error:
                log.warning(
                    "order_lookup_failed",
                    exchange=self.name,
                    symbol=symbol,
                    client_order_id=client_order_id,
                    reason=error.detail,
                )
                raise Unavailable(
                    "order_state_unknown",
                    f"{self.name} lost the reply to order {client_order_id} on {symbol} and "
                    "cannot be asked about it now; its state is unknown and reconciliation "
                    "will settle it",
                ) from None
            if raw is not None:
                found.append(self._order(raw))
        return found

    async def _find(self, market: LiveMarket, client_order_id: str) -> Raw | None:
        """An order by client id, trigger orders included (binance keeps a perpetual's
        trigger orders apart, in its algo-order API); None when the exchange has none."""
        variants: list[dict[str, Any]] = [{}]
        if market.kind is MarketKind.PERPETUAL:
            variants.append({"trigger": True})
        for extra in variants:
            params = {"clientOrderId": client_order_id, **extra}
            try:
                raw: Raw = await self.exchange.fetch_order(None, market.exchange_symbol, params)
            except Exception as error:
                if not is_not_found(error):
                    raise
                continue
            return raw
        return None

    # -- canceling ---------------------------------------------------------------------------

    async def cancel(self, symbol: str, client_order_id: str) -> RemoteOrder:
        """Cancel an order; one that already ended comes back in its final state."""
        market = self.market(symbol)
        raw = await self._write(lambda: self._cancel(market, client_order_id=client_order_id))
        if raw is None:
            raise NotFound(
                "order_not_found", f"{self.name} has no order {client_order_id} on {symbol}"
            )
        return self._order(raw)

    async def cancel_all(self, symbol: str | None = None) -> list[RemoteOrder]:
        """Cancel every open order (of ``symbol``, or all): only reads and cancels, so it
        works with cancel-only keys. Every order is tried; the first failure is raised
        after the others were canceled."""
        open_orders = await self._fresh(lambda: self._open(symbol))
        canceled: list[RemoteOrder] = []
        failures: list[DomainError] = []
        for raw in open_orders:
            order = self._order(raw)
            market = self.market(order.symbol)
            try:
                result = await self._write(
                    partial(
                        self._cancel,
                        market,
                        client_order_id=order.client_order_id,
                        order_id=order.exchange_order_id,
                        trigger=order.stop_price is not None,
                    )
                )
            except DomainError as error:
                failures.append(error)
                log.warning(
                    "cancel_failed",
                    exchange=self.name,
                    order=order.exchange_order_id,
                    code=error.code,
                    reason=error.detail,
                )
                continue
            if result is not None:
                canceled.append(self._order(result))
        if failures:
            raise failures[0]
        return canceled

    async def _cancel(
        self,
        market: LiveMarket,
        *,
        client_order_id: str | None = None,
        order_id: str | None = None,
        trigger: bool | None = None,
    ) -> Raw | None:
        """Cancel by client id (or exchange id); when the exchange no longer has it open,
        its final state, or None when it never had it.

        Some cancel replies are only an acknowledgement (binance's algo orders answer with
        their ids and "success"): the order is then read back for its final state.
        """
        if market.kind is MarketKind.SPOT:
            kinds: tuple[bool, ...] = (False,)
        elif trigger is None:
            kinds = (False, True)  # not known: a regular order, else a trigger order
        else:
            kinds = (trigger,)
        by = {"clientOrderId": client_order_id} if client_order_id else {}
        for conditional in kinds:
            params = {**by, "trigger": True} if conditional else dict(by)
            try:
                raw: Raw = await self.exchange.cancel_order(
                    None if client_order_id else order_id, market.exchange_symbol, params
                )
            except Exception as error:
                if not is_not_found(error):
                    raise
                continue
            if raw.get("side") and raw.get("amount") is not None:
                return raw
            client_order_id = client_order_id or raw.get("clientOrderId")
            break
        if client_order_id is None:
            return None
        return await self._find(market, client_order_id)

    # -- reading -----------------------------------------------------------------------------

    async def fetch_order(self, symbol: str, client_order_id: str) -> RemoteOrder | None:
        """The order's current state, read fresh (an order's state is never served from
        cache: a stale one would hide its fills); None when the exchange has no such order."""
        market = self.market(symbol)
        raw = await self._fresh(lambda: self._find(market, client_order_id))
        return None if raw is None else self._order(raw)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[RemoteOrder]:
        return (await self._open_orders(symbol)).value

    async def _open_orders(self, symbol: str | None) -> Cached[list[RemoteOrder]]:
        answer = await self._read(f"open_orders:{symbol or '*'}", lambda: self._open(symbol))
        return Cached([self._order(raw) for raw in answer.value], answer.age)

    async def _open(self, symbol: str | None) -> list[Raw]:
        exchange_symbol = self.market(symbol).exchange_symbol if symbol else None
        orders: list[Raw] = list(await self.exchange.fetch_open_orders(exchange_symbol))
        if self.kind is MarketKind.PERPETUAL:
            triggers = await self.exchange.fetch_open_orders(
                exchange_symbol, None, None, {"trigger": True}
            )
            orders.extend(triggers)
        return orders

    async def fetch_trades(self, symbol: str, since: datetime | None = None) -> list[RemoteTrade]:
        """Our executions on ``symbol`` since ``since`` (the exchange's latest page)."""
        market = self.market(symbol)
        since_ms = convert.ms_from_utc(since) if since is not None else None
        answer = await self._read(
            f"trades:{symbol}",
            lambda: self.exchange.fetch_my_trades(market.exchange_symbol, since_ms),
        )
        trades = [convert.remote_trade(t, market.market.symbol) for t in answer.value]
        return [t for t in trades if since is None or t.timestamp >= since]

    async def fetch_order_history(
        self, symbol: str, since: datetime, limit: int
    ) -> list[RemoteOrder]:
        """Orders of every status created on ``symbol`` from ``since`` on, oldest first, at
        most ``limit`` (one request): where reconciliation finds finished orders of ours
        that were never recorded. Read fresh: a cached page would let the look-back move
        past orders it never showed. Empty where the exchange keeps no order history."""
        market = self.market(symbol)
        since_ms = convert.ms_from_utc(since)
        if self.exchange.has.get("fetchOrders"):
            fetch = self.exchange.fetch_orders
        elif self.exchange.has.get("fetchClosedOrders"):
            fetch = self.exchange.fetch_closed_orders
        else:
            return []
        raws: list[Raw] = await self._fresh(lambda: fetch(market.exchange_symbol, since_ms, limit))
        orders = [self._order(raw) for raw in raws]
        return sorted(orders, key=lambda o: (o.created_at or o.updated_at, o.exchange_order_id))

    async def fetch_trade_history(
        self, symbol: str, since: datetime, limit: int = TRADES_PAGE
    ) -> list[RemoteTrade]:
        """Our executions on ``symbol`` from ``since`` on (one request, read fresh): the
        prices and fees of orders rebuilt from the order history."""
        market = self.market(symbol)
        since_ms = convert.ms_from_utc(since)
        raws: list[Raw] = await self._fresh(
            lambda: self.exchange.fetch_my_trades(market.exchange_symbol, since_ms, limit)
        )
        trades = [convert.remote_trade(t, market.market.symbol) for t in raws]
        return [t for t in trades if t.timestamp >= since]

    async def fetch_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, used) per asset; assets holding nothing are left out."""
        return (await self._balances()).value

    async def _balances(self) -> Cached[dict[str, tuple[Decimal, Decimal]]]:
        answer = await self._read("balances", lambda: self.exchange.fetch_balance())
        return Cached(convert.balances(answer.value), answer.age)

    async def fetch_positions(self) -> list[FuturesPosition]:
        """Open perpetual positions (never any on spot)."""
        return (await self._positions()).value

    async def _positions(self) -> Cached[list[FuturesPosition]]:
        if self.kind is MarketKind.SPOT:
            return Cached([], 0.0)
        answer = await self._read("positions", self._open_positions)
        positions = (
            convert.futures_position(raw, self._symbol(raw.get("symbol"))) for raw in answer.value
        )
        return Cached([p for p in positions if p is not None], answer.age)

    async def _open_positions(self) -> list[Raw]:
        """Non-flat positions; binance's v3 position risk leaves out the leverage, so it
        is read from the symbols' settings when missing."""
        positions: list[Raw] = [
            p for p in await self.exchange.fetch_positions() if convert.number(p.get("contracts"))
        ]
        missing = [p["symbol"] for p in positions if p.get("leverage") is None]
        if not missing or not self.exchange.has.get("fetchLeverages"):
            return positions
        leverages = await self.exchange.fetch_leverages(missing)
        completed: list[Raw] = []
        for position in positions:
            setting = leverages.get(position["symbol"]) or {}
            leverage = setting.get("longLeverage") or setting.get("shortLeverage")
            if position.get("leverage") is None and leverage is not None:
                position = {**position, "leverage": leverage}
            completed.append(position)
        return completed

    async def snapshot(self) -> AccountSnapshot:
        """Open orders, balances and positions together; ``taken_at`` is when the oldest of
        them was fresh (earlier than now while the exchange is down and reads are cached)."""
        orders, balances, positions = await asyncio.gather(
            self._open_orders(None), self._balances(), self._positions()
        )
        age = max(orders.age, balances.age, positions.age)
        return AccountSnapshot(
            taken_at=self._now() - timedelta(seconds=age),
            open_orders=tuple(orders.value),
            balances=balances.value,
            positions=tuple(positions.value),
        )

    async def fetch_ticker_price(self, symbol: str) -> Decimal | None:
        """The last trade price (public data), or None when the exchange reports none."""
        market = self.market(symbol)
        answer = await self._read(
            f"ticker:{market.market.symbol}",
            lambda: self.exchange.fetch_ticker(market.exchange_symbol),
        )
        return convert.positive(answer.value.get("last")) or convert.positive(
            answer.value.get("close")
        )

    async def fetch_candles(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        """OHLCV candles (public data, no keys needed), oldest first."""
        market = self.market(symbol)
        since_ms = convert.ms_from_utc(since) if since is not None else None
        answer = await self._read(
            f"candles:{market.market.symbol}:{timeframe}",
            lambda: self.exchange.fetch_ohlcv(market.exchange_symbol, timeframe, since_ms, limit),
        )
        candles = [convert.candle(row, market.market.symbol, timeframe) for row in answer.value]
        if since is not None:
            candles = [c for c in candles if c.opened_at >= since]
        return candles[-limit:] if since is None else candles[:limit]

    # -- perpetual settings ------------------------------------------------------------------

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        market = self._perpetual(symbol)
        if not 1 <= leverage <= 125:
            raise InvalidInput("invalid_leverage", "leverage must be between 1 and 125")
        await self._write(
            lambda: _unless_set(self.exchange.set_leverage(leverage, market.exchange_symbol))
        )

    async def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """Isolated or cross; a mode already in effect is not an error."""
        market = self._perpetual(symbol)
        await self._write(
            lambda: _unless_set(self.exchange.set_margin_mode(mode.value, market.exchange_symbol))
        )

    async def configure(self, symbol: str) -> None:
        """The margin mode and leverage of the settings, applied to a perpetual market."""
        await self.set_margin_mode(symbol, self.settings.margin_mode)
        await self.set_leverage(symbol, self.settings.leverage)

    def _perpetual(self, symbol: str) -> LiveMarket:
        market = self.market(symbol)
        if market.kind is not MarketKind.PERPETUAL:
            raise InvalidInput(
                "not_perpetual", f"{symbol} is a spot market: it has no leverage or margin mode"
            )
        return market

    # -- plumbing ----------------------------------------------------------------------------

    def _symbol(self, exchange_symbol: Any) -> str:
        return self._symbols.get(str(exchange_symbol), str(exchange_symbol))

    def _order(self, raw: Raw) -> RemoteOrder:
        return convert.remote_order(raw, self._symbol(raw.get("symbol")), self._now())

    def _domain(self, error: BaseException) -> DomainError:
        refusal = to_domain(error, self.name, self._secrets)
        log.warning(
            "exchange_refused",
            exchange=self.name,
            code=refusal.code,
            **describe(error, self._secrets),
        )
        return refusal

    async def _read(self, key: str, call: Callable[[], Awaitable[T]]) -> Cached[T]:
        try:
            return await self._calls.read(key, call)
        except Unavailable as refusal:
            raise _detached(refusal) from None
        except Exception as error:
            if not is_exchange_error(error):
                raise
            raise self._domain(error) from None

    async def _write(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self._calls.write(call)
        except Unavailable as refusal:
            raise _detached(refusal) from None
        except Exception as error:
            if not is_exchange_error(error):
                raise
            raise self._domain(error) from None

    async def _fresh(self, call: Callable[[], Awaitable[T]]) -> T:
        """A read retried like ``GuardedCalls.read`` but never answered from cache."""
        delay = self.retry.base_delay
        attempt = 1
        while True:
            try:
                return await self.breaker.call(call)
            except Unavailable as refusal:
                raise _detached(refusal) from None
            except Exception as error:
                if not is_exchange_error(error):
                    raise
                if not is_transient(error) or attempt >= self.retry.attempts:
                    raise self._domain(error) from None
            await self._sleep(delay)
            delay = min(delay * 2, self.retry.max_delay)
            attempt += 1


async def _unless_set(change: Awaitable[Any]) -> None:
    """Await a settings change; "already so" (ccxt's NoChange) is success."""
    try:
        await change
    except Exception as error:
        if not is_already_set(error):
            raise


def _detached(error: Unavailable) -> Unavailable:
    """The breaker's refusal without the ccxt error it was raised from."""
    error.__cause__ = None
    error.__suppress_context__ = True
    return error
