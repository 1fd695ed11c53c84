"""The trading process's side of the watchdog: its heartbeat, and obeying a kill switch
someone else set.

Every ``TRADEDECK_HEARTBEAT_INTERVAL_SECONDS`` the writer records that this process is
alive. It also re-reads the stored kill switch: when a watchdog (or another replica) turned
it on, this process still holds the open orders in memory, so it cancels them itself
through the order manager, the one path that keeps memory, database and exchange in step.
The watchdog gives it ``TRADEDECK_WATCHDOG_CANCEL_GRACE_SECONDS`` to do so before it
cancels them in the database directly.

It also remembers the newest watchdog beat it saw, which the health endpoint shows.

A clean stop (SIGTERM, a deploy) writes a last beat marked ``stopped``: the watchdog then
knows nobody is trading and leaves the kill switch alone, so a planned restart does not
need an admin to resume. A crash or SIGKILL writes nothing, and the beat goes stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime

import structlog

from tradedeck.ops.waiting import wait_or_stop
from tradedeck.storage.heartbeats import MAIN, Beat, HeartbeatStore
from tradedeck.trading.killswitch import KillSwitch
from tradedeck.trading.order_manager import OrderManager

log = structlog.get_logger(__name__)


class HeartbeatWriter:
    def __init__(
        self,
        store: HeartbeatStore,
        kill_switch: KillSwitch,
        orders: OrderManager,
        *,
        interval: float,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self._kill_switch = kill_switch
        self._orders = orders
        self.interval = interval
        self.owner = owner or f"pid-{os.getpid()}"
        self.watchdog: Beat | None = None
        self.last_beat: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self.beat_once()  # a watchdog sees this process from its first second
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.store.beat(MAIN, self.owner, {"pid": os.getpid(), "stopped": True})
        except Exception:  # the store may be what failed; the beat then just goes stale
            log.warning("heartbeat_stop_not_recorded", exc_info=True)
        await self.store.close()

    async def beat_once(self) -> None:
        await self.store.beat(MAIN, self.owner, {"pid": os.getpid(), "interval": self.interval})
        self.last_beat = datetime.now(UTC)
        state = await self._kill_switch.refresh()
        if state.active and self._orders.exchange.open_orders():
            canceled = await self._orders.cancel_all(f"kill switch: {state.reason}")
            log.warning("kill_switch_followed", reason=state.reason, canceled=canceled)
        watchdogs = await self.store.watchdogs()
        self.watchdog = watchdogs[0] if watchdogs else None

    async def _run(self) -> None:
        while not await wait_or_stop(self._stop, self.interval):
            try:
                await self.beat_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat_failed")
