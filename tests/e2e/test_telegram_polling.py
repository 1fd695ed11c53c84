"""Long polling (a token and no public URL): the bot pulls updates with getUpdates."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.conftest import ADMIN, Served, bound_socket, make_settings
from tests.e2e.conftest import ALICE
from tradedeck.app import create_app
from tradedeck.sandbox.app import create_sandbox_app
from tradedeck.sandbox.driver import TelegramUser
from tradedeck.sandbox.emulator import BotApiEmulator, FloodLimits


async def test_polling_mode_answers_without_a_webhook(tmp_path: Path) -> None:
    emulator = BotApiEmulator(limits=FloodLimits(enabled=False))
    sandbox = Served(create_sandbox_app(emulator), bound_socket())
    await sandbox.start()
    token = f"{secrets.randbelow(10**9) + 10**9}:polling-test-token"
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'poll.db'}",
        telegram="auto",
        telegram_token=token,
        telegram_api_base=sandbox.url,
    )
    app = Served(create_app(settings, start_feed=False), bound_socket())
    await app.start()
    try:
        services = app.server.config.app.state.services
        await services.users.create(ADMIN, "alice", "trader", ALICE.id)
        assert app.server.config.app.state.telegram.mode == "polling"
        alice = TelegramUser(emulator, token, ALICE)
        await alice.send("/whoami")
        reply = await alice.next_message(timeout=10)
        assert "alice" in reply.text and "role trader" in reply.text
        calls = {c.method for c in emulator.calls(token)}
        assert "getUpdates" in calls and "setWebhook" not in calls
    finally:
        await app.stop()
        await emulator.close()  # ends the long poll still open on the server side
        await sandbox.stop()
