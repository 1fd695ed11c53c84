"""The watchdog process: everything it needs built from settings, and nothing of the
trading process (no market feed, no bot, no HTTP server) that could die with it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

from tradedeck.config import Settings
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.heartbeats import make_heartbeats
from tradedeck.storage.repository import Repository
from tradedeck.watchdog.alerts import AdminAlerts
from tradedeck.watchdog.exchange_cancel import cancel_on_exchange
from tradedeck.watchdog.runner import Action, Watchdog, bundled_markets
from tradedeck.watchdog.status import WatchdogReport, read_report

if TYPE_CHECKING:
    from tradedeck.exchanges.ccxt_live.client import CcxtClient


async def run_watchdog(settings: Settings, *, once: bool = False) -> Action | None:
    """Run the watchdog until SIGTERM/SIGINT (or a single check with ``once``)."""
    engine = make_engine(settings.resolved_watchdog_database_url)
    heartbeats = make_heartbeats(engine, settings.redis_url)
    try:
        await upgrade(engine)
        repository = Repository(engine)
        alerts = AdminAlerts(settings, repository)
        await alerts.start()
        client = None
        try:
            markets = await asyncio.to_thread(bundled_markets)
            cancel = None
            if settings.exchange != "paper":
                client = watchdog_client(settings)
                symbols = settings.markets or ["BTC/USDT"]
                await client.load_markets()

                async def cancel(reason: str) -> int:
                    assert client is not None
                    return await cancel_on_exchange(client, repository, symbols, reason)

            watchdog = Watchdog(settings, repository, heartbeats, alerts, markets, cancel=cancel)
            if once:
                return await watchdog.check_once()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):  # not on every platform
                    loop.add_signal_handler(sig, watchdog.stop)
            await watchdog.run()
            return watchdog.last_action
        finally:
            if client is not None:
                await client.close()
            await alerts.stop()
    finally:
        await heartbeats.close()
        await engine.dispose()


def watchdog_client(settings: Settings) -> CcxtClient:
    """A ccxt client of the watchdog's own, with its own keys when it has them (cancel-only
    keys, ideally), else the trading keys: a dead trading process must not take the means
    to cancel with it."""
    from dataclasses import replace

    from tradedeck.exchanges.ccxt_live.client import CcxtClient  # the `live` extra
    from tradedeck.exchanges.ccxt_live.settings import live_settings

    config = live_settings(settings)
    if settings.watchdog_exchange_api_key and settings.watchdog_exchange_api_secret:
        config = replace(
            config,
            api_key=settings.watchdog_exchange_api_key,
            api_secret=settings.watchdog_exchange_api_secret,
        )
    return CcxtClient(config)


async def watchdog_status(settings: Settings) -> WatchdogReport:
    engine = make_engine(settings.resolved_watchdog_database_url)
    heartbeats = make_heartbeats(engine, settings.redis_url)
    try:
        await upgrade(engine)
        return await read_report(heartbeats)
    finally:
        await heartbeats.close()
        await engine.dispose()
