"""/scan on Telegram, end to end: the ranked table in <pre>, Previous/Next pages, Refresh,
a chart button per market, and new strong signals pushed to the users subscribed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN
from tests.e2e.conftest import ALICE, ROOT, VIC, BotWorld, labels, make_world
from tests.integration.scanner.history import clear_candles, store_candles
from tradedeck.marketdata.catalog import load_bundled_catalog

FIVE_MINUTE = [b.symbol for b in load_bundled_catalog() if b.timeframe == "5m"]


async def stop(world: BotWorld) -> None:
    await world.stop_app()
    await world.sandbox.stop()
    await world.emulator.close()


@pytest.fixture
async def every_market(tmp_path: Path) -> AsyncIterator[BotWorld]:
    """All twelve bundled markets; the ten 5m ones have history, the other two one candle."""
    world = await make_world(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", markets=[])
    try:
        repo = world.services.repository
        await clear_candles(repo, [*FIVE_MINUTE, "BTC/USD", "BTC/USDT"])
        for symbol in FIVE_MINUTE:
            await store_candles(repo, symbol, 0, 300)
        for symbol in ("BTC/USD", "BTC/USDT"):
            await store_candles(repo, symbol, 0, 1)
        yield world
    finally:
        await stop(world)


async def test_scan_table_pages_refresh_and_chart_buttons(every_market: BotWorld) -> None:
    world = every_market
    vic = world.user(VIC)  # a viewer: reads scans, gets no pushes by default
    await vic.send("/scan")
    empty = await vic.next_message()
    assert "No scan yet" in empty.text and "🔄 Refresh" in labels(empty)

    await world.services.jobs.run(ADMIN, "scan", wait=True)
    await vic.press("🔄 Refresh")
    first = await vic.next_message(lambda m: "Market scan" in m.text)
    assert "page 1/2" in first.text and "12 markets · 2 failed" in first.text
    assert "<pre>" in first.html
    latest = await world.services.scanner.latest(ADMIN)
    top = latest.results[0]
    assert f"1 {top.symbol}" in first.text and "Signal" in first.text and "RSI" in first.text
    assert f"{top.score:+.2f}" in first.text
    buttons = labels(first)
    charts = [b for b in buttons if b.startswith("📈 ")]
    assert len(charts) == 8 and charts[0] == f"📈 {top.symbol} 5m"
    assert "Next ▶" in buttons and "◀ Previous" not in buttons and "🔄 Refresh" in buttons

    await vic.press("Next ▶")
    second = await vic.next_message(lambda m: "page 2/2" in m.text)
    assert second.message_id == first.message_id  # edited in place
    for failed in ("BTC/USD", "BTC/USDT"):
        assert f"⚠️ {failed}" in second.text and "30 needed" in second.text
    assert f"9 {latest.results[8].symbol}" in second.text
    assert "◀ Previous" in labels(second) and "Next ▶" not in labels(second)
    assert not any(b.startswith("📈 BTC/USD") for b in labels(second))  # failed: no chart

    await vic.press("🔄 Refresh")  # the same scan: the page stays, a toast says so
    await world.settle()
    answers = world.emulator.callback_answers(world.runtime.token).values()
    assert any(a.get("text") == "Up to date" for a in answers), answers
    assert "page 2/2" in vic.messages()[-1].text

    await vic.press("◀ Previous")
    back = await vic.next_message(lambda m: "page 1/2" in m.text)
    assert back.message_id == first.message_id

    await vic.press(charts[0])
    chart = await vic.next_message(lambda m: m.photo is not None, timeout=30)
    assert top.symbol in chart.text
    await world.settle()


@pytest.fixture
async def one_market(tmp_path: Path) -> AsyncIterator[BotWorld]:
    """ETH/BTC only, with a low strong threshold so its first scan gives a strong signal."""
    world = await make_world(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        scan_markets=["ETH/BTC"],
        scan_strong_score=0.01,
        notify_medium_interval_seconds=0.2,  # scan signals are a medium-priority digest
    )
    try:
        await store_candles(world.services.repository, "ETH/BTC", 0, 300)
        yield world
    finally:
        await stop(world)


async def test_new_strong_signal_reaches_subscribed_users(one_market: BotWorld) -> None:
    world = one_market
    alice, root, vic = world.user(ALICE), world.user(ROOT), world.user(VIC)
    await vic.send("/settings")
    assert "🚫 Scanner signals: off" in labels(await vic.next_message())  # viewer default
    await alice.send("/settings")
    assert "🔔 Scanner signals: on" in labels(await alice.next_message())  # trader default
    await root.send("/settings")
    assert "🔔 Scanner signals: on" in labels(await root.next_message())
    await root.press("🔔 Scanner signals: on")  # root mutes it: delivered without a sound
    assert "🔕 Scanner signals: silent" in labels(await root.next_message())

    await world.services.jobs.run(ADMIN, "scan", wait=True)
    result = (await world.services.scanner.latest(ADMIN)).results[0]
    assert result.symbol == "ETH/BTC" and result.signal in {"buy", "sell"}
    title = "Buy signal" if result.signal == "buy" else "Sell signal"

    pushed = await alice.next_message(lambda m: title in m.text)
    assert f"{title} ETH/BTC 5m · score {result.score:+.2f} ({result.strategy})" in pushed.text
    assert "RSI" in pushed.text and not pushed.disable_notification
    muted = await root.next_message(lambda m: title in m.text)
    assert muted.disable_notification

    await world.services.jobs.run(ADMIN, "scan", wait=True)  # same candles: nothing new
    await world.settle()
    notifier = world.runtime.deps.notifier
    assert notifier is not None
    await notifier.join()
    assert sum(title in m.text for m in alice.messages()) == 1
    assert sum(title in m.text for m in root.messages()) == 1
    assert not any("signal" in m.text for m in vic.messages())
