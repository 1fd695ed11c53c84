"""External signals (TradingView-style webhooks) enter the same trading path as a trader.

The webhook only verifies and enqueues; a worker turns each signal into an order request
(sizing it from a risk percent when asked) and places it through the order manager, so
every risk check applies. Each signal's outcome is stored and can be looked up by id.
A signal that was still queued when the process stopped is expired on the next start,
never executed late: a stale trade signal is worse than a missed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from decimal import Decimal
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradedeck.domain.errors import DomainError, InvalidInput
from tradedeck.domain.money import ZERO, quantize_down
from tradedeck.domain.orders import OrderType, Side
from tradedeck.domain.roles import Actor, Role
from tradedeck.storage.repository import Repository
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.sizing import fixed_fractional
from tradedeck.trading.valuation import Valuator

log = structlog.get_logger(__name__)

SIGNAL_ACTOR = Actor(name="signals", role=Role.TRADER, channel="webhook")


class SignalPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    symbol: str = Field(min_length=3, max_length=40)
    side: Side
    amount: Decimal | None = Field(default=None, gt=0)
    risk_percent: Decimal | None = Field(default=None, gt=0, le=100)
    type: Literal["market", "limit"] = "market"
    price: Decimal | None = Field(default=None, gt=0)
    stop_loss: Decimal | None = Field(default=None, gt=0)
    take_profit: Decimal | None = Field(default=None, gt=0)
    strategy: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_size(self) -> SignalPayload:
        if (self.amount is None) == (self.risk_percent is None):
            raise ValueError("give exactly one of amount or risk_percent")
        if self.type == "limit" and self.price is None:
            raise ValueError("a limit signal needs a price")
        return self


class SignalService:
    def __init__(
        self,
        orders: OrderManager,
        repository: Repository,
        valuator: Valuator,
        *,
        actor: Actor = SIGNAL_ACTOR,
        queue_size: int = 1000,
    ) -> None:
        self._orders = orders
        self._repo = repository
        self._valuator = valuator
        self._actor = actor
        self._queue: asyncio.Queue[tuple[str, SignalPayload]] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._repo.expire_queued_signals("not processed before the last shutdown")
        self._task = asyncio.create_task(self._work(), name="signals")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, payload: SignalPayload, nonce: str, raw: str) -> str | None:
        """Store and enqueue a verified signal; None when the nonce was already used."""
        self._orders.market(payload.symbol)  # unknown symbols are refused at the door
        if self._queue.full():
            raise InvalidInput("signal_queue_full", "too many signals are waiting; retry later")
        signal_id = uuid.uuid4().hex
        if not await self._repo.insert_signal(signal_id, nonce, raw):
            return None
        self._queue.put_nowait((signal_id, payload))
        return signal_id

    async def join(self) -> None:
        """Wait until every queued signal was processed (tests and shutdown)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            signal_id, payload = await self._queue.get()
            try:
                await self._process(signal_id, payload)
            except Exception:
                log.exception("signal_processing_failed", signal_id=signal_id)
                await self._repo.update_signal(signal_id, "failed", reason="internal error")
            finally:
                self._queue.task_done()

    async def _process(self, signal_id: str, payload: SignalPayload) -> None:
        try:
            request = self._to_request(payload)
            order, _ = await self._orders.place(self._actor, request)
        except DomainError as refused:
            log.info("signal_refused", signal_id=signal_id, reason=refused.code)
            await self._repo.update_signal(
                signal_id, "rejected", reason=f"{refused.code}: {refused.detail}"
            )
            return
        await self._repo.update_signal(signal_id, "executed", order_id=order.id)

    def _to_request(self, payload: SignalPayload) -> OrderRequest:
        market = self._orders.market(payload.symbol)
        amount = payload.amount
        if amount is None:
            amount = self._size(payload)
        return OrderRequest(
            symbol=market.symbol,
            side=payload.side,
            type=OrderType(payload.type),
            amount=amount,
            price=payload.price,
            stop_loss=payload.stop_loss,
            take_profit=payload.take_profit,
            source="signal",
        )

    def _size(self, payload: SignalPayload) -> Decimal:
        market = self._orders.market(payload.symbol)
        entry = payload.price or self._orders.exchange.last_price(market.symbol)
        quote_price = self._valuator.price(market.quote)
        if entry is None or not quote_price:
            raise InvalidInput("no_price", f"no price for {market.symbol} to size the signal")
        equity = self._valuator.equity(self._orders.exchange.balances()).total / quote_price
        risk = payload.risk_percent or ZERO
        raw = fixed_fractional(equity, risk, entry, payload.stop_loss)
        amount = quantize_down(raw, market.amount_step)
        if amount <= 0:
            raise InvalidInput("size_too_small", "the risk percent gives an amount below one step")
        return amount
