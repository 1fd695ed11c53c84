"""The health checks watched for the admins: a check that starts failing (the database
unreachable, the exchange's circuit open, the disk nearly full) is pushed to their
phones at once, and so is its recovery, each once per change rather than once per look.

A scheduled job (``health.watch``) runs the same checks as /health. Warnings are not
pushed (they are for /health to show), nor are errors: ``errors.push`` tells those.
"""

from __future__ import annotations

from tradedeck.domain.roles import SYSTEM
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.ops.system import State, SystemService

CHECK_SECONDS = 30.0
NOT_PUSHED = frozenset({"errors"})


class HealthWatch:
    def __init__(self, system: SystemService, bus: EventBus) -> None:
        self._system = system
        self._bus = bus
        self._failing: dict[str, str] = {}  # check name -> the detail it failed with

    async def check(self) -> int:
        """Push what changed since the last look; returns how many alerts went out."""
        health = await self._system.health(SYSTEM)
        pushed = 0
        for check in health.checks:
            if check.name in NOT_PUSHED:
                continue
            was_failing = check.name in self._failing
            if check.state is State.FAIL and not was_failing:
                self._failing[check.name] = check.detail
                await self._publish("Health check failing", check.name, check.detail)
                pushed += 1
            elif check.state is not State.FAIL and was_failing:
                del self._failing[check.name]
                await self._publish("Health check recovered", check.name, check.detail)
                pushed += 1
        return pushed

    async def _publish(self, title: str, component: str, message: str) -> None:
        await self._bus.publish(
            Event(
                type=EventType.SYSTEM_ALERT,
                data={"title": title, "component": component, "message": message},
            )
        )
