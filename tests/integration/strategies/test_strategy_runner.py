"""Strategies trading live through the real core, on SQLite and PostgreSQL.

Candles go in the way the replay delivers them (the order manager first, then the
listeners); what comes out is what a trader checks: orders from the strategy, the
position, and the runner's own report.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, make_settings
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import Order, OrderRole, OrderStatus, Side
from tradedeck.notify.events import Event, EventType
from tradedeck.services import Services, start_services

SYMBOL = "ETH/BTC"
FAST_CROSS = {"strategy": "sma_cross", "symbol": SYMBOL, "params": {"fast": 2, "slow": 3}}
# Relative closes: a slide, then a bounce that lifts SMA(2) above SMA(3) on its last candle.
DOWN_THEN_UP = ["1", "0.99", "0.98", "0.97", "0.96", "0.99"]
# From there: still above, then a drop that takes SMA(2) below SMA(3) on its last candle.
BACK_DOWN = ["0.985", "0.90"]

DIVIDES = """\
import pandas as pd
from tradedeck.strategies.base import Strategy


class Divides(Strategy):
    name = "divides"

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame["x"] = 1 / 0
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        return frame["close"] > 0

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        return frame["close"] < 0
"""


async def core(tmp_path: Path, database_url: str, **overrides: Any) -> Services:
    settings = make_settings(tmp_path, database_url, **overrides)
    return await start_services(settings, start_feed=False)


TICK = Decimal("0.00000001")


class Feed:
    """Closed candles for ETH/BTC, priced as multiples of the market's first close."""

    def __init__(self, services: Services, base: Decimal | None = None) -> None:
        last = services.orders.exchange.last_candle(SYMBOL)
        assert last is not None
        self.services = services
        self.base = base if base is not None else last.close

    def price(self, factor: str) -> Decimal:
        return (self.base * Decimal(factor)).quantize(TICK)

    async def push(
        self, factors: Sequence[str], low: str | None = None, high: str | None = None
    ) -> None:
        for factor in factors:
            last = self.services.orders.exchange.last_candle(SYMBOL)
            assert last is not None
            close = self.price(factor)
            candle = Candle(
                symbol=SYMBOL,
                timeframe=last.timeframe,
                opened_at=last.opened_at + timedelta(minutes=5),
                open=last.close,
                high=self.price(high) if high else max(last.close, close),
                low=self.price(low) if low else min(last.close, close),
                close=close,
                volume=Decimal(1_000_000),
            )
            await self.services.marketdata.deliver(self.services.orders, [candle])


async def strategy_orders(services: Services) -> list[Order]:
    """The entries and exits the strategy placed (not the protective legs), oldest first."""
    orders = await services.repository.list_orders(symbol=SYMBOL)
    return sorted(
        (o for o in orders if o.source.startswith("strategy:") and o.role is OrderRole.ENTRY),
        key=lambda o: (o.created_at, o.side),
    )


def run_status(services: Services, name: str = "sma_cross") -> dict[str, Any]:
    return next(r for r in services.strategy_runner.status(ADMIN) if r["strategy"] == name)


async def test_a_crossing_buys_and_the_cross_back_sells(tmp_path: Path, database_url: str) -> None:
    services = await core(tmp_path, database_url, strategies=[{**FAST_CROSS, "amount": "0.1"}])
    market = Feed(services)
    try:
        await market.push(DOWN_THEN_UP[:-1])
        assert await strategy_orders(services) == []
        await market.push(DOWN_THEN_UP[-1:])
        (buy,) = await strategy_orders(services)
        assert (buy.side, buy.status, buy.filled) == (Side.BUY, OrderStatus.FILLED, Decimal("0.1"))
        assert buy.average_price == market.price("0.99")
        # The source names the strategy (wider than the 16 characters orders.source had).
        assert buy.source == "strategy:sma_cross"
        assert buy.client_order_id is not None and buy.client_order_id.startswith("sma_cross-")
        position = services.orders.position(SYMBOL)
        assert position is not None and position.amount == Decimal("0.1")
        status = run_status(services)
        assert status["in_position"] and status["entry_order_id"] == buy.id

        await market.push(BACK_DOWN[:1])
        assert len(await strategy_orders(services)) == 1
        await market.push(BACK_DOWN[1:])
        buy, sell = await strategy_orders(services)
        assert (sell.side, sell.status, sell.filled) == (
            Side.SELL,
            OrderStatus.FILLED,
            Decimal("0.1"),
        )
        assert sell.source == "strategy:sma_cross"
        assert sell.average_price == market.price("0.90")
        position = services.orders.position(SYMBOL)
        assert position is not None and position.amount == 0
        status = run_status(services)
        assert not status["in_position"] and status["last_action"].startswith("sell 0.1 at ")
    finally:
        await services.stop()


