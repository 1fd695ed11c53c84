"""The outbound queue's pacing and retries, against a fake bot on a fake clock.

Fake time makes the limits exact: a send at t=1.0 after one at t=0.0 is checked to the
microsecond, and a minute of group pacing runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from structlog.testing import capture_logs

from tradedeck.notify.sender import DOCUMENT_NAME, Priority, TelegramSender

TOKEN = "123456:SECRET-token-value"
EPS = 1e-9
METHOD = SendMessage(chat_id=1, text="x")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Call:
    at: float
    chat_id: int
    text: str
    kwargs: dict[str, Any]


@dataclass
class FakeBot:
    """Records every request; ``script`` gives per-chat outcomes for successive requests
    (an exception to raise, an asyncio.Event to wait for, or None for success)."""

    clock: FakeClock
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    documents: list[Call] = field(default_factory=list)
    script: dict[int, list[BaseException | asyncio.Event | None]] = field(default_factory=dict)

    async def _outcome(self, chat_id: int) -> None:
        steps = self.script.get(chat_id)
        step = steps.pop(0) if steps else None
        if isinstance(step, asyncio.Event):
            await step.wait()
        elif step is not None:
            raise step

    async def send_message(self, *, chat_id: int, text: str, **kwargs: Any) -> None:
        self.calls.append(Call(self.clock(), chat_id, text, kwargs))
        await self._outcome(chat_id)

    async def send_document(
        self, *, chat_id: int, document: BufferedInputFile, **kwargs: Any
    ) -> None:
        self.documents.append(Call(self.clock(), chat_id, document.filename or "", kwargs))
        kwargs["data"] = document.data
        await self._outcome(chat_id)

    def delivered(self, chat_id: int) -> list[str]:
        return [c.text for c in self.calls if c.chat_id == chat_id]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bot(clock: FakeClock) -> FakeBot:
    return FakeBot(clock)


def make_sender(bot: FakeBot, clock: FakeClock, **options: Any) -> TelegramSender:
    return TelegramSender(cast(Bot, bot), clock=clock, sleep=clock.sleep, **options)


async def drain(sender: TelegramSender) -> None:
    await sender.start()
    await asyncio.wait_for(sender.join(), timeout=10)
    await sender.stop()


def times(bot: FakeBot, chat_id: int) -> list[float]:
    return [c.at for c in bot.calls if c.chat_id == chat_id]


async def test_each_chat_keeps_its_order_and_per_chat_spacing(
    bot: FakeBot, clock: FakeClock
) -> None:
    sender = make_sender(bot, clock, per_chat_interval=1.0)
    chats = [11, 22, 33]
    for i in range(10):
        for chat in chats:
            await sender.send(chat, f"m{i}")
    await drain(sender)
    for chat in chats:
        assert bot.delivered(chat) == [f"m{i}" for i in range(10)]
        sent_at = times(bot, chat)
        assert all(b - a >= 1.0 - EPS for a, b in itertools.pairwise(sent_at))
    # Chats do not wait for each other: the three first messages leave together.
    assert [times(bot, c)[0] for c in chats] == [0.0, 0.0, 0.0]
    assert (sender.sent, sender.dropped, sender.retried) == (30, 0, 0)
    assert all(c.kwargs["parse_mode"] == "HTML" for c in bot.calls)


async def test_group_chats_get_at_most_n_per_minute(bot: FakeBot, clock: FakeClock) -> None:
    sender = make_sender(bot, clock, per_chat_interval=0.1, group_per_minute=20)
    for i in range(45):
        await sender.send(-100123, f"g{i}")
    await sender.send(555, "private")
    await drain(sender)
    sent_at = times(bot, -100123)
    assert bot.delivered(-100123) == [f"g{i}" for i in range(45)]
    # Any 20 consecutive sends span at least a minute, so no minute holds 21.
    assert all(sent_at[i + 20] - sent_at[i] >= 60.0 - EPS for i in range(len(sent_at) - 20))
    assert sent_at[-1] >= 120.0 - EPS
    assert times(bot, 555) == [0.0]


async def test_global_rate_is_never_exceeded(bot: FakeBot, clock: FakeClock) -> None:
    sender = make_sender(bot, clock, per_chat_interval=1.0, global_per_second=30)
    for i in range(3):
        for chat in range(1, 51):
            await sender.send(chat, f"c{chat}-{i}")
    await drain(sender)
    sent_at = sorted(c.at for c in bot.calls)
    assert len(sent_at) == 150
    assert all(sent_at[i + 30] - sent_at[i] >= 1.0 - EPS for i in range(len(sent_at) - 30))
    for chat in range(1, 51):
        assert bot.delivered(chat) == [f"c{chat}-{i}" for i in range(3)]


async def test_retry_after_is_waited_out_for_that_chat_only(bot: FakeBot, clock: FakeClock) -> None:
    bot.script[1] = [TelegramRetryAfter(METHOD, "Too Many Requests", retry_after=5)]
    sender = make_sender(bot, clock)
    await sender.send(1, "first")
    await sender.send(1, "second")
    await sender.send(2, "other")
    await sender.send(2, "other again")
    await drain(sender)
    assert bot.delivered(1) == ["first", "first", "second"]
    first, retry, second = times(bot, 1)
    assert retry - first >= 5.0 - EPS
    assert second - retry >= 1.0 - EPS
    assert times(bot, 2) == [0.0, 1.0]  # not held up by chat 1's flood control
    assert (sender.sent, sender.dropped, sender.retried) == (4, 0, 1)


async def test_flood_on_two_chats_at_once_pauses_everyone(bot: FakeBot, clock: FakeClock) -> None:
    for chat in (1, 2):
        bot.script[chat] = [TelegramRetryAfter(METHOD, "Too Many Requests", retry_after=7)]
    gate = asyncio.Event()
    bot.script[3] = [gate]  # holds chat 3's first request until both floods are known
    sender = make_sender(bot, clock)
    for chat in (1, 2, 3):
        await sender.send(chat, "a")
    await sender.send(3, "b")
    await sender.start()
    for _ in range(50):
        await asyncio.sleep(0)
    gate.set()
    await asyncio.wait_for(sender.join(), timeout=10)
    await sender.stop()
    assert times(bot, 3)[1] >= 7.0 - EPS  # chat 3 was never throttled, yet waited
    assert bot.delivered(1) == ["a", "a"] and bot.delivered(2) == ["a", "a"]


@pytest.mark.parametrize(
    "error",
    [
        TelegramBadRequest(METHOD, "Bad Request: can't parse entities"),
        TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"),
        TelegramUnauthorizedError(METHOD, "Unauthorized"),
    ],
    ids=["400", "403", "401"],
)
async def test_permanent_errors_are_never_retried(
    bot: FakeBot, clock: FakeClock, error: Exception
) -> None:
    bot.script[7] = [error]
    sender = make_sender(bot, clock)
    await sender.send(7, "doomed")
    await sender.send(7, "fine")
    with capture_logs() as logs:
        await drain(sender)
    assert bot.delivered(7) == ["doomed", "fine"]
    assert (sender.sent, sender.dropped, sender.retried) == (1, 1, 0)
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["telegram_send_failed"]


async def test_network_errors_back_off_exponentially_then_give_up(
    bot: FakeBot, clock: FakeClock
) -> None:
    leak = f"Cannot connect to https://api.telegram.org/bot{TOKEN}/sendMessage"
    bot.script[5] = [TelegramNetworkError(METHOD, leak) for _ in range(4)]
    sender = make_sender(bot, clock, per_chat_interval=0.0, max_attempts=4)
    await sender.send(5, "private words")
    await sender.send(5, "after")
    with capture_logs() as logs:
        await drain(sender)
    assert bot.delivered(5) == ["private words"] * 4 + ["after"]
    sent_at = times(bot, 5)
    gaps = [b - a for a, b in itertools.pairwise(sent_at[:4])]
    assert gaps == pytest.approx([0.5, 1.0, 2.0])
    assert (sender.sent, sender.dropped, sender.retried) == (1, 1, 3)
    rendered = repr(logs)
    assert TOKEN not in rendered and "SECRET" not in rendered
    assert "private words" not in rendered
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["telegram_send_gave_up"]


async def test_backoff_is_capped_and_transient_errors_recover(
    bot: FakeBot, clock: FakeClock
) -> None:
    bot.script[5] = [TelegramServerError(METHOD, "Bad Gateway") for _ in range(8)] + [
        TimeoutError()
    ]
    sender = make_sender(bot, clock, per_chat_interval=0.0, max_attempts=10)
    await sender.send(5, "eventually")
    await drain(sender)
    sent_at = times(bot, 5)
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert gaps == pytest.approx([0.5, 1, 2, 4, 8, 16, 30, 30, 30])
    assert (sender.sent, sender.dropped, sender.retried) == (1, 0, 9)


async def test_a_stuck_chat_does_not_block_the_others(bot: FakeBot, clock: FakeClock) -> None:
    gate = asyncio.Event()
    bot.script[1] = [gate]
    sender = make_sender(bot, clock, per_chat_interval=0.0)
    await sender.send(1, "stuck")
    await sender.send(1, "behind the stuck one")
    for i in range(5):
        await sender.send(2, f"free {i}")
    await sender.start()
    for _ in range(100):
        if len(bot.delivered(2)) == 5:
            break
        await asyncio.sleep(0)
    assert bot.delivered(2) == [f"free {i}" for i in range(5)]
    assert bot.delivered(1) == ["stuck"]
    gate.set()
    await asyncio.wait_for(sender.join(), timeout=10)
    await sender.stop()
    assert bot.delivered(1) == ["stuck", "behind the stuck one"]


async def test_urgent_messages_jump_the_queue_equal_ones_keep_order(
    bot: FakeBot, clock: FakeClock
) -> None:
    sender = make_sender(bot, clock)
    for i in range(3):
        await sender.send(9, f"low {i}", priority=Priority.LOW)
    await sender.send(9, "kill switch", priority=Priority.CRITICAL)
    await sender.send(9, "fill", priority=Priority.HIGH)
    await drain(sender)
    assert bot.delivered(9) == ["kill switch", "fill", "low 0", "low 1", "low 2"]


async def test_long_text_is_split_with_one_ping_and_the_keyboard_last(
    bot: FakeBot, clock: FakeClock
) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data="ok")]]
    )
    text = "<pre>" + "\n".join(f"row {i:04d} " + "-" * 40 for i in range(200)) + "</pre>"
    gate = asyncio.Event()
    bot.script[3] = [gate]
    sender = make_sender(bot, clock)
    await sender.send(3, text, reply_markup=markup)
    await sender.start()
    for _ in range(100):
        if bot.calls:
            break
        await asyncio.sleep(0)
    # Urgent, but a message already begun is finished first: no part lands in between.
    await sender.send(3, "next", priority=Priority.CRITICAL)
    gate.set()
    await drain(sender)
    parts = bot.calls[:-1]
    assert len(parts) == 3 and bot.calls[-1].text == "next"
    assert all(len(p.text) <= 4096 and p.text.startswith("<pre>") for p in parts)
    assert [p.kwargs["disable_notification"] for p in parts] == [False, True, True]
    assert [p.kwargs["reply_markup"] for p in parts] == [None, None, markup]
    assert sender.sent == 2


async def test_very_long_text_becomes_a_plain_text_document(bot: FakeBot, clock: FakeClock) -> None:
    text = "<b>Audit log</b>\n" + "\n".join(f"{i} a &amp; b" + "." * 90 for i in range(400))
    sender = make_sender(bot, clock)
    await sender.send(4, text)
    await drain(sender)
    assert bot.calls == []
    (doc,) = bot.documents
    assert doc.text == DOCUMENT_NAME
    assert doc.kwargs["caption"] == "Audit log"
    data = doc.kwargs["data"]
    assert data.startswith(b"Audit log\n0 a & b") and b"<b>" not in data
    assert sender.sent == 1


async def test_migrated_group_gets_the_message_and_later_ones(
    bot: FakeBot, clock: FakeClock
) -> None:
    bot.script[-1] = [TelegramMigrateToChat(METHOD, "migrated", migrate_to_chat_id=-1009)]
    sender = make_sender(bot, clock)
    await sender.send(-1, "hello")
    await sender.send(-1, "again")
    await sender.start()
    await asyncio.wait_for(sender.join(), timeout=10)
    await sender.send(-1, "later")
    await asyncio.wait_for(sender.join(), timeout=10)
    await sender.stop()
    assert bot.delivered(-1) == ["hello"]
    assert bot.delivered(-1009) == ["hello", "again", "later"]
    assert (sender.sent, sender.dropped) == (3, 0)


async def test_stop_drains_then_gives_up_and_refuses_new_messages(
    bot: FakeBot, clock: FakeClock
) -> None:
    gate = asyncio.Event()
    bot.script[1] = [gate]
    sender = make_sender(bot, clock)
    await sender.send(2, "delivered")
    await sender.send(1, "hangs forever")
    await sender.send(1, "never")
    await sender.start()
    await sender.stop(drain_timeout=0.2)
    assert bot.delivered(2) == ["delivered"]
    assert (sender.sent, sender.dropped, sender.pending) == (1, 2, 0)
    await sender.send(2, "too late")
    assert sender.dropped == 3
    await asyncio.wait_for(sender.join(), timeout=1)


async def test_empty_text_is_a_caller_bug(bot: FakeBot, clock: FakeClock) -> None:
    sender = make_sender(bot, clock)
    with pytest.raises(ValueError):
        await sender.send(1, "<b> </b>")


async def test_many_chats_mixed_traffic_respects_every_limit(
    bot: FakeBot, clock: FakeClock
) -> None:
    """A soak of private and group chats with random floods: every limit at every step."""
    import random

    rng = random.Random(7)
    chats = [*range(1, 31), *range(-30, 0)]
    for chat in rng.sample(chats, 8):
        bot.script[chat] = [TelegramRetryAfter(METHOD, "flood", retry_after=rng.randint(1, 4))]
    sender = make_sender(bot, clock, per_chat_interval=1.0, group_per_minute=20)
    expected: dict[int, list[str]] = {c: [] for c in chats}
    for i in range(400):
        chat = rng.choice(chats)
        expected[chat].append(f"{chat}:{i}")
        await sender.send(chat, f"{chat}:{i}")
    await drain(sender)
    successes: Callable[[int], list[str]] = lambda chat: list(  # noqa: E731
        dict.fromkeys(bot.delivered(chat))
    )
    for chat in chats:
        assert successes(chat) == expected[chat]
        sent_at = times(bot, chat)
        assert all(b - a >= 1.0 - EPS for a, b in itertools.pairwise(sent_at))
        if chat < 0:
            assert all(sent_at[i + 20] - sent_at[i] >= 60 - EPS for i in range(len(sent_at) - 20))
    everything = sorted(c.at for c in bot.calls)
    assert all(everything[i + 30] - everything[i] >= 1 - EPS for i in range(len(everything) - 30))
    counts = Counter(c.text for c in bot.calls)
    assert sum(n - 1 for n in counts.values()) == sender.retried == 8
    assert sender.sent == 400
