"""Price alerts on Telegram, end to end: /alert sets one (bad input gets a reason),
/alerts lists them with a delete button each, and a candle crossing the level brings
the alert to its owner's chat, once, and to nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.e2e.conftest import ALICE, ROOT, VIC, BotWorld, data_of, labels
from tradedeck.domain.candles import Candle

TICK = Decimal("0.00000001")


async def crossing_candle(world: BotWorld, symbol: str, high: Decimal) -> None:
    services = world.services
    last = services.orders.exchange.last_candle(symbol)
    assert last is not None
    candle = Candle(
        symbol,
        last.timeframe,
        last.opened_at + timedelta(minutes=5),
        last.close,
        high,
        last.close,
        last.close,
        Decimal(1000),
    )
    await services.marketdata.deliver(services.orders, [candle])


async def test_set_list_delete_and_get_the_alert(world: BotWorld) -> None:
    alice, vic, root = world.user(ALICE), world.user(VIC), world.user(ROOT)
    last = world.services.orders.exchange.last_price("ETH/BTC")
    assert last is not None
    level = (last * Decimal("1.2")).quantize(TICK)

    for bad, reason in (
        ("/alert", "usage"),
        ("/alert NOPE/BTC > 0.1", "no market"),
        ("/alert ETH/BTC > 0.000000001", "more decimals"),
        ("/alert ETH/BTC > -1", "positive number"),
    ):
        await alice.send(bad)
        assert reason in (await alice.next_message()).text.lower(), bad

    await alice.send(f"/alert eth/btc > {level}")
    set_reply = await alice.next_message()
    assert "Alert #" in set_reply.text and f"ETH/BTC > {format(level.normalize(), 'f')}" in (
        set_reply.text
    )
    await alice.send("/alert LTC/BTC < 0.00000001")
    await alice.next_message()
    await vic.send("/alert ETH/BTC > 0.00000001")  # a viewer may set alerts too
    assert "Alert #" in (await vic.next_message()).text

    await alice.send("/alerts")
    listed = await alice.next_message()
    assert "ETH/BTC" in listed.text and "LTC/BTC" in listed.text
    deletes = [b for b in labels(listed) if b.startswith("🗑 Delete")]
    assert len(deletes) == 2
    for label in deletes:
        assert len(data_of(listed, label).encode()) <= 64

    ltc = next(b for b in deletes if "LTC/BTC" in b)
    await alice.press(ltc)
    after = await alice.next_message()
    assert after.message_id == listed.message_id  # edited in place
    assert "LTC/BTC" not in after.text and "ETH/BTC" in after.text

    await crossing_candle(world, "ETH/BTC", level + TICK)
    await world.settle()
    pushed = await alice.next_message(lambda m: "Price alert" in m.text)
    assert f"ETH/BTC &gt; {format(level.normalize(), 'f')}" in pushed.html
    assert format((level + TICK).normalize(), "f") in pushed.text
    assert any("Price alert" in m.text for m in vic.messages())  # Vic's own alert fired too
    assert not any("Price alert" in m.text for m in root.messages())  # not the admins'

    await crossing_candle(world, "ETH/BTC", level + 2 * TICK)  # fired once, not again
    await world.settle()
    assert sum("Price alert" in m.text for m in alice.messages()) == 1

    await alice.send("/alerts")
    final = await alice.next_message()
    assert "✅" in final.text and "fired at" in final.text


async def test_reports_switch_on_in_settings_and_arrive(world: BotWorld) -> None:
    """The periodic reports share /settings with the alerts' group (kept here, next to the
    other automatic messages a user asks for)."""
    alice, vic = world.user(ALICE), world.user(VIC)
    await alice.send("/settings")
    screen = await alice.next_message()
    assert "🔔 Price alerts: on" in labels(screen)
    assert "🚫 Hourly balance report: off" in labels(screen)
    assert "🚫 Daily PnL summary: off" in labels(screen)
    await alice.press("🚫 Hourly balance report: off")
    switched = await alice.next_message()
    assert switched.message_id == screen.message_id
    assert "📊 Hourly balance report: on" in labels(switched)
    assert "🚫 Daily PnL summary: off" in labels(switched)

    reports = world.services.reports
    now = datetime.now(UTC)
    await reports.run(now - timedelta(hours=1))  # where reports begin
    assert await reports.run(now) == 1
    await world.settle()
    report = await alice.next_message(lambda m: "Hourly balance" in m.text)
    assert "Equity" in report.text and "<pre>" in report.html
    assert not any("Hourly balance" in m.text for m in vic.messages())  # off by default

    await alice.press("📊 Hourly balance report: on")
    assert "🚫 Hourly balance report: off" in labels(await alice.next_message())
    assert await reports.run(now + timedelta(hours=1)) == 0