async def test_the_position_survives_a_restart(tmp_path: Path, database_url: str) -> None:
    overrides: dict[str, Any] = {"strategies": [{**FAST_CROSS, "amount": "0.2"}]}
    services = await core(tmp_path, database_url, **overrides)
    market = Feed(services)
    try:
        await market.push(DOWN_THEN_UP)
    finally:
        await services.stop()
    # The restarted market resumes where it was, its real history before the window: the
    # run still holds, so the first thing it does is sell the first buy (whichever candle
    # of the swing crosses down first), never a second buy on top of it.
    services = await core(tmp_path, database_url, **overrides)
    market = Feed(services, base=market.base)
    try:
        assert run_status(services)["in_position"]
        await market.push(DOWN_THEN_UP + BACK_DOWN)
        orders = await strategy_orders(services)
        sides = [o.side for o in orders]
        assert sides[:2] == [Side.BUY, Side.SELL] and orders[1].filled == Decimal("0.2")
        assert sides == [Side.BUY, Side.SELL] * (len(sides) // 2)  # never two buys in a row
        position = services.orders.position(SYMBOL)
        assert position is not None and position.amount == 0
    finally:
        await services.stop()


async def test_no_orders_while_the_kill_switch_is_active(tmp_path: Path, database_url: str) -> None:
    services = await core(tmp_path, database_url, strategies=[{**FAST_CROSS, "amount": "0.1"}])
    market = Feed(services)
    try:
        await services.kill_switch.activate(ADMIN, "test halt")
        await market.push(DOWN_THEN_UP)
        assert await strategy_orders(services) == []
        last = services.orders.exchange.last_candle(SYMBOL)
        assert last is not None and last.close == market.price("0.99")  # the feed went on
        status = run_status(services)
        assert not status["in_position"]
        assert status["last_refusal"] is None  # it did not even try: no refusal to spam
    finally:
        await services.stop()


async def test_a_refused_order_is_reported_and_the_feed_goes_on(
    tmp_path: Path, database_url: str
) -> None:
    # Far beyond a trader's notional limit (0.5 BTC): the risk engine refuses it.
    services = await core(tmp_path, database_url, strategies=[{**FAST_CROSS, "amount": "100"}])
    market = Feed(services)
    published: list[Event] = []

    async def listen(event: Event) -> None:
        published.append(event)

    services.bus.subscribe(listen)
    try:
        await market.push(DOWN_THEN_UP)
        assert await strategy_orders(services) == []
        status = run_status(services)
        assert not status["in_position"]
        assert status["last_refusal"] is not None and "notional" in status["last_refusal"]
        await services.bus.join()  # type: ignore[attr-defined]
        (refusal,) = [e for e in published if e.type is EventType.ORDER_REJECTED]
        assert refusal.data["strategy"] == "sma_cross" and refusal.data["symbol"] == SYMBOL
        assert refusal.data["source"] == "strategy:sma_cross"
        await market.push(BACK_DOWN)
        last = services.orders.exchange.last_candle(SYMBOL)
        assert last is not None and last.close == market.price("0.90")
    finally:
        await services.stop()


async def test_a_strategy_that_raises_is_reported_and_the_others_still_trade(
    tmp_path: Path, database_url: str
) -> None:
    user_dir = tmp_path / "strategies"
    user_dir.mkdir()
    (user_dir / "divides.py").write_text(textwrap.dedent(DIVIDES))
    services = await core(
        tmp_path,
        database_url,
        strategies_dir=user_dir,
        strategies=[
            {"strategy": "divides", "symbol": SYMBOL, "amount": "0.1"},
            {**FAST_CROSS, "amount": "0.1"},
        ],
    )
    market = Feed(services)
    try:
        await market.push(DOWN_THEN_UP)
        broken = run_status(services, "divides")
        assert broken["last_error"] == (
            f"{user_dir / 'divides.py'}:9: ZeroDivisionError: division by zero"
        )
        assert broken["disabled"]  # it failed on every candle: switched off after five
        assert [o.side for o in await strategy_orders(services)] == [Side.BUY]
        assert run_status(services)["in_position"]
    finally:
        await services.stop()


async def test_a_stop_loss_closes_the_position_and_the_runner_notices(
    tmp_path: Path, database_url: str
) -> None:
    params = {"fast": 2, "slow": 3, "stop_loss": 0.02}
    services = await core(
        tmp_path, database_url, strategies=[{**FAST_CROSS, "params": params, "amount": "0.1"}]
    )
    market = Feed(services)
    try:
        await market.push(DOWN_THEN_UP)
        (buy,) = await strategy_orders(services)
        assert buy.stop_loss == (market.price("0.99") * Decimal("0.98")).quantize(TICK)
        # A candle that dips through the stop and closes above the SMAs: only the stop acts.
        await market.push(["0.995"], low="0.95")
        orders = await services.repository.list_orders(symbol=SYMBOL)
        stop_leg = next(o for o in orders if o.role is OrderRole.STOP_LOSS)
        assert stop_leg.status is OrderStatus.FILLED and stop_leg.parent_id == buy.id
        position = services.orders.position(SYMBOL)
        assert position is not None and position.amount == 0
        status = run_status(services)
        assert not status["in_position"]
        assert status["last_action"] == "closed by stop-loss/take-profit"
    finally:
        await services.stop()


async def test_legs_canceled_by_the_kill_switch_leave_the_position_to_the_exit_rule(
    tmp_path: Path, database_url: str
) -> None:
    params = {"fast": 2, "slow": 3, "stop_loss": 0.02, "take_profit": 0.5}
    services = await core(
        tmp_path, database_url, strategies=[{**FAST_CROSS, "params": params, "amount": "0.1"}]
    )
    market = Feed(services)
    try:
        await market.push(DOWN_THEN_UP)
        assert len(services.orders.exchange.open_orders(SYMBOL)) == 2  # stop-loss + take-profit
        await services.kill_switch.activate(ADMIN, "test halt")
        assert services.orders.exchange.open_orders(SYMBOL) == []
        await market.push(["0.985"])
        assert run_status(services)["in_position"]  # canceled legs did not sell anything
        await services.kill_switch.resume(ADMIN)
        await market.push(["0.90"])
        _, sell = await strategy_orders(services)
        assert (sell.side, sell.filled) == (Side.SELL, Decimal("0.1"))
        assert not run_status(services)["in_position"]
    finally:
        await services.stop()


async def test_a_trailing_stop_sells_after_the_peak(tmp_path: Path, database_url: str) -> None:
    params = {"fast": 2, "slow": 3, "trailing_stop": 0.05}
    services = await core(
        tmp_path, database_url, strategies=[{**FAST_CROSS, "params": params, "amount": "0.1"}]
    )
    market = Feed(services)
    try:
        await market.push(DOWN_THEN_UP)
        await market.push(["1.05"])
        assert [o.side for o in await strategy_orders(services)] == [Side.BUY]
        # A spike to 1.15 that closes at 1.08: 6 % below the peak, while SMA(2) > SMA(3).
        await market.push(["1.08"], high="1.15")
        _, sell = await strategy_orders(services)
        assert sell.side is Side.SELL and sell.average_price == market.price("1.08")
        assert run_status(services)["last_action"].endswith("(trailing_stop)")
    finally:
        await services.stop()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"strategy": "moon_shot", "amount": "1"}, "unknown strategy 'moon_shot'"),
        ({"strategy": "sma_cross", "params": {"fast": 0}, "amount": "1"}, "fast: Input should"),
        ({"strategy": "sma_cross", "symbol": "DOGE/BTC", "amount": "1"}, "DOGE/BTC"),
        ({"strategy": "sma_cross", "timeframe": "1h", "amount": "1"}, "fed in 5m candles, not 1h"),
    ],
)
async def test_a_bad_strategy_setting_stops_start_up_naming_the_entry(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bad.db'}"
    with pytest.raises(InvalidInput, match=message) as caught:
        await core(tmp_path, url, strategies=[{"symbol": SYMBOL, **entry}])
    assert caught.value.detail.startswith("TRADEDECK_STRATEGIES entry 0 (")
