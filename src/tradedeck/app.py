"""create_app(settings) -> FastAPI: the composition root of the HTTP process.

Nothing happens at import; the lifespan starts the core and the Telegram face and stops
them, so tests can build as many independent apps as they like.

Some settings can only be checked while starting (a market missing from the catalog, a
strategy that is not there): start-up then fails with :class:`StartupRefused`, whose
message is for the operator as it is; `tradedeck run` prints it as one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import structlog
from fastapi import FastAPI
from pydantic import ValidationError

from tradedeck import __version__
from tradedeck.api import errors
from tradedeck.api.routers import alerts as alert_routes
from tradedeck.api.routers import backtests as backtest_routes
from tradedeck.api.routers import charts as chart_routes
from tradedeck.api.routers import control, exchange, health, markets, orders, portfolio, signals
from tradedeck.api.routers import dashboard as dashboard_routes
from tradedeck.api.routers import scans as scan_routes
from tradedeck.api.routers import strategies as strategy_routes
from tradedeck.api.routers import system as system_routes
from tradedeck.api.routers import trailing as trailing_routes
from tradedeck.api.routers.telegram import TelegramWebhook
from tradedeck.bot.runtime import SANDBOX_TOKEN, TelegramRuntime
from tradedeck.config import Settings, describe_error
from tradedeck.domain.errors import InvalidInput
from tradedeck.ops.http_metrics import RequestMetricsMiddleware
from tradedeck.ops.metrics import Metrics
from tradedeck.sandbox.app import DEFAULT_USER_ID, DEFAULT_USER_NAME, mount_sandbox
from tradedeck.sandbox.emulator import BotApiEmulator
from tradedeck.sandbox.models import SandboxUser
from tradedeck.services import Services, start_services

log = structlog.get_logger(__name__)


class StartupRefused(Exception):
    """The configuration stopped start-up; ``str(error)`` says which setting and why."""


@contextmanager
def _refused_by_configuration(app: FastAPI) -> Iterator[None]:
    """Turn a configuration error into :class:`StartupRefused`, its one-line reason also
    kept on ``app.state.startup_error`` for whoever serves the app (see ``cli.run``)."""
    try:
        yield
    except InvalidInput as error:
        message = error.detail
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        message = describe_error(error)
    else:
        return
    app.state.startup_error = message
    raise StartupRefused(message) from None


DRAIN_SECONDS = 5.0
"""How long a stopping app may take to send the Telegram messages it still holds."""


async def drain(app: FastAPI) -> None:
    """Send what the Telegram face still holds (digests, queued messages), for whoever
    serves the app to call before its server stops listening (see ``serving``)."""
    runtime: TelegramRuntime | None = getattr(app.state, "telegram", None)
    if runtime is None:
        return
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            await runtime.drain()
    except TimeoutError:
        log.warning("telegram_drain_timeout", seconds=DRAIN_SECONDS)


def create_app(settings: Settings | None = None, *, start_feed: bool = True) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    sandbox = settings.telegram == "auto" and settings.telegram_token is None
    emulator = BotApiEmulator() if sandbox else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.startup_error = None
        try:
            with _refused_by_configuration(app):
                services: Services = await start_services(
                    settings, metrics=metrics, start_feed=start_feed
                )
        except BaseException:
            if emulator is not None:
                await emulator.close()
            raise
        app.state.services = services
        runtime = None
        try:
            if settings.telegram == "auto":
                runtime = TelegramRuntime(settings, services, sandbox=sandbox)
                await runtime.start()
                app.state.telegram = runtime
            yield
        finally:
            if runtime is not None:
                await runtime.stop()
            if emulator is not None:
                await emulator.close()
            await services.stop()

    app = FastAPI(
        title="tradedeck",
        version=__version__,
        description="Self-hosted trading platform: paper trading by default, REST API v1.",
        lifespan=lifespan,
    )
    app.state.sandbox = emulator
    errors.install(app)
    for router in (health, markets, orders, portfolio, control, signals, exchange):
        app.include_router(router.router)
    app.include_router(chart_routes.router)
    app.include_router(backtest_routes.router)
    app.include_router(strategy_routes.router)
    app.include_router(scan_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(trailing_routes.router)
    app.include_router(system_routes.router)
    app.include_router(dashboard_routes.router)
    if emulator is not None:
        emulator.default_token = SANDBOX_TOKEN
        # The web chat's user has "started" the bot, so pushes before the page is opened
        # (a fill, a scan signal) wait in the chat instead of failing as "chat not found".
        emulator.user_opened(SANDBOX_TOKEN, SandboxUser(DEFAULT_USER_ID, DEFAULT_USER_NAME))
        mount_sandbox(app, emulator, "/sandbox")
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_middleware(TelegramWebhook, metrics=metrics)  # outermost: the hot path
    return app
