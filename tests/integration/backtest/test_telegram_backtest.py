"""/backtest on Telegram, end to end through the sandbox Bot API: "running…", then the
result card with its figures in a <pre> table, then the equity curve as a photo."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ALICE, VIC, BotWorld, make_world

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[BotWorld]:
    w = await make_world(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        yield w
    finally:
        await w.close()


def figure(text: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}\s+(.+)$", text, re.MULTILINE)
    assert match is not None, f"no {name!r} row in {text!r}"
    return match.group(1).strip()


async def test_backtest_card_and_equity_photo(world: BotWorld) -> None:
    vic = world.user(VIC)  # a viewer may backtest: nothing real is traded
    await vic.send("/backtest sma_cross BTC/USDT fast=10 slow=30")

    running = await vic.next_message()
    assert running.text.startswith("⏳ Backtest of sma_cross on BTC/USDT running")
    card = await vic.next_message(
        lambda m: m.message_id == running.message_id and "Metric" in m.text, timeout=60
    )
    assert card.text.startswith("📊 Backtest sma_cross · BTC/USDT · 1m")
    assert "45,031 candles, 2021-12-31 23:01 to 2022-02-01 05:31 UTC" in card.text
    assert "<pre>" in card.html
    assert figure(card.text, "Trades") == "945"
    for name in ("Total return", "Sharpe", "Max drawdown", "Win rate", "Profit factor"):
        figure(card.text, name)

    photo = await vic.next_message(lambda m: m.photo is not None, timeout=60)
    assert photo.photo is not None and photo.photo.data.startswith(PNG_SIGNATURE)
    assert photo.text == "📈 Equity of sma_cross on BTC/USDT"


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/backtest", "Usage: /backtest STRATEGY SYMBOL"),
        ("/backtest nope BTC/USDT", "❌ unknown strategy 'nope'"),
        ("/backtest sma_cross BTC/USDT fast=abc", "❌ sma_cross: fast"),
        ("/backtest sma_cross BTC/USDT fast", "❌ a parameter must look like name=value"),
        ("/backtest sma_cross DOGE/USDT", "❌ no stored candles for 'DOGE/USDT'"),
        ("/backtest sma_cross <b>", "❌ symbol must look like ETH/BTC"),
    ],
)
async def test_bad_backtest_requests_get_a_clear_answer(
    world: BotWorld, command: str, answer: str
) -> None:
    alice = world.user(ALICE)
    await alice.send(command)
    reply = await alice.next_message()
    assert reply.text.startswith(answer), reply.text
    await world.settle()
    assert not any(m.photo is not None for m in alice.messages())
    assert not any("running" in m.text for m in alice.messages())
