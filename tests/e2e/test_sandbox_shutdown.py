"""Stopping `tradedeck run` in sandbox mode, where the Bot API is the app's own server:
the messages the app still holds reach the local chat before that server stops
listening, instead of ten seconds of retries against a closed port and then nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Served, bound_socket, make_settings
from tradedeck.app import create_app
from tradedeck.bot.runtime import SANDBOX_ADMIN_ID, SANDBOX_TOKEN, TelegramRuntime
from tradedeck.notify.events import Event, EventType
from tradedeck.sandbox.emulator import BotApiEmulator


async def test_stopping_delivers_the_held_digest_to_the_sandbox_chat(tmp_path: Path) -> None:
    sock = bound_socket()
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        telegram="auto",
        port=sock.getsockname()[1],
    )
    app = create_app(settings, start_feed=False)
    served = Served(app, sock)
    await served.start()
    runtime: TelegramRuntime = app.state.telegram
    emulator: BotApiEmulator = app.state.sandbox
    notifier = runtime.deps.notifier
    assert notifier is not None
    try:
        signal = {"symbol": "ETH/BTC", "timeframe": "5m", "signal": "buy", "score": 0.9}
        await app.state.services.bus.publish(Event(type=EventType.SCAN_SIGNAL, data=signal))
        for _ in range(500):
            if notifier.batched:
                break
            await asyncio.sleep(0.01)
        assert notifier.batched == 1, "the scanner signal should wait in its digest"
        assert emulator.messages(SANDBOX_TOKEN, SANDBOX_ADMIN_ID) == []
    finally:
        await served.stop()

    texts = [m.text or "" for m in emulator.messages(SANDBOX_TOKEN, SANDBOX_ADMIN_ID)]
    assert any("Buy signal" in t and "ETH/BTC" in t for t in texts), texts
