"""``tradedeck watchdog --status``: is a watchdog alive, and what did it last see and do.

Read from the shared store, so it answers from any host that can reach it, whether or not
the watchdog or the trading process runs there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tradedeck.storage.heartbeats import MAIN, Beat, HeartbeatStore


def alive_within(beat: Beat) -> float:
    """How old a watchdog's beat may be while it still counts as alive: a few of its checks."""
    interval = beat.detail.get("interval")
    seconds = float(interval) if isinstance(interval, int | float) else 1.0
    return max(5.0, 3 * seconds)


@dataclass(frozen=True, slots=True)
class WatchdogReport:
    watchdog: Beat | None
    main: Beat | None
    now: datetime

    @property
    def healthy(self) -> bool:
        return self.watchdog is not None and self.watchdog.age(self.now) <= alive_within(
            self.watchdog
        )

    def lines(self) -> list[str]:
        main_age = "never seen" if self.main is None else f"{self.main.age(self.now):.1f} s"
        if self.watchdog is None:
            return ["watchdog: never ran against this store", f"trading heartbeat age: {main_age}"]
        beat, detail = self.watchdog, self.watchdog.detail
        state = "alive" if self.healthy else "NOT RUNNING"
        return [
            f"watchdog: {state} ({beat.owner}, last check {beat.age(self.now):.1f} s ago"
            f"{', lease holder' if detail.get('holder') else ''})",
            f"trading heartbeat age: {main_age} (timeout {detail.get('heartbeat_timeout')} s)",
            f"last action: {detail.get('last_action') or 'none'}"
            + (f" at {detail['last_action_at']}" if detail.get("last_action_at") else ""),
        ]


async def read_report(store: HeartbeatStore) -> WatchdogReport:
    watchdogs = await store.watchdogs()
    return WatchdogReport(
        watchdogs[0] if watchdogs else None, await store.read(MAIN), datetime.now(UTC)
    )
