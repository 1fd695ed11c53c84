"""Priorities end to end: bus → notifier → sender → the sandbox Bot API over HTTP.

Scanner signals (medium) inside one window reach each chat as a single message when the
window closes; a kill switch (critical) published meanwhile arrives at once, ahead of
the digest that is still held.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.notify.harness import TOKEN, kill_switch, pipeline, scan_signal
from tradedeck.notify.events import InProcessBus
from tradedeck.notify.sender import Priority

WINDOW = 3.0


async def test_medium_events_in_one_window_arrive_as_one_message_critical_at_once(
    tmp_path: Path,
) -> None:
    async with pipeline(tmp_path, 3) as world:
        admin_chat = world.chat_of(world.users[0])
        bot = world.bot()
        bus = InProcessBus()
        notifier = world.notifier(
            bus,
            world.sender(bot),
            batch_intervals={Priority.MEDIUM: WINDOW},
            admin_chat=admin_chat,
        )
        await notifier.start()
        await bus.start()
        try:
            for symbol, score in (("ETH/BTC", 0.7), ("LTC/BTC", -0.6), ("ADA/BTC", 0.9)):
                await bus.publish(scan_signal(symbol, score))
            await bus.publish(kill_switch("daily drawdown"))
            await bus.join()
            alert = await world.emulator.wait_for_message(
                TOKEN, admin_chat, lambda m: "Kill switch" in m.text
            )
            assert alert.text.startswith("🛑 Kill switch activated by risk: daily drawdown")
            # The kill switch did not wait for the digest, which is still being held.
            assert notifier.batched == 9
            assert world.texts(admin_chat) == [alert.text]
            for user in world.users:
                chat = world.chat_of(user)
                digest = await world.emulator.wait_for_message(
                    TOKEN, chat, lambda m: m.text.startswith("🗂"), timeout=WINDOW + 10
                )
                assert digest.text.startswith("🗂 3 notifications from the last 3 s")
                assert [s in digest.text for s in ("ETH/BTC", "LTC/BTC", "ADA/BTC")] == [True] * 3
                assert digest.html.count("<b>") == 4  # the header and one title per signal
            await asyncio.wait_for(notifier.join(), 10)
        finally:
            await bus.stop()
            await notifier.stop()
            await bot.session.close()
        # One digest per chat, and the kill switch once, in the admin channel only.
        assert world.texts(admin_chat)[0] == alert.text
        assert [len(world.texts(world.chat_of(u))) for u in world.users] == [2, 1, 1]
