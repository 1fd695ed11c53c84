"""A flood of notifications through the real pipeline into the sandbox's flood control.

1,000 fills for 50 traders (20 each) go bus → notifier → sender → Bot API emulator over
HTTP, with Telegram's own limits on both sides: the emulator refuses what Telegram would
(429 with retry_after), the sender paces to 1 message/s per chat and 30/s overall. Every
message must arrive once, in order, and the emulator's call log must show the limits
kept. One chat starts with its burst used up, so its first notification meets a 429 that
has to be waited out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.notify.harness import (
    fill,
    fill_text,
    gaps,
    max_in_window,
    pipeline,
)
from tradedeck.notify.events import InProcessBus
from tradedeck.sandbox.emulator import FloodLimits

USERS = 50
PER_USER = 20
TOLERANCE = 0.01


async def test_thousand_notifications_to_fifty_chats_keep_every_limit(tmp_path: Path) -> None:
    limits = FloodLimits()  # Telegram's: 1/s per chat (burst 3), 30/s overall
    async with pipeline(tmp_path, USERS, limits=limits) as world:
        throttled = world.chat_of(world.users[0])
        bot = world.bot()
        # Someone else already spent this chat's burst: the sandbox answers 429 next.
        for i in range(limits.per_chat_burst):
            await bot.send_message(throttled, f"earlier message {i}")
        sender = world.sender(bot)
        bus = InProcessBus()
        notifier = world.notifier(bus, sender)
        await notifier.start()
        await bus.start()
        try:
            for n in range(PER_USER):
                for user in world.users:
                    await bus.publish(fill(user, n * USERS + world.users.index(user)))
            await bus.join()
            await asyncio.wait_for(notifier.join(), timeout=180)
        finally:
            await bus.stop()
            await notifier.stop()
            await bot.session.close()

        for index, user in enumerate(world.users):
            chat = world.chat_of(user)
            received = [t for t in world.texts(chat) if not t.startswith("earlier message")]
            assert received == [fill_text(n * USERS + index) for n in range(PER_USER)]
        assert (sender.sent, sender.dropped) == (USERS * PER_USER, 0)

        calls = world.sends()
        accepted = [c for c in calls if c.ok]
        refused = [c for c in calls if not c.ok]
        assert len(accepted) == USERS * PER_USER + limits.per_chat_burst
        assert all(c.status == 429 for c in refused), {c.description for c in refused}
        # The throttled chat's 429 was waited out: its next try came retry_after later.
        first_refusal = next(c for c in refused if int(c.params["chat_id"]) == throttled)
        retry = next(
            c
            for c in accepted
            if int(c.params["chat_id"]) == throttled and c.time > first_refusal.time
        )
        assert retry.time - first_refusal.time >= 1.0 - TOLERANCE
        # What Telegram accepted stays within its limits, checked on the arrival times.
        assert max_in_window((c.time for c in accepted), 1.0) <= limits.global_per_second
        for user in world.users[1:]:
            chat = world.chat_of(user)
            arrivals = [c.time for c in accepted if int(c.params["chat_id"]) == chat]
            assert len(arrivals) == PER_USER
            assert min(gaps(arrivals)) >= 1.0 - TOLERANCE
        # The sender itself never overshot: apart from the throttled chat, the only refusals
        # fall in the second of the earlier messages, which it could not know about.
        earlier = max(c.time for c in accepted if c.params["text"].startswith("earlier"))
        assert all(int(c.params["chat_id"]) == throttled or c.time < earlier + 1.0 for c in refused)
