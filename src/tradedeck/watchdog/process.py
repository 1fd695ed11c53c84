"""The watchdog process: everything it needs built from settings, and nothing of the
trading process (no market feed, no bot, no HTTP server) that could die with it."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from tradedeck.config import Settings
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.heartbeats import make_heartbeats
from tradedeck.storage.repository import Repository
from tradedeck.watchdog.alerts import AdminAlerts
from tradedeck.watchdog.runner import Action, Watchdog, bundled_markets
from tradedeck.watchdog.status import WatchdogReport, read_report


async def run_watchdog(settings: Settings, *, once: bool = False) -> Action | None:
    """Run the watchdog until SIGTERM/SIGINT (or a single check with ``once``)."""
    engine = make_engine(settings.resolved_watchdog_database_url)
    heartbeats = make_heartbeats(engine, settings.redis_url)
    try:
        await upgrade(engine)
        repository = Repository(engine)
        alerts = AdminAlerts(settings, repository)
        await alerts.start()
        try:
            markets = await asyncio.to_thread(bundled_markets)
            watchdog = Watchdog(settings, repository, heartbeats, alerts, markets)
            if once:
                return await watchdog.check_once()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):  # not on every platform
                    loop.add_signal_handler(sig, watchdog.stop)
            await watchdog.run()
            return watchdog.last_action
        finally:
            await alerts.stop()
    finally:
        await heartbeats.close()
        await engine.dispose()


async def watchdog_status(settings: Settings) -> WatchdogReport:
    engine = make_engine(settings.resolved_watchdog_database_url)
    heartbeats = make_heartbeats(engine, settings.redis_url)
    try:
        await upgrade(engine)
        return await read_report(heartbeats)
    finally:
        await heartbeats.close()
        await engine.dispose()
