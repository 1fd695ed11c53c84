"""A trader's day on Telegram, end to end: the real app in webhook mode, the sandbox Bot
API over real HTTP, and users who type and tap like people do."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.conftest import ALICE, ROOT, VIC, BotWorld, labels


async def test_start_and_balance(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/start")
    menu = await alice.next_message()
    assert "Hi alice (trader)" in menu.text
    assert "💼 Portfolio" in labels(menu)
    await alice.send("/balance")
    balance = await alice.next_message()
    assert "Balance" in balance.text and "BTC" in balance.text and "equity" in balance.text
    await alice.press("🔄 Refresh")
    await world.settle()


async def test_full_buy_flow_fills_and_notifies(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/buy")
    picker = await alice.next_message()
    assert "which market" in picker.text
    await alice.press("ETH/BTC")
    prompt = await alice.next_message()
    assert "How much ETH" in prompt.text
    await alice.send("0.5")
    preview = await alice.next_message()
    assert "Buy 0.5 ETH" in preview.text and "Risk check: ✅ passes" in preview.text
    assert "fee" in preview.text
    await alice.press("✅ Confirm")
    done = await alice.next_message(lambda m: "Filled" in m.text)
    assert "✅ Filled buy 0.5 ETH/BTC" in done.text
    await world.settle()
    position = world.services.orders.position("ETH/BTC")
    assert position is not None and position.amount == Decimal("0.5")
    notices = [m.text for m in alice.messages() if m.text.startswith("🟢 Filled")]
    assert len(notices) == 1 and "0.5 ETH/BTC" in notices[0], notices


async def test_one_line_buy_and_quick_amounts(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/buy ETH/BTC 0.25")
    preview = await alice.next_message()
    assert "Buy 0.25 ETH" in preview.text
    await alice.press("✖ Cancel")
    cancelled = await alice.next_message()
    assert "Cancelled" in cancelled.text
    await alice.send("/sell")
    await alice.next_message()
    await alice.press("ETH/BTC")
    await alice.next_message()
    await alice.press("25%")  # alice holds no ETH: a toast says so, nothing is previewed
    await world.settle()
    toasts = [
        a.get("text") or "" for a in world.emulator.callback_answers(world.runtime.token).values()
    ]
    assert any("less than the smallest amount" in t for t in toasts), toasts
    assert await world.services.repository.list_orders() == []


async def test_cancel_mid_flow(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/buy")
    await alice.next_message()
    await alice.press("ETH/BTC")
    await alice.next_message()
    await alice.send("/cancel")
    reply = await alice.next_message()
    assert "Cancelled" in reply.text
    await alice.send("0.5")  # no longer an amount: the flow is gone
    await world.settle()
    assert not any("Risk check" in m.text for m in alice.messages()[-2:])
    assert await world.services.repository.list_orders() == []


async def test_kill_refuses_buys_until_an_admin_resumes(world: BotWorld) -> None:
    root, alice = world.user(ROOT), world.user(ALICE)
    await root.send("/kill flash crash")
    ask = await root.next_message()
    assert "Activate the kill switch?" in ask.text and "flash crash" in ask.text
    await root.press("✅ Confirm")
    done = await root.next_message(lambda m: "activated" in m.text)
    assert "Kill switch activated" in done.text
    assert world.services.kill_switch.active

    await alice.send("/buy ETH/BTC 0.1")
    refused = await alice.next_message(lambda m: "Risk check" in m.text)
    assert "Risk check: ❌" in refused.text and "kill switch" in refused.text
    assert "Confirm" not in labels(refused)

    await alice.send("/resume")
    forbidden = await alice.next_message()
    assert "needs the admin role" in forbidden.text

    await root.send("/resume")
    await root.next_message(lambda m: "Resume trading?" in m.text)
    await root.press("✅ Confirm")
    await root.next_message(lambda m: "Trading resumed" in m.text)
    assert not world.services.kill_switch.active

    await alice.send("/buy ETH/BTC 0.1")
    await alice.next_message(lambda m: "Risk check: ✅" in m.text)
    await alice.press("✅ Confirm")
    await alice.next_message(lambda m: "Filled" in m.text)


async def test_the_status_screen_halts_and_resumes_trading_by_role(world: BotWorld) -> None:
    root, alice, vic = world.user(ROOT), world.user(ALICE), world.user(VIC)
    await vic.send("/status")
    assert labels(await vic.next_message()) == ["🔄 Refresh"]  # a viewer may not halt

    await alice.send("/status")
    status = await alice.next_message(lambda m: "Kill switch" in m.text)
    assert labels(status) == ["🛑 Halt trading", "🔄 Refresh"]
    await alice.press("🛑 Halt trading")
    ask = await alice.next_message(lambda m: "Activate the kill switch?" in m.text)
    assert "Reason: kill switch pulled from Telegram" in ask.text
    await alice.press("✅ Confirm")
    await alice.next_message(lambda m: "Kill switch activated" in m.text)
    assert world.services.kill_switch.active

    await alice.send("/status")
    halted = await alice.next_message(lambda m: "ACTIVE" in m.text)
    assert labels(halted) == ["🔄 Refresh"]  # only an admin resumes

    await root.send("/status")
    admin_view = await root.next_message(lambda m: "ACTIVE" in m.text)
    assert "✅ Resume trading" in labels(admin_view)
    await root.press("✅ Resume trading")
    await root.next_message(lambda m: "Resume trading?" in m.text)
    await root.press("✅ Confirm")
    await root.next_message(lambda m: "Trading resumed" in m.text)
    assert not world.services.kill_switch.active


async def test_status_help_orders_pnl_and_settings(world: BotWorld) -> None:
    alice, root = world.user(ALICE), world.user(ROOT)
    await root.send("/help")
    assert (await root.next_message()).text.startswith("Commands for an admin\n")
    for command, expected in (
        ("/status", "Kill switch"),
        ("/help", "/buy"),
        ("/whoami", "role trader"),
        ("/orders", "No open orders"),
        ("/positions", "No open positions"),
        ("/trades", "No trades yet"),
        ("/pnl week", "PnL"),
        ("/price ETH/BTC", "ETH/BTC"),
        ("/price NOPE/BTC", "no market"),
        ("/settings", "Notifications"),
    ):
        await alice.send(command)
        reply = await alice.next_message()
        assert expected.lower() in reply.text.lower(), (command, reply.text)
    await alice.press("🔔 Fills: on")
    changed = await alice.next_message()
    assert "Fills: silent" in " ".join(labels(changed))


async def test_close_sells_the_whole_position_after_a_confirmation(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/close ETH/BTC")
    nothing = await alice.next_message()
    assert nothing.text == "No open ETH/BTC position to close."
    await alice.send("/buy ETH/BTC 0.5")
    await alice.next_message(lambda m: "Risk check: ✅" in m.text)
    await alice.press("✅ Confirm")
    await alice.next_message(lambda m: "Filled" in m.text)

    await alice.send("/close ETH/BTC")
    preview = await alice.next_message(lambda m: "Risk check" in m.text)
    assert "Sell 0.5 ETH" in preview.text and "Closes the whole long position" in preview.text
    await alice.press("✅ Confirm")
    done = await alice.next_message(lambda m: "Filled sell" in m.text)
    assert "0.5 ETH/BTC" in done.text
    position = world.services.orders.position("ETH/BTC")
    assert position is not None and position.amount == 0


async def test_a_close_button_per_position_previews_and_confirms(world: BotWorld) -> None:
    alice, vic = world.user(ALICE), world.user(VIC)
    await alice.send("/buy ETH/BTC 0.5")
    await alice.next_message(lambda m: "Risk check: ✅" in m.text)
    await alice.press("✅ Confirm")
    await alice.next_message(lambda m: "Filled" in m.text)

    await vic.send("/positions")
    seen = await vic.next_message(lambda m: "Positions" in m.text)
    assert "ETH/BTC" in seen.text and labels(seen) == ["🔄 Refresh"]  # a viewer cannot close

    await world.settle()  # the fill's push is out: the next messages are the screens
    await alice.send("/positions")
    older = await alice.next_message(lambda m: "Positions" in m.text)
    await alice.send("/positions")
    positions = await alice.next_message(lambda m: "Positions" in m.text)
    assert labels(positions) == ["✖ Close ETH/BTC", "🔄 Refresh"]
    await alice.press("✖ Close ETH/BTC", message=positions)
    preview = await alice.next_message(lambda m: "Risk check" in m.text)
    assert "Sell 0.5 ETH" in preview.text and "Closes the whole long position" in preview.text
    await alice.press("✅ Confirm")
    await alice.next_message(lambda m: "Filled sell" in m.text)
    position = world.services.orders.position("ETH/BTC")
    assert position is not None and position.amount == 0

    await alice.press("✖ Close ETH/BTC", message=older)  # a screen from before the close
    stale = await alice.next_message(lambda m: "position to close" in m.text)
    assert stale.text == "No open ETH/BTC position to close."
