"""What an attacker, a careless teammate or a flaky network would try on the bot.
Every case asserts the user-visible outcome: what was sent, and what was executed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ALICE, MALLORY, ROOT, VIC, BotWorld, data_of, make_world


def sent_to(world: BotWorld, chat_id: int) -> list[Any]:
    return [
        c
        for c in world.emulator.calls(world.runtime.token)
        if c.method in {"sendMessage", "editMessageText", "sendPhoto", "sendDocument"}
        and str(c.params.get("chat_id")) == str(chat_id)
    ]


async def test_unknown_user_gets_nothing_and_admins_are_told(world: BotWorld) -> None:
    root = world.user(ROOT)
    await root.send("/start")  # a bot can only write to people who started it
    await root.next_message()
    mallory = world.user(MALLORY)
    await mallory.send("/start")
    await mallory.send("/buy ETH/BTC 1")
    await world.settle()
    assert sent_to(world, MALLORY.id) == []
    root_messages = [m.text for m in world.user(ROOT).messages()]
    assert sum("Unknown Telegram user" in t for t in root_messages) == 1  # reported once
    audit = await world.services.repository.list_audit()
    assert any(r["actor"] == f"unknown:{MALLORY.id}" and r["outcome"] == "denied" for r in audit)


async def test_unknown_users_button_press_executes_nothing(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/buy ETH/BTC 0.1")
    preview = await alice.next_message()
    confirm = data_of(preview, "✅ Confirm")
    await world.emulator.forged_press(world.token, MALLORY, ALICE.id, preview.message_id, confirm)
    await world.settle()
    assert await world.services.repository.list_orders() == []
    assert sent_to(world, MALLORY.id) == []


async def test_viewer_cannot_trade(world: BotWorld) -> None:
    vic = world.user(VIC)
    await vic.send("/buy ETH/BTC 0.1")
    reply = await vic.next_message()
    assert "needs the trader role" in reply.text
    await vic.send("/kill")
    assert "needs the trader role" in (await vic.next_message()).text
    await world.settle()
    assert await world.services.repository.list_orders() == []


async def test_group_chat_cannot_trade(world: BotWorld) -> None:
    world.emulator.open_group(-100500, "desk")
    alice_in_group = world.user(ALICE, chat_id=-100500)
    await alice_in_group.send("/buy ETH/BTC 0.1")
    reply = await alice_in_group.next_message()
    assert "only in a private chat" in reply.text
    await alice_in_group.send("/balance")  # reading is fine in a group
    assert "Balance" in (await alice_in_group.next_message()).text


async def test_forged_expired_replayed_and_foreign_confirmations(
    world: BotWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, root = world.user(ALICE), world.user(ROOT)
    await root.send("/start")
    await root.next_message()
    await alice.send("/buy ETH/BTC 0.1")
    preview = await alice.next_message()
    data = data_of(preview, "✅ Confirm")
    emulator, token = world.emulator, world.token

    def toast(query_id: str) -> str:
        return str(emulator.callback_answers(token)[query_id].get("text") or "")

    forged = data[:-1] + ("0" if data[-1] != "0" else "1")
    forged_id = await emulator.forged_press(token, ALICE, ALICE.id, preview.message_id, forged)
    # Root replays Alice's button data from a modified client, in his own chat.
    root_menu = root.last_message()
    assert root_menu is not None
    foreign_id = await emulator.forged_press(token, ROOT, ROOT.id, root_menu.message_id, data)
    await world.settle()
    assert "not valid" in toast(forged_id)
    assert "someone else" in toast(foreign_id)
    assert await world.services.repository.list_orders() == []

    await alice.press("✅ Confirm")  # the real owner, in time: executes once
    await alice.next_message(lambda m: "Filled" in m.text)
    replay_id = await emulator.forged_press(token, ALICE, ALICE.id, preview.message_id, data)
    await world.settle()
    assert "expired or was already used" in toast(replay_id)
    assert len(await world.services.repository.list_orders()) == 1

    await alice.send("/buy ETH/BTC 0.1")
    late = await alice.next_message(lambda m: "Risk check" in m.text)
    confirmations = world.runtime.deps.confirmations
    monkeypatch.setattr(confirmations, "_clock", lambda: time.time() + 31)
    late_id = await alice.press("✅ Confirm", message=late)
    await world.settle()
    assert "expired" in toast(late_id)
    assert len(await world.services.repository.list_orders()) == 1


async def test_two_fast_taps_make_one_order(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/buy ETH/BTC 0.1")
    preview = await alice.next_message()
    data = data_of(preview, "✅ Confirm")
    for _ in range(2):
        await world.emulator.forged_press(world.token, ALICE, ALICE.id, preview.message_id, data)
    await world.settle()
    assert len(await world.services.repository.list_orders()) == 1


async def test_wrong_webhook_secret_and_repeated_update(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/start")
    await alice.next_message()
    before = len(sent_to(world, ALICE.id))
    update = {
        "update_id": 777001,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": ALICE.id, "type": "private"},
            "from": {"id": ALICE.id, "is_bot": False, "first_name": "Alice"},
            "text": "/whoami",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
    wrong = await world.post_update(update, secret="not-the-secret")
    assert wrong.status_code == 401
    await world.settle()
    assert len(sent_to(world, ALICE.id)) == before
    for _ in range(2):
        assert (await world.post_update(update)).status_code == 200
    await world.settle()
    assert len(sent_to(world, ALICE.id)) == before + 1


@pytest.mark.parametrize("backend", ["database", pytest.param("redis", marks=pytest.mark.redis)])
async def test_trade_flow_survives_a_restart(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    overrides: dict[str, Any] = {}
    if backend == "redis":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    world = await make_world(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", **overrides)
    try:
        alice = world.user(ALICE)
        await alice.send("/buy")
        await alice.next_message()
        await alice.press("ETH/BTC")
        await alice.next_message()
        await world.settle()
        await world.stop_app()
        await world.start_app()
        await alice.send("0.5")
        preview = await alice.next_message()
        assert "Buy 0.5 ETH" in preview.text and "Risk check" in preview.text
    finally:
        await world.stop_app()
        await world.sandbox.stop()
        await world.emulator.close()


async def test_webhook_refuses_what_telegram_would_never_send(world: BotWorld) -> None:
    url, secret = world.runtime.webhook_url, world.runtime.webhook_secret
    good = {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with httpx.AsyncClient() as client:
        wrong_path = await client.post(url[:-3] + "xyz", json={"update_id": 1}, headers=good)
        assert wrong_path.status_code == 404
        assert wrong_path.json() == {"error": "not_found", "detail": "Not Found"}
        assert (await client.get(url, headers=good)).status_code == 405
        big = await client.post(url, content=b"{" + b" " * (1024 * 1024 + 1), headers=good)
        assert big.status_code == 413
        bad = await client.post(url, content=b"{nope", headers=good)
        assert bad.status_code == 400 and bad.json()["error"] == "malformed_json"
        listed = await client.post(url, json=[1, 2], headers=good)
        assert listed.status_code == 400 and listed.json()["error"] == "invalid_update"
        metrics = (await client.get(url.split("/telegram/")[0] + "/metrics")).text
    # the hot path is timed like every route, under its template and never its secret
    assert 'route="/telegram/webhook/{path_secret}"' in metrics
    assert world.runtime.path_secret not in metrics


async def test_rate_limit_breach_is_refused_and_reported_once_to_the_admins(
    tmp_path: Path,
) -> None:
    world = await make_world(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", commands_per_minute=3
    )
    try:
        alice, root = world.user(ALICE), world.user(ROOT)
        await root.send("/start")
        await root.next_message()
        for _ in range(3):
            await alice.send("/whoami")
            await alice.next_message()
        for _ in range(2):
            await alice.send("/whoami")
            refused = await alice.next_message(lambda m: "Slow down" in m.text)
            assert "try again in" in refused.text
        report = await root.next_message(lambda m: "Rate limit" in m.text)
        assert "alice" in report.text and "3 commands a minute" in report.text
        await world.settle()
        assert sum("Rate limit" in m.text for m in root.messages()) == 1
    finally:
        await world.stop_app()
        await world.sandbox.stop()
        await world.emulator.close()
