"""create_app(settings) -> FastAPI: the composition root of the HTTP process.

Nothing happens at import; the lifespan starts the core and the Telegram face and stops
them, so tests can build as many independent apps as they like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tradedeck import __version__
from tradedeck.api import errors
from tradedeck.api.routers import backtests as backtest_routes
from tradedeck.api.routers import charts as chart_routes
from tradedeck.api.routers import control, health, markets, orders, portfolio, signals
from tradedeck.api.routers import scans as scan_routes
from tradedeck.api.routers import strategies as strategy_routes
from tradedeck.api.routers.telegram import TelegramWebhook
from tradedeck.bot.runtime import SANDBOX_TOKEN, TelegramRuntime
from tradedeck.config import Settings
from tradedeck.ops.http_metrics import RequestMetricsMiddleware
from tradedeck.ops.metrics import Metrics
from tradedeck.sandbox.app import sandbox_router
from tradedeck.sandbox.emulator import BotApiEmulator
from tradedeck.services import Services, start_services


def create_app(settings: Settings | None = None, *, start_feed: bool = True) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    sandbox = settings.telegram == "auto" and settings.telegram_token is None
    emulator = BotApiEmulator() if sandbox else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: Services = await start_services(settings, metrics=metrics, start_feed=start_feed)
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
    for router in (health, markets, orders, portfolio, control, signals):
        app.include_router(router.router)
    app.include_router(chart_routes.router)
    app.include_router(backtest_routes.router)
    app.include_router(strategy_routes.router)
    app.include_router(scan_routes.router)
    if emulator is not None:
        emulator.default_token = SANDBOX_TOKEN
        app.include_router(sandbox_router(emulator), prefix="/sandbox", include_in_schema=False)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_middleware(TelegramWebhook, metrics=metrics)  # outermost: the hot path
    return app
