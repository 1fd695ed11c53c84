"""A notifier in a process of its own, for tests that kill it with SIGKILL mid-batch.

It is wired as bot/runtime.py wires it for a Redis deployment (Redis Streams bus, the
delivery ledger next to the stream, the one sender), prints ``ready`` once reading, and
runs until killed. Arguments: database URL, Redis URL, stream, consumer, Bot API base.
"""

from __future__ import annotations

import asyncio
import sys

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tests.integration.notify.harness import TOKEN
from tradedeck.notify.ledger import RedisDeliveryLedger
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.redis_bus import RedisStreamsBus
from tradedeck.notify.sender import TelegramSender
from tradedeck.storage.db import make_engine
from tradedeck.storage.repository import Repository


async def main(database_url: str, redis_url: str, stream: str, consumer: str, api: str) -> None:
    repo = Repository(make_engine(database_url))
    bus = RedisStreamsBus.from_url(redis_url, stream=stream, consumer=consumer)
    ledger = RedisDeliveryLedger(bus.client, prefix=f"{stream}:sent:")
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    notifier = Notifier(bus, TelegramSender(bot, per_chat_interval=0.0), repo, ledger=ledger)
    await notifier.start()
    await bus.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
