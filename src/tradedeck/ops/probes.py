"""The checks each part of the platform contributes to /health: the exchange and its
circuit breaker, market data, the kill switch and the watchdog.

Read-only looks at state the parts already keep (nothing here calls the exchange), so a
health check costs nothing and cannot itself trip a rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tradedeck.ops.circuit import CircuitState
from tradedeck.ops.system import Check, Probe, State, age_text
from tradedeck.watchdog.status import alive_within

if TYPE_CHECKING:
    from tradedeck.exchanges.live import LiveExchange
    from tradedeck.trading.killswitch import KillSwitch
    from tradedeck.trading.live_sync import LiveSync
    from tradedeck.watchdog.heartbeat import HeartbeatWriter


@dataclass(frozen=True, slots=True)
class WatchdogSeen:
    """The newest watchdog beat the heartbeat writer saw (it looks every beat, so this
    lags by at most one heartbeat)."""

    alive: bool
    last_seen_seconds: float | None
    owner: str | None


def watchdog_seen(writer: HeartbeatWriter | None) -> WatchdogSeen:
    beat = writer.watchdog if writer is not None else None
    if writer is None or beat is None:
        return WatchdogSeen(False, None, None)
    age = beat.age()
    return WatchdogSeen(age <= alive_within(beat) + writer.interval, round(age, 1), beat.owner)


def watchdog_probe(writer: Callable[[], HeartbeatWriter | None]) -> Probe:
    async def probe() -> Check:
        seen = watchdog_seen(writer())
        if seen.alive:
            return Check(
                "watchdog", State.OK, f"{seen.owner} · seen {seen.last_seen_seconds} s ago"
            )
        if seen.last_seen_seconds is None:
            return Check("watchdog", State.WARN, "none running: start `tradedeck watchdog`")
        return Check("watchdog", State.WARN, f"silent for {seen.last_seen_seconds} s")

    return probe


def kill_switch_probe(kill_switch: KillSwitch) -> Probe:
    async def probe() -> Check:
        state = kill_switch.state
        if not state.active:
            return Check("kill switch", State.OK, "off")
        return Check("kill switch", State.WARN, f"active: {state.reason}")

    return probe


def exchange_probe(name: str, live: Callable[[], tuple[LiveExchange, LiveSync] | None]) -> Probe:
    """Paper is always there; a live exchange is as good as its circuit breaker and its
    last reconciliation."""

    async def probe() -> Check:
        found = live()
        if found is None:
            return Check("exchange", State.OK, name)
        exchange, sync = found
        breaker = exchange.client.breaker.state
        detail = f"{name} {exchange.kind.value} · circuit {breaker.value.replace('_', ' ')}"
        if breaker is CircuitState.OPEN:
            return Check("exchange", State.FAIL, detail)
        last = sync.last
        if last is not None and last.differences:
            detail += f" · {len(last.differences)} differences at the last reconcile"
            return Check("exchange", State.WARN, detail)
        state = State.OK if breaker is CircuitState.CLOSED else State.WARN
        return Check("exchange", state, detail)

    return probe


STALE_MARKET_SECONDS = 300.0
"""A market whose last candle is older than this is reported as standing still."""


def market_data_probe(
    updated: Callable[[], list[datetime | None]], now: Callable[[], datetime]
) -> Probe:
    """Market data is healthy while some market had a candle recently."""

    async def probe() -> Check:
        seen = [at for at in updated() if at is not None]
        if not seen:
            return Check("market data", State.WARN, "no candle received yet")
        age = (now() - max(seen)).total_seconds()
        state = State.OK if age <= STALE_MARKET_SECONDS else State.WARN
        return Check("market data", state, f"last candle {age_text(age)} ago")

    return probe
