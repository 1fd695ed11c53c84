"""The bot's life in the app: which mode, which Bot API server, start and stop.

- webhook: a token and a public URL; setWebhook with a secret on start, deleteWebhook on stop
- polling: a token alone; long polling in this process
- sandbox: no token; the local Bot API emulator inside this app, reached over HTTP like
  Telegram, with updates delivered to our own webhook route

Registration (setMyCommands, setWebhook) runs in a background task with retries: in
sandbox mode the Bot API server is this very process, which only starts listening once
start-up is over, and a real Telegram outage must not stop the platform from starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
from typing import Any, Literal

import structlog
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import BotCommandScopeDefault

from tradedeck.bot.commands import menu, set_chat_commands
from tradedeck.bot.context import BotDeps
from tradedeck.bot.middlewares import AuditMiddleware, AuthMiddleware, GuardMiddleware
from tradedeck.bot.routers import build_router
from tradedeck.bot.session import JsonAiohttpSession
from tradedeck.config import Settings
from tradedeck.domain.roles import Role
from tradedeck.notify.ledger import RedisDeliveryLedger
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.redis_bus import RedisStreamsBus
from tradedeck.notify.sender import Priority, TelegramSender
from tradedeck.security.audit import AuditTrail
from tradedeck.security.confirmations import ConfirmationService
from tradedeck.security.oneshot import GroupClaimer
from tradedeck.security.ratelimit import make_rate_limiter
from tradedeck.services import Services
from tradedeck.storage.fsm import make_fsm_storage
from tradedeck.storage.kv import make_kv_store, make_oneshot_store

log = structlog.get_logger(__name__)

SANDBOX_TOKEN = "1000000001:tradedeck-local-sandbox"  # noqa: S105 - local emulator only
SANDBOX_ADMIN_ID = 1001
WEBHOOK_PATH = "/telegram/webhook"
UPDATE_DEDUP_SECONDS = 24 * 3600
MAX_IN_FLIGHT = 256
RECENT_UPDATES = 100_000
Mode = Literal["webhook", "polling", "sandbox"]


def local_base(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Direct replies honour Telegram's retry_after instead of failing the handler."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for _ in range(3):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as flood:
                await asyncio.sleep(min(flood.retry_after, 30))
        return await make_request(bot, method)


class TelegramRuntime:
    def __init__(self, settings: Settings, services: Services, *, sandbox: bool) -> None:
        self.settings = settings
        self.services = services
        self.mode: Mode = "sandbox" if sandbox else "webhook" if settings.public_url else "polling"
        token = SANDBOX_TOKEN if sandbox else settings.telegram_token.get_secret_value()  # type: ignore[union-attr]
        self.token = token
        self._bot_id = token.split(":", 1)[0]
        base = f"{local_base(settings)}/sandbox" if sandbox else settings.telegram_api_base
        self.api_base = base
        self.public_url = local_base(settings) if sandbox else settings.public_url
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._recent: set[int] = set()
        self._registration: asyncio.Task[None] | None = None
        self._polling: asyncio.Task[None] | None = None
        self.webhook_secret = ""
        self.path_secret = ""
        self.bot: Bot
        self.dispatcher: Dispatcher
        self.deps: BotDeps
        self.dedup: GroupClaimer
        self._storage: BaseStorage
        self._sender_bot: Bot

    def _bot(self, *, retry: bool) -> Bot:
        session = JsonAiohttpSession(api=TelegramAPIServer.from_base(self.api_base))
        if retry:
            session.middleware(RetryAfterMiddleware())
        return Bot(
            self.token,
            session=session,
            default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
        )

    async def _secret(self, key: str, configured: str | None) -> str:
        """A configured secret, or one generated once and kept in the database."""
        if configured:
            return configured
        repo = self.services.repository
        stored = await repo.get_setting(key)
        if stored:
            return stored
        value = secrets.token_urlsafe(32)
        await repo.set_setting(key, value, "telegram")
        return value

    async def start(self) -> None:
        settings, services = self.settings, self.services
        repo, engine = services.repository, services.repository.engine
        configured = settings.telegram_webhook_secret
        self.webhook_secret = await self._secret(
            "telegram_webhook_secret", configured.get_secret_value() if configured else None
        )
        self.path_secret = hashlib.sha256(self.webhook_secret.encode()).hexdigest()[:24]
        confirm_secret = await self._secret("confirmation_secret", None)

        for telegram_id in settings.telegram_admins:
            await repo.ensure_telegram_admin(telegram_id)
        if self.mode == "sandbox" and not settings.telegram_admins:
            await repo.ensure_telegram_admin(SANDBOX_ADMIN_ID)

        self.bot = self._bot(retry=True)
        self._sender_bot = self._bot(retry=False)
        sender = TelegramSender(self._sender_bot)
        bus = services.bus
        notifier = Notifier(
            bus,
            sender,
            repo,
            batch_intervals={
                Priority.MEDIUM: settings.notify_medium_interval_seconds,
                Priority.LOW: settings.notify_low_interval_seconds,
            },
            # Only a durable bus redelivers, so only it needs the record of deliveries.
            ledger=RedisDeliveryLedger(
                bus.client,
                prefix=f"{bus.stream}:sent:",
                ttl=settings.notify_dedup_ttl_seconds,
            )
            if isinstance(bus, RedisStreamsBus)
            else None,
            admin_chat=settings.telegram_admin_chat,
            max_age=settings.notify_dedup_ttl_seconds,
        )
        audit = AuditTrail(repo)
        self.deps = BotDeps(
            services=services,
            settings=settings,
            confirmations=ConfirmationService(
                make_kv_store(engine, settings.redis_url), confirm_secret.encode()
            ),
            limiter=make_rate_limiter(settings.redis_url),
            audit=audit,
            notifier=notifier,
        )
        self.dedup = GroupClaimer(
            make_oneshot_store(engine, settings.redis_url), UPDATE_DEDUP_SECONDS
        )
        self._storage = make_fsm_storage(engine, settings.redis_url)
        isolation: BaseEventIsolation = (
            self._storage.create_isolation()  # type: ignore[attr-defined]
            if settings.redis_url
            else SimpleEventIsolation()
        )
        dp = Dispatcher(storage=self._storage, events_isolation=isolation)
        dp["deps"] = self.deps
        for observer in (dp.message, dp.callback_query):
            observer.outer_middleware(AuthMiddleware(self.deps))
            observer.middleware(AuditMiddleware(self.deps))
            observer.middleware(GuardMiddleware(self.deps))
        dp.include_router(build_router())
        self.dispatcher = dp

        await notifier.start()  # starts its sender too
        await audit.start()
        self._registration = asyncio.create_task(self._register(), name="telegram-register")
        log.info("telegram_started", mode=self.mode, api=self.api_base)

    @property
    def webhook_url(self) -> str:
        return f"{self.public_url}{WEBHOOK_PATH}/{self.path_secret}"

    async def _register(self) -> None:
        delay = 0.2
        while True:
            try:
                if self.mode == "polling":
                    await self.bot.delete_webhook(drop_pending_updates=False)
                    self._polling = asyncio.create_task(
                        self.dispatcher.start_polling(
                            self.bot, handle_signals=False, close_bot_session=False
                        ),
                        name="telegram-polling",
                    )
                else:
                    await self.bot.set_webhook(
                        url=self.webhook_url,
                        secret_token=self.webhook_secret,
                        drop_pending_updates=True,
                        allowed_updates=self.dispatcher.resolve_used_update_types(),
                    )
                log.info("telegram_registered", mode=self.mode)
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.info("telegram_register_retry", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        await self._set_commands()

    async def _set_commands(self) -> None:
        """The command menu each user sees matches what their role may use."""
        with contextlib.suppress(TelegramAPIError):
            await self.bot.set_my_commands(menu(Role.VIEWER), scope=BotCommandScopeDefault())
        for user in await self.services.repository.telegram_users():
            if user.telegram_id and user.role is not Role.VIEWER:
                await set_chat_commands(self.bot, user.telegram_id, user.role)

    def secret_matches(self, path_secret: str, header: str | None) -> tuple[bool, bool]:
        """(path ok, header ok), both compared in constant time."""
        path_ok = hmac.compare_digest(path_secret.encode(), self.path_secret.encode())
        header_ok = header is not None and hmac.compare_digest(
            header.encode(), self.webhook_secret.encode()
        )
        return path_ok, header_ok

    async def accept(self, update: dict[str, Any]) -> bool:
        """Queue an update for the dispatcher unless its id was seen; False for a repeat.

        At most ``MAX_IN_FLIGHT`` updates are handled at once; beyond that the webhook
        answers only when a slot frees up, so Telegram (which waits for our answer before
        sending more on a connection) slows down instead of us queueing without bound.
        """
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or update_id in self._recent:
            return False
        if len(self._recent) >= RECENT_UPDATES:
            self._recent.clear()
        self._recent.add(update_id)
        await self._slots.acquire()
        task = asyncio.create_task(self._feed(update_id, update))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return True

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _feed(self, update_id: int, update: dict[str, Any]) -> None:
        """The durable check (Redis or the database) runs here, off the webhook's answer:
        it catches a repeat that arrives after a restart. Claims made while one is being
        written share the next write (group commit), so a burst costs a few round trips."""
        try:
            if await self.dedup.claim(f"tg-update:{self._bot_id}:{update_id}"):
                await self.dispatcher.feed_raw_update(self.bot, update)
        except Exception:
            log.exception("telegram_update_failed", update_id=update_id)

    async def join(self) -> None:
        """Wait for the updates being handled (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def drain(self) -> None:
        """Send the digests held and every queued message now. For whoever serves the app,
        before its server stops listening: in sandbox mode the Bot API is that very server,
        so once it closes nothing gets through. Unbounded: the caller sets the deadline."""
        await self.join()
        if self.deps.notifier is not None:
            await self.deps.notifier.flush()
            await self.deps.notifier.join()

    async def stop(self) -> None:
        if self._registration is not None:
            self._registration.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._registration
        if self._polling is not None:
            with contextlib.suppress(RuntimeError):
                await self.dispatcher.stop_polling()
            # A long poll in flight would hold shutdown for its whole timeout.
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._polling
        await self.join()
        await self.deps.cancel_background()
        if self.mode == "webhook":
            with contextlib.suppress(Exception):
                await self.bot.delete_webhook()
        if self.deps.notifier is not None:
            await self.deps.notifier.stop()
        await self.deps.audit.stop()
        await self.deps.limiter.close()
        await self._storage.close()
        await self.dedup.close()
        await self.bot.session.close()
        await self._sender_bot.session.close()
