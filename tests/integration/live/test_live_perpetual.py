"""A USDT-margined perpetual through the order manager: leverage and margin mode applied
before the first order, a long opened, its position read back with entry, leverage and
liquidation price, then closed reduce-only; and what closing a long or a short takes."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import ADMIN
from tests.integration.live.conftest import price_now
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.domain.roles import Actor
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.services import Services
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.trailing_rules import Guards, TrailSpec

SYMBOL = "BTC/USDT"


def market(side: Side, amount: str) -> OrderRequest:
    return OrderRequest(SYMBOL, side, OrderType.MARKET, Decimal(amount))


async def test_a_long_opens_with_leverage_and_closes_reduce_only(
    perpetual: tuple[BinanceEmulator, Services],
) -> None:
    emu, services = perpetual
    assert services.live is not None
    await services.marketdata.poll_once(services.orders)  # type: ignore[attr-defined]
    opened, _ = await services.orders.place(ADMIN, market(Side.BUY, "0.1"))
    assert opened.status is OrderStatus.FILLED

    await services.live.sync.reconcile()
    [position] = services.live.exchange.futures_positions()
    assert position.contracts == Decimal("0.1")
    assert position.entry_price == Decimal(30000)
    assert position.leverage == 5
    assert position.margin_mode is not None and position.margin_mode.value == "isolated"
    assert position.liquidation_price is not None and position.liquidation_price < 30000

    emu.set_futures_price("BTCUSDT", "31000")
    await services.live.sync.reconcile()
    [position] = services.live.exchange.futures_positions()
    assert position.unrealized_pnl == Decimal(100)  # 0.1 x 1000 at the new mark

    closed, _ = await services.orders.place(ADMIN, market(Side.SELL, "0.1"))
    assert closed.status is OrderStatus.FILLED
    [sent] = [o for o in emu.futures.orders.values() if o.side == "SELL"]
    assert sent.reduce_only
    await services.live.sync.reconcile()
    assert services.live.exchange.futures_positions() == []


async def test_closing_a_perpetual_long_sells_it_and_a_short_buys_it_back(
    perpetual: tuple[BinanceEmulator, Services],
) -> None:
    """What /close, a strategy's exit and a trailing stop sell: the exchange's contracts,
    not the spot coins a perpetual account never holds."""
    emu, services = perpetual
    orders = services.orders
    await services.marketdata.poll_once(orders)  # type: ignore[attr-defined]
    assert orders.closing(SYMBOL) == (Side.SELL, Decimal(0))  # flat: nothing to close

    await orders.place(ADMIN, market(Side.BUY, "0.1"))
    assert orders.closing(SYMBOL) == (Side.SELL, Decimal("0.1"))
    assert orders.closable_amount(SYMBOL) == Decimal("0.1")
    assert orders.amount_for_share(Side.SELL, SYMBOL, Decimal(50)) == Decimal("0.05")  # /sell 50%
    await orders.place(ADMIN, market(Side.SELL, "0.1"))

    await orders.place(ADMIN, market(Side.SELL, "0.2"))  # now short
    side, amount = orders.closing(SYMBOL)
    assert (side, amount) == (Side.BUY, Decimal("0.2"))
    assert orders.closable_amount(SYMBOL) == 0  # a sell would only add to the short
    bought, _ = await orders.place(ADMIN, market(side, str(amount)))
    assert bought.status is OrderStatus.FILLED
    sent = [o for o in emu.futures.orders.values() if o.side == "BUY"][-1]
    assert sent.reduce_only
    assert services.live is not None
    await services.live.sync.reconcile()
    assert services.live.exchange.futures_positions() == []
    assert orders.closing(SYMBOL) == (Side.SELL, Decimal(0))


def move(emu: BinanceEmulator, price: str) -> None:
    """The market there: the candles the feed reads and the price futures fill at."""
    price_now(emu, "BTCUSDT", price)
    emu.set_futures_price("BTCUSDT", price)


async def test_a_trailing_stop_on_a_short_follows_the_low_and_buys_it_back(
    perpetual: tuple[BinanceEmulator, Services],
) -> None:
    emu, services = perpetual
    tick = services.marketdata.poll_once  # type: ignore[attr-defined]
    await tick(services.orders)
    user, _ = await services.users.create(ADMIN, "ada", "admin")
    ada = Actor(user.name, user.role, "api", user.id)
    await services.orders.place(ada, market(Side.SELL, "0.2"))  # a short of 0.2
    stop = await services.trailing.create(ada, TrailSpec(SYMBOL, Decimal(2)))
    assert (stop.guards, stop.peak, stop.level) == (Guards.SHORT, Decimal(30000), Decimal(30600))

    move(emu, "29000")
    await tick(services.orders)
    (lowered,) = await services.trailing.list_stops(ada)
    assert (lowered.peak, lowered.level) == (Decimal(29000), Decimal(29580))
    move(emu, "29500")  # up, but not 2 % above the low
    await tick(services.orders)
    (waiting,) = await services.trailing.list_stops(ada)
    assert waiting.status.value == "active" and waiting.peak == Decimal(29000)

    move(emu, "29600")
    await tick(services.orders)
    (done,) = await services.trailing.list_stops(ada)
    assert (done.status.value, done.trigger_price) == ("triggered", Decimal(29600))
    bought = await services.repository.get_order(done.order_id or "")
    assert bought is not None and bought.source == "trailing_stop"
    assert (bought.side, bought.status, bought.filled) == (
        Side.BUY,
        OrderStatus.FILLED,
        Decimal("0.2"),
    )
    [sent] = [o for o in emu.futures.orders.values() if o.client_order_id == bought.id]
    assert sent.reduce_only
    assert services.live is not None
    await services.live.sync.reconcile()
    assert services.live.exchange.futures_positions() == []
