"""An admin checks the platform from the phone: health and resources, recent log lines
and errors, from commands and from the System screen's buttons; a trader may not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from tests.e2e.conftest import ALICE, ROOT, BotWorld, labels, make_world
from tradedeck.domain.roles import SYSTEM


@pytest.fixture
async def logged_world(production_logging: None, tmp_path: Path) -> AsyncIterator[BotWorld]:
    w = await make_world(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        yield w
    finally:
        await w.close()


async def test_an_admin_reads_health_logs_and_errors(logged_world: BotWorld) -> None:
    world = logged_world
    root = world.user(ROOT)
    await root.send("/health")
    health = await root.next_message()
    assert "Health" in health.text and "database: sqlite" in health.text
    assert "watchdog: none running" in health.text and "Memory: process" in health.text
    assert labels(health) == ["🩺 Health", "📜 Logs", "⚠️ Errors", "🔄 Refresh"]

    log = structlog.get_logger("tradedeck.feed")
    log.error("feed_failed", symbol="ETH/BTC", api_key="sk-live-1")
    log.error("feed_failed", symbol="LTC/BTC")
    await root.send("/logs 5 error")
    lines = await root.next_message()
    assert "Logs · last 2 at error or above" in lines.text
    assert "ERR feed_failed symbol=ETH/BTC api_key=***" in lines.text
    assert "sk-live-1" not in lines.text

    await root.press("⚠️ Errors", message=lines)
    errors = await root.next_message()
    assert "Errors · 2 in the last 24 h, 1 kinds" in errors.text
    assert "feed_failed ×2" in errors.text and "tradedeck.feed" in errors.text

    await world.services.jobs.run(SYSTEM, "errors.push", wait=True)  # every 10 s when running
    pushed = await root.next_message(lambda m: m.text.startswith("🚨"))
    assert pushed.text == "🚨 Error · tradedeck.feed\nfeed_failed ×2: symbol=LTC/BTC"

    await root.send("/logs many")
    usage = await root.next_message()
    assert "many is neither a count nor a level" in usage.text
    await root.send("/logs 500")
    assert (await root.next_message()).text == "❌ N must be 1 to 50."
    await root.send("/errors soon")
    assert (await root.next_message()).text.startswith("Usage: /errors [HOURS]")

    await root.send("/status")
    status = await root.next_message()
    assert "🩺 Health" in labels(status)


async def test_a_trader_is_told_the_system_is_for_admins(logged_world: BotWorld) -> None:
    alice = logged_world.user(ALICE)
    for command in ("/health", "/logs", "/errors"):
        await alice.send(command)
        refused = await alice.next_message()
        assert "needs the admin role; you are trader" in refused.text, command
    await alice.send("/status")
    status = await alice.next_message()
    assert "🩺 Health" not in labels(status)
    # A forged button (callback data any client can send) gets the service's refusal.
    world = logged_world
    user = {"id": ALICE.id, "is_bot": False, "first_name": ALICE.first_name}
    message = {
        "message_id": status.message_id,
        "date": 0,
        "chat": {"id": ALICE.id, "type": "private"},
        "text": "status",
    }
    query = {"id": "9", "from": user, "chat_instance": "1", "data": "rf:logs", "message": message}
    assert (await world.post_update({"update_id": 10**6, "callback_query": query})).is_success
    forged = await alice.next_message()
    assert forged.text == "❌ role trader may not view system"
