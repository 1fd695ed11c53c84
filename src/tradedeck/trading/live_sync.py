"""Keeping tradedeck's picture of a live exchange true, since the exchange is the truth.

Orders fill, get canceled in the exchange's own UI, or are placed by a process that then
died; none of that reaches us unasked. Two loops ask. A quick poll every few seconds looks
up each order we hold open (a resting limit order that filled becomes a fill and a moved
position before the next signal is judged). A full reconciliation (on start, after the
exchange comes back from an outage, and every few minutes) re-reads open orders, balances
and positions, applies every difference through the order manager (stored, positions moved,
events sent) and tells the admins about the ones that matter. Nothing is resumed from
cached state: after an outage the first thing done is a full read.

It also searches each traded market's recent order history for orders of ours that filled
while their database write failed (or the process died before it): those are missing from
every other read once finished, and are rebuilt with their fills like any other difference.

Bad keys stop trading: the exchange refusing our credentials trips the kill switch (which
tells the admins) instead of failing every order one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from tradedeck.domain.errors import DomainError, Unavailable
from tradedeck.domain.orders import Order, OrderRole, OrderStatus
from tradedeck.domain.roles import Actor, Permission
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.ccxt_live.models import RemoteOrder, RemoteTrade
from tradedeck.exchanges.live import LiveExchange
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.trading.order_manager import EXCHANGE_AUTH_FAILED, OrderManager
from tradedeck.trading.reconcile import (
    HistoryWindow,
    Reconciliation,
    needs_lookup,
    reconcile,
    summary,
    unrecorded,
)
from tradedeck.trading.reconcile.history import HISTORY_PAGE, created
from tradedeck.trading.reconcile.model import Difference, DifferenceKind

log = structlog.get_logger(__name__)

Halt = Callable[[str], Awaitable[None]]
Stored = Callable[[str], Awaitable[Order | None]]


@dataclass(slots=True)
class _HistoryRead:
    """What one reconciliation found in the order histories, kept only once it is stored."""

    now: datetime
    finished: list[RemoteOrder] = field(default_factory=list)
    read_until: dict[str, datetime] = field(default_factory=dict)


class LiveSync:
    def __init__(
        self,
        orders: OrderManager,
        live: LiveExchange,
        bus: EventBus,
        halt: Halt,
        *,
        poll_seconds: float = 2.0,
        reconcile_seconds: float = 300.0,
        markets_refresh_seconds: float = 86_400.0,
        stored: Stored | None = None,
        stream: Callable[[], AsyncIterator[RemoteOrder]] | None = None,
        markets: Callable[[], Iterable[str]] | None = None,
        history: HistoryWindow | None = None,
    ) -> None:
        self._orders = orders
        self._live = live
        self._bus = bus
        self._halt = halt
        self._poll_seconds = poll_seconds
        self._reconcile_seconds = reconcile_seconds
        self._markets_refresh_seconds = markets_refresh_seconds
        self._task: asyncio.Task[None] | None = None
        self._stored = stored  # an order as the database holds it, by id
        self._stream = stream  # the exchange's order updates, where ccxt has them
        self._listener: asyncio.Task[None] | None = None
        # The markets whose order history is searched (default: those given to
        # ``LiveExchange.prepare``), how far back, where each market's reads got to, and the
        # finished orders of ours known to be stored (by their last update, to forget them
        # once they are out of reach), so the database is asked about each one once.
        self._markets = markets
        self._window = history or HistoryWindow()
        self._read_until: dict[str, datetime] = {}
        self._recorded: dict[str, datetime] = {}
        self.last: Reconciliation | None = None
        self.last_at: datetime | None = None

    async def start(self, *, run_loop: bool = True) -> Reconciliation | None:
        """Reconcile once (the exchange may have moved while we were down), then keep
        polling in the background (unless ``run_loop`` is off: tests poll by hand)."""
        first = await self.reconcile(reason="start")
        if run_loop:
            self._task = asyncio.create_task(self._run(first is not None), name="live-sync")
            if self._stream is not None:
                self._listener = asyncio.create_task(self._listen(self._stream), name="live-orders")
        return first

    async def stop(self) -> None:
        for task in (self._listener, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._listener = None

    async def reconcile(
        self, *, reason: str = "scheduled", history: bool = True
    ) -> Reconciliation | None:
        """Re-read everything and apply the differences; None when the exchange could not
        be read (the caller tries again later). ``history`` off skips the search of the
        order histories (see ``reconcile.history``): the reconciliations an order update
        sets off need only the orders we follow, and the history reads are rate-limited."""
        found: list[tuple[Reconciliation, _HistoryRead | None]] = []

        async def compute(now: datetime) -> ExchangeUpdate:
            read = await self._read_history(now) if history else None
            result = await self._compare(now, read)
            found.append((result, read))
            return result.update

        if not await self._guarded(compute):
            return None
        result, read = found[-1]
        if read is not None:
            self._remember(read, result)
        self.last = result
        self.last_at = datetime.now(UTC)
        for difference in result.differences:
            log.warning(
                "reconcile_difference",
                kind=difference.kind.value,
                subject=difference.subject,
                detail=difference.detail,
                reason=reason,
            )
        if result.matters:
            await self._bus.publish(
                Event(
                    type=EventType.SYSTEM_ALERT,
                    data={
                        "title": "Exchange reconciliation",
                        "component": reason,
                        "message": summary(result),
                    },
                )
            )
        return result

    def report(self, actor: Actor) -> Reconciliation | None:
        """The last reconciliation (None before the first one completed)."""
        actor.require(Permission.READ)
        return self.last

    async def reconcile_for(self, actor: Actor) -> Reconciliation:
        """Reconcile now, on an admin's request; refused when the exchange cannot be read."""
        actor.require(Permission.MANAGE_JOBS)
        result = await self.reconcile(reason=f"asked by {actor.name}")
        if result is None:
            raise Unavailable(
                "exchange_unavailable", "the exchange could not be read; try again shortly"
            )
        return result

    async def poll(self) -> bool:
        """Look up each order we hold open; a change triggers a full reconciliation.
        Returns whether anything changed."""
        changed = False
        for order in self._live.open_orders():
            remote = await self._live.client.fetch_order(order.symbol, order.id)
            if remote is None or remote.status is not order.status or remote.filled != order.filled:
                changed = True
                break
        if changed:
            await self.reconcile(reason="order update", history=False)
        return changed

    # -- internals ------------------------------------------------------------------------
    async def _listen(self, updates: Callable[[], AsyncIterator[RemoteOrder]]) -> None:
        """Follow the exchange's order updates: one about an order we hold that says
        something new brings a reconciliation at once instead of at the next poll. Polling
        goes on regardless: the stream replays nothing it missed while disconnected."""
        try:
            async for remote in updates():
                local = self._live.get_order(remote.client_order_id or "")
                if local is None or (local.status, local.filled) == (remote.status, remote.filled):
                    continue  # not ours to follow (reconciliation adopts), or nothing new
                await self.reconcile(reason="order update", history=False)
        except DomainError as error:
            await self._failed(error)
        except Exception:
            log.exception("order_stream_failed")  # polling carries on alone

    async def _compare(self, now: datetime, read: _HistoryRead | None) -> Reconciliation:
        live = self._live
        client = live.client
        snapshot = await client.snapshot()
        local_open = live.open_orders()
        lookups: dict[str, RemoteOrder | None] = {}
        by_id = {o.id: o for o in local_open}
        for order_id in needs_lookup(local_open, snapshot):
            lookups[order_id] = await client.fetch_order(by_id[order_id].symbol, order_id)
        result = reconcile(
            local_open,
            snapshot,
            lookups,
            live.balance_map(),
            live.position_map(),
            known_fill_ids=live.known_fill_ids(),
            now=now,
            finished=read.finished if read is not None else (),
        )
        await self._keep_finished(result)
        for order in list(result.update.orders):  # an entry that filled while resting
            if order.status is OrderStatus.FILLED and order.role is OrderRole.ENTRY:
                result.update.orders.extend(await live.protect(order, now))
        live.stage(result.update, snapshot.positions)
        return result

    async def _read_history(self, now: datetime) -> _HistoryRead | None:
        """The finished orders of ours, filled, that the database lacks, from one history
        page per traded market (plus, for a market where one is found, one read of its
        trades for their prices and fees). None when it cannot be done now: without
        ``stored`` nothing tells a recorded order from a lost one, and an exchange that
        cannot be read is searched at the next reconciliation, from where the last read
        ended, while the rest of this one goes ahead."""
        if self._stored is None:
            return None
        read = _HistoryRead(now)
        skip = {o.id for o in self._live.open_orders()} | set(self._recorded)
        try:
            for symbol in self._traded():
                since = self._window.since(now, self._read_until.get(symbol))
                page = await self._live.client.fetch_order_history(symbol, since, HISTORY_PAGE)
                read.read_until[symbol] = self._window.read_until(now, page, HISTORY_PAGE)
                lost = await self._not_stored(unrecorded(page, skip))
                if lost:
                    read.finished.extend(await self._with_trades(symbol, lost))
        except Unavailable as down:
            log.warning("order_history_unavailable", detail=down.detail)
            return None
        return read

    def _traded(self) -> list[str]:
        """The markets to search: those we trade, and any we hold an order or a position in."""
        live = self._live
        wanted = [*(self._markets() if self._markets else live.traded_markets)]
        wanted += [o.symbol for o in live.open_orders()]
        wanted += [p.symbol for p in self._orders.positions() if p.amount]
        wanted += list(live.position_map())
        known = live.client.markets
        return [symbol for symbol in dict.fromkeys(wanted) if symbol in known]

    async def _not_stored(self, candidates: list[RemoteOrder]) -> list[RemoteOrder]:
        assert self._stored is not None  # checked by the caller
        lost = []
        for remote in candidates:
            client_id = remote.client_order_id or ""
            if await self._stored(client_id) is None:
                lost.append(remote)
            else:  # the order manager wrote it: never ask again
                self._recorded[client_id] = remote.updated_at
        return lost

    async def _with_trades(self, symbol: str, orders: list[RemoteOrder]) -> list[RemoteOrder]:
        """``orders`` with their executions (the history gives amounts and averages, the
        trades give each fill's price, fee and time)."""
        since = min(created(o) for o in orders)
        trades: dict[str, list[RemoteTrade]] = {}
        for trade in await self._live.client.fetch_trade_history(symbol, since):
            trades.setdefault(trade.exchange_order_id, []).append(trade)
        return [
            dataclasses.replace(o, trades=(*o.trades, *trades.get(o.exchange_order_id, ())))
            for o in orders
        ]

    def _remember(self, read: _HistoryRead, result: Reconciliation) -> None:
        """The reads of a stored reconciliation: the next one reads on from there, and the
        orders it finished are recorded now."""
        self._read_until.update(read.read_until)
        for order in result.update.orders:
            if order.status.is_terminal:
                self._recorded[order.id] = order.updated_at
        horizon = read.now - self._window.lookback - self._window.overlap
        self._recorded = {i: at for i, at in self._recorded.items() if at >= horizon}

    async def _keep_finished(self, result: Reconciliation) -> None:
        """An open exchange order "adopted" under the id of an order we stored as finished
        is a contradiction for a human, not a reason to reopen our record."""
        if self._stored is None:
            return
        for order in list(result.adopted):
            stored = await self._stored(order.id)
            if stored is None or not stored.status.is_terminal:
                continue
            result.adopted.remove(order)
            result.update.orders = [o for o in result.update.orders if o.id != order.id]
            result.update.fills = [f for f in result.update.fills if f.order_id != order.id]
            result.differences = [
                d
                for d in result.differences
                if not (d.subject == order.id and d.kind is DifferenceKind.ORDER_UNKNOWN_LOCALLY)
            ]
            result.differences.append(
                Difference(
                    DifferenceKind.ORDER_CONFLICT,
                    order.id,
                    f"order {order.id} is {stored.status.value} here but open on the exchange;"
                    " left as recorded, check it by hand",
                    True,
                )
            )

    async def _guarded(self, compute: Callable[[datetime], Awaitable[ExchangeUpdate]]) -> bool:
        try:
            await self._orders.apply_external(compute)
        except Unavailable as down:
            log.warning("exchange_unavailable", detail=down.detail)
            return False
        except DomainError as error:
            await self._failed(error)
            return False
        return True

    async def _failed(self, error: DomainError) -> None:
        if error.code == EXCHANGE_AUTH_FAILED:  # every later call would fail the same way
            log.error("exchange_auth_failed", detail=error.detail)
            await self._halt(f"the exchange refused our API keys: {error.detail}")
        else:
            log.error("live_sync_failed", code=error.code, detail=error.detail)

    async def _run(self, healthy: bool) -> None:
        """Poll, and reconcile on schedule; ``healthy`` False (the last read failed) makes
        the next round a full reconciliation."""
        loop = asyncio.get_running_loop()
        next_reconcile = loop.time() + self._reconcile_seconds
        next_markets = loop.time() + self._markets_refresh_seconds
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                if not healthy or loop.time() >= next_reconcile:
                    # After an outage the first read is a full one: no cached state is trusted.
                    healthy = (
                        await self.reconcile(reason="scheduled" if healthy else "reconnect")
                        is not None
                    )
                    next_reconcile = loop.time() + self._reconcile_seconds
                else:
                    await self.poll()
                if loop.time() >= next_markets:
                    await self._live.refresh_markets()
                    next_markets = loop.time() + self._markets_refresh_seconds
            except Unavailable as down:
                log.warning("exchange_unavailable", detail=down.detail)
                healthy = False
            except DomainError as error:
                await self._failed(error)
                healthy = False
            except Exception:
                log.exception("live_sync_crashed")
                healthy = False
