"""create_app(settings) -> FastAPI: the composition root of the HTTP process.

Nothing happens at import; the lifespan starts the core and stops it, so tests can
build as many independent apps as they like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tradedeck import __version__
from tradedeck.api import errors
from tradedeck.api.routers import control, health, markets, orders, portfolio, signals
from tradedeck.config import Settings
from tradedeck.ops.http_metrics import RequestMetricsMiddleware
from tradedeck.ops.metrics import Metrics
from tradedeck.services import Services, start_services


def create_app(settings: Settings | None = None, *, start_feed: bool = True) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: Services = await start_services(settings, metrics=metrics, start_feed=start_feed)
        app.state.services = services
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="tradedeck",
        version=__version__,
        description="Self-hosted trading platform: paper trading by default, REST API v1.",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in (health, markets, orders, portfolio, control, signals):
        app.include_router(router.router)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
