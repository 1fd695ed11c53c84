"""Errors pushed to the admins' phones, at most one message per kind of error per quiet
period, so a failing feed reads "feed failed ×40" once instead of forty times.

A scheduled job (``errors.push``) reads the errors the log buffer kept since its last
look and publishes one ``system.alert`` per kind (logger and event), unless that kind
was pushed less than ``quiet_seconds`` ago: then its count waits for the next push.
Errors of the notification path itself are left out: a message saying Telegram cannot
be reached would go through the very sender that cannot reach it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.ops.log_buffer import ErrorGroup, LogBuffer, group_errors

QUIET_SECONDS = 600.0
CHECK_SECONDS = 10.0
SILENT_LOGGERS = ("tradedeck.notify", "aiogram")
"""Loggers whose errors are not pushed (see the module's docstring)."""

_DETAIL_CHARS = 300


@dataclass(slots=True)
class _Kind:
    pushed_at: float
    held: int = 0  # errors of this kind since that push, not yet told


class ErrorAlerts:
    def __init__(
        self,
        logs: LogBuffer,
        bus: EventBus,
        *,
        quiet_seconds: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logs = logs
        self._bus = bus
        self._quiet = quiet_seconds
        self._clock = clock
        self._seen = 0
        self._kinds: dict[tuple[str, str], _Kind] = {}

    async def check(self) -> int:
        """Push what is due; returns how many alerts were published."""
        lines, self._seen = self._logs.errors_after(self._seen)
        now = self._clock()
        pushed = 0
        for group in group_errors(line for line in lines if not _silent(line.logger)):
            kind = self._kinds.get((group.logger, group.event))
            if kind is not None and now - kind.pushed_at < self._quiet:
                kind.held += group.count
                continue
            count = group.count + (kind.held if kind is not None else 0)
            await self._publish(group, count)
            self._kinds[(group.logger, group.event)] = _Kind(pushed_at=now)
            pushed += 1
        for key, kind in list(self._kinds.items()):  # quiet over with errors held: tell
            if kind.held and now - kind.pushed_at >= self._quiet:
                await self._bus.publish(_held_event(key, kind.held, self._quiet))
                self._kinds[key] = _Kind(pushed_at=now)
                pushed += 1
        return pushed

    async def _publish(self, group: ErrorGroup, count: int) -> None:
        last = group.last
        detail = last.exception or " ".join(f"{k}={v}" for k, v in last.fields.items())
        message = f"{group.event}" + (f" ×{count}" if count > 1 else "")
        if detail:
            message += f": {detail[:_DETAIL_CHARS]}"
        await self._bus.publish(
            Event(
                type=EventType.SYSTEM_ALERT,
                data={"title": "Error", "component": group.logger, "message": message},
            )
        )


def _held_event(key: tuple[str, str], count: int, quiet: float) -> Event:
    logger, event = key
    message = f"{event} ×{count} more in the last {quiet / 60:g} min (see /errors)"
    return Event(
        type=EventType.SYSTEM_ALERT,
        data={"title": "Error", "component": logger, "message": message},
    )


def _silent(logger: str) -> bool:
    return any(logger == name or logger.startswith(name + ".") for name in SILENT_LOGGERS)
