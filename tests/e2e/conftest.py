"""The Telegram end-to-end harness: the sandbox Bot API on its own port, the real app in
webhook mode on another, both served by uvicorn, and Telegram users driven through the
sandbox as a phone would."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, Served, bound_socket, make_settings
from tradedeck.app import create_app
from tradedeck.bot.runtime import TelegramRuntime
from tradedeck.config import Settings
from tradedeck.sandbox.app import create_sandbox_app
from tradedeck.sandbox.driver import TelegramUser
from tradedeck.sandbox.emulator import BotApiEmulator, FloodLimits
from tradedeck.sandbox.models import SandboxUser, SentMessage
from tradedeck.services import Services

ALICE = SandboxUser(id=111, first_name="Alice")  # trader
ROOT = SandboxUser(id=222, first_name="Root")  # admin
VIC = SandboxUser(id=333, first_name="Vic")  # viewer
MALLORY = SandboxUser(id=666, first_name="Mallory")  # unknown


def labels(message: SentMessage) -> list[str]:
    return [button.text for button in message.all_buttons()]


def data_of(message: SentMessage, label: str) -> str:
    button = message.button(label)
    assert button is not None and button.callback_data, f"no button {label!r}"
    return button.callback_data


@dataclass
class BotWorld:
    emulator: BotApiEmulator
    sandbox: Served
    app: Served | None
    settings: Settings

    @property
    def token(self) -> str:
        assert self.settings.telegram_token is not None
        return self.settings.telegram_token.get_secret_value()

    @property
    def services(self) -> Services:
        assert self.app is not None
        services: Services = self.app.server.config.app.state.services
        return services

    @property
    def runtime(self) -> TelegramRuntime:
        assert self.app is not None
        runtime: TelegramRuntime = self.app.server.config.app.state.telegram
        return runtime

    def user(self, who: SandboxUser, chat_id: int | None = None) -> TelegramUser:
        return TelegramUser(self.emulator, self.token, who, chat_id=chat_id)

    async def start_app(self) -> None:
        sock = bound_socket()
        port = sock.getsockname()[1]
        self.settings = self.settings.model_copy(
            update={"public_url": f"http://127.0.0.1:{port}", "port": port}
        )
        self.app = Served(create_app(self.settings, start_feed=False), sock)
        await self.app.start()
        await self.wait_registered()

    async def close(self) -> None:
        await self.stop_app()
        await self.sandbox.stop()
        await self.emulator.close()

    async def stop_app(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def wait_registered(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(500):
                info = (
                    await client.get(f"{self.sandbox.url}/bot{self.token}/getWebhookInfo")
                ).json()
                if info["result"]["url"] == self.runtime.webhook_url:
                    return
                await asyncio.sleep(0.02)
        raise AssertionError("the bot never registered its webhook")

    async def settle(self) -> None:
        """Wait until every delivered update was handled and notifications went out."""
        for _ in range(3):
            await self.emulator.wait_idle()
            await self.runtime.join()
            await self.services.bus.join()  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)
        await self.runtime.deps.audit.flush()

    async def post_update(
        self, update: dict[str, Any], secret: str | None = None
    ) -> httpx.Response:
        """What Telegram would POST: used to forge what a client cannot send."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret or self.runtime.webhook_secret}
        async with httpx.AsyncClient() as client:
            return await client.post(self.runtime.webhook_url, json=update, headers=headers)


async def make_world(tmp_path: Path, database_url: str, **overrides: Any) -> BotWorld:
    emulator = BotApiEmulator(limits=FloodLimits(enabled=False))
    sandbox = Served(create_sandbox_app(emulator), bound_socket())
    await sandbox.start()
    settings = make_settings(
        tmp_path,
        database_url,
        telegram="auto",
        # A new bot id per world: update ids restart at 1 with each emulator, and Redis
        # remembers the ids it has seen for a day, as it should for a real bot.
        telegram_token=f"{secrets.randbelow(10**9) + 10**9}:e2e-test-token-abcdef",
        telegram_api_base=sandbox.url,
        telegram_webhook_secret="e2e-webhook-secret-0123456789",
        **overrides,
    )
    world = BotWorld(emulator, sandbox, None, settings)
    await world.start_app()
    users = world.services.users
    for name, role, who in (
        ("alice", "trader", ALICE),
        ("root", "admin", ROOT),
        ("vic", "viewer", VIC),
    ):
        await users.create(ADMIN, name, role, who.id)
    return world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[BotWorld]:
    w = await make_world(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        yield w
    finally:
        await w.close()
