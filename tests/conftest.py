"""Shared fixtures: databases on both backends, settings, and the app over real HTTP.

PostgreSQL and Redis tests skip when the service is missing on a developer's machine,
but fail under CI=true: a skipped suite in CI would look green while testing nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from fastapi import FastAPI

from tradedeck import native
from tradedeck.app import create_app, drain
from tradedeck.config import Settings
from tradedeck.domain.roles import Actor, Role
from tradedeck.ops.logging import configure_logging
from tradedeck.services import Services
from tradedeck.serving import DrainingServer

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL_TEMPLATE = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN = Actor(name="test-admin", role=Role.ADMIN, channel="cli")


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test a compiled build older than its source: the old code would run."""
    if outdated := native.stale():
        pytest.exit(
            f"the compiled build of {', '.join(outdated)} is older than its source: "
            "run `make test` (it rebuilds), or `python src/tradedeck/native.py --clean` "
            "to run every module interpreted",
            returncode=4,
        )


@contextmanager
def restored_logging() -> Iterator[None]:
    """Put back the process-wide logging state a test rewired (configure_logging)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    adopted = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, (old_handlers, propagate) in adopted.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = old_handlers
            logger.propagate = propagate
        logging.captureWarnings(False)
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()


@pytest.fixture
def production_logging() -> Iterator[None]:
    """Logging as `tradedeck run` sets it up (structlog through the standard library, so
    /logs sees it), without caching loggers: a module's cached logger would keep this
    chain after the test and hide its lines from later tests' captures."""
    with restored_logging():
        configure_logging(cache_loggers=False)
        yield


def service_missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their own settings; a developer's TRADEDECK_* variables must not leak in."""
    for key in list(os.environ):
        if key.startswith("TRADEDECK_"):
            monkeypatch.delenv(key)


async def create_pg_database() -> tuple[Any, str]:
    import asyncpg

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except Exception as exc:
        service_missing(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    name = f"td_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    return admin, name


async def drop_pg_database(admin: Any, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    admin, name = await create_pg_database()
    try:
        yield PG_URL_TEMPLATE.format(name=name)
    finally:
        await drop_pg_database(admin, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every test that takes this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tradedeck.db'}"
        return
    admin, name = await create_pg_database()
    try:
        yield PG_URL_TEMPLATE.format(name=name)
    finally:
        await drop_pg_database(admin, name)


_STREAMS: list[str] = []
"""Event streams that make_settings named during the running test (deleted after it)."""


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The shared Redis; the event streams the test's apps used are deleted after it."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        try:
            client.ping()
        except redis.RedisError as exc:
            service_missing(f"Redis is not reachable at {REDIS_URL}: {exc}")
        _STREAMS.clear()
        yield REDIS_URL
        if _STREAMS:
            client.delete(*_STREAMS)
            _STREAMS.clear()
    finally:
        client.close()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so Redis tests never see each other's keys."""
    return f"td:test:{uuid.uuid4().hex}:"


@pytest.fixture
async def client(redis_url: str, prefix: str) -> AsyncIterator[Any]:
    """A Redis client that deletes this test's keys afterwards."""
    import redis.asyncio as aioredis

    redis_client = aioredis.Redis.from_url(redis_url)
    try:
        yield redis_client
    finally:
        keys = [key async for key in redis_client.scan_iter(match=prefix + "*")]
        if keys:
            await redis_client.delete(*keys)
        await redis_client.aclose()


def make_settings(tmp_path: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": database_url,
        "paper_balances": {"BTC": "1", "USDT": "10000"},
        "markets": ["ETH/BTC", "LTC/BTC", "ADA/BTC", "BTC/USDT"],
        "slippage_bps": "0",
        "fee_rate": "0.001",
        "volume_share": "0",
        "max_order_notional_trader": "0.5",
        "max_order_notional_admin": "1",
        "max_exposure_pct": "100",
        "max_positions": 5,
        "telegram": "off",
        **overrides,
    }
    if values.get("redis_url") and "notify_stream" not in overrides:
        # Each app on the shared Redis gets a stream of its own: events another test left
        # behind must not be delivered here (nor pile up in a developer's Redis).
        values["notify_stream"] = f"td:test:{uuid.uuid4().hex}:events"
        _STREAMS.append(values["notify_stream"])
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def bound_socket() -> socket.socket:
    """A loopback socket bound before the server starts, so its URL is known in advance.

    IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on such sockets, and without it
    every response waits for a delayed ACK (about 40 ms).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Served:
    """One ASGI app under uvicorn on a socket bound beforehand."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # Served as `tradedeck run` serves it: the app drains its Telegram messages
        # before the server stops listening.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self.server = DrainingServer(
            config, drain=partial(drain, app) if isinstance(app, FastAPI) else None
        )
        self._sock = sock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve(sockets=[self._sock]))
        for _ in range(1000):
            if self.server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=20)


@dataclass
class LiveApp:
    """The real app served by uvicorn on a loopback port, plus its services for setup."""

    served: Served
    services: Services

    @property
    def url(self) -> str:
        return self.served.url

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    async def token(self, name: str, role: Role | str) -> str:
        _, token = await self.services.users.create(ADMIN, name, role)
        return token

    async def stop(self) -> None:
        await self.served.stop()


async def serve(settings: Settings, *, start_feed: bool = False) -> LiveApp:
    app = create_app(settings, start_feed=start_feed)
    served = Served(app, bound_socket())
    await served.start()
    return LiveApp(served, app.state.services)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[LiveApp]:
    live_app = await serve(settings)
    try:
        yield live_app
    finally:
        await live_app.stop()
