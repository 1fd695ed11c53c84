"""Trailing stops on Telegram, end to end: /trail sets one on a position (traders, private
chat; bad input gets a reason), /trails lists them with a delete button each (a forged id
reaches nothing), and a falling price sells through the trading path, the fill reaching
the owner's chat."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.e2e.conftest import ALICE, ROOT, VIC, BotWorld, data_of, labels
from tradedeck.bot.formatting import money
from tradedeck.domain.candles import Candle
from tradedeck.domain.orders import OrderType, Side
from tradedeck.domain.roles import Actor
from tradedeck.trading.requests import OrderRequest

SYMBOL = "ETH/BTC"
TICK = Decimal("0.00000001")


async def holding(world: BotWorld, amount: str) -> None:
    """Alice's position, bought the way any face buys."""
    user = await world.services.repository.user_by_telegram_id(ALICE.id)
    assert user is not None
    actor = Actor(user.name, user.role, "telegram", user.id)
    request = OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, Decimal(amount))
    await world.services.orders.place(actor, request)


async def falling_candle(world: BotWorld, low: Decimal) -> None:
    services = world.services
    last = services.orders.exchange.last_candle(SYMBOL)
    assert last is not None
    candle = Candle(
        SYMBOL,
        last.timeframe,
        last.opened_at + timedelta(minutes=5),
        last.close,
        last.close,
        low,
        low,
        Decimal(1000),
    )
    await services.marketdata.deliver(services.orders, [candle])


async def test_trail_list_delete_and_sell(world: BotWorld) -> None:
    alice, vic, root = world.user(ALICE), world.user(VIC), world.user(ROOT)
    await alice.send("/trail ETH/BTC 3%")
    assert "no ETH/BTC position to protect" in (await alice.next_message()).text
    await holding(world, "0.5")
    last = world.services.orders.exchange.last_price(SYMBOL)
    assert last is not None

    await vic.send("/trail ETH/BTC 3%")
    assert "needs the trader role" in (await vic.next_message()).text
    world.emulator.open_group(-100500, "desk")
    in_group = world.user(ALICE, chat_id=-100500)
    await in_group.send("/trail ETH/BTC 3%")
    assert "only in a private chat" in (await in_group.next_message()).text
    for bad, reason in (
        ("/trail", "usage: /trail"),
        ("/trail ETH/BTC 60%", "less than 50%"),
        ("/trail ETH/BTC 3% 2", "more than the 0.5 eth held"),
        ("/trail NOPE/BTC 3%", "no market"),
    ):
        await alice.send(bad)
        assert reason in (await alice.next_message()).text.lower(), bad

    await alice.send("/trail eth/btc 3% 0.2")
    set_reply = await alice.next_message()
    assert "Trailing stop #" in set_reply.text and "ETH/BTC 3% · 0.2 set" in set_reply.text
    assert f"sells at market at or below {money(last * Decimal('0.97'))}" in set_reply.text
    await alice.send("/trail ETH/BTC 10%")
    assert "the whole position" in (await alice.next_message()).text
    await root.send("/trail ETH/BTC 20%")
    roots = await root.next_message()
    root_stop = roots.text.split("#", 1)[1].split(" ", 1)[0]

    await alice.send("/trails")
    listed = await alice.next_message()
    assert "3% · 0.2" in listed.text and "10% · the whole position" in listed.text
    deletes = [b for b in labels(listed) if b.startswith("🗑 Delete")]
    assert len(deletes) == 2 and not any("20%" in b for b in deletes)  # Root's is his own
    for label in deletes:
        assert len(data_of(listed, label).encode()) <= 64

    # A modified client sends the id of Root's stop: it does not exist for Alice.
    forged = await world.emulator.forged_press(
        world.token, ALICE, ALICE.id, listed.message_id, f"trd:{root_stop}"
    )
    await world.settle()
    answer = world.emulator.callback_answers(world.token)[forged]
    assert answer.get("text") == f"no trailing stop #{root_stop}"

    await alice.press(next(b for b in deletes if "10%" in b))
    after = await alice.next_message()
    assert after.message_id == listed.message_id  # edited in place
    assert "10%" not in after.text and "3% · 0.2" in after.text

    await falling_candle(world, (last * Decimal("0.96")).quantize(TICK))
    await world.settle()
    filled = await alice.next_message(lambda m: "Filled" in m.text)
    assert "sell 0.2 ETH/BTC" in filled.text
    position = world.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.3")

    await alice.send("/trails")
    final = await alice.next_message()
    assert "✅" in final.text and "sold, order" in final.text
