"""The kill switch: one persisted flag that halts all new orders and cancels open ones.

The flag lives in the database (the watchdog, a separate process, can set it too); this
service caches it for the hot path and re-reads it periodically, while every order write
re-checks the stored flag inside its own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from tradedeck.domain.errors import Conflict, InvalidInput
from tradedeck.domain.roles import SYSTEM, Actor, Permission
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.storage.records import KillSwitchState

if TYPE_CHECKING:
    from tradedeck.storage.repository import Repository

log = structlog.get_logger(__name__)

CancelAll = Callable[[str], Awaitable[int]]


class KillSwitch:
    def __init__(self, repository: Repository, bus: EventBus) -> None:
        self._repo = repository
        self._bus = bus
        self._state = KillSwitchState(active=False)
        self._cancel_all: CancelAll | None = None

    def bind_canceller(self, cancel_all: CancelAll) -> None:
        self._cancel_all = cancel_all

    @property
    def state(self) -> KillSwitchState:
        return self._state

    @property
    def active(self) -> bool:
        return self._state.active

    def reason(self) -> str | None:
        return self._state.reason

    async def refresh(self) -> KillSwitchState:
        self._state = await self._repo.get_kill_switch()
        return self._state

    async def activate(self, actor: Actor, reason: str) -> tuple[KillSwitchState, int]:
        """Halt trading and cancel every open order; returns the state and orders canceled.

        Activating again is harmless: it re-runs the cancellation, which is what a trader
        pressing the button twice expects.
        """
        actor.require(Permission.KILL_ACTIVATE)
        reason = (reason or "").strip() or "no reason given"
        if len(reason) > 500:
            raise InvalidInput("invalid_reason", "reason must be at most 500 characters")
        was_active = self._state.active
        if not was_active:
            self._state = KillSwitchState(True, reason, actor.name, datetime.now(UTC))
            await self._repo.set_kill_switch(self._state)
        canceled = 0
        failure: Exception | None = None
        try:
            canceled = await self._cancel_all(f"kill switch: {reason}") if self._cancel_all else 0
        except Exception as error:  # halted anyway; the admins must hear it either way
            failure = error
            log.exception("kill_switch_cancel_failed", reason=reason)
        if not was_active:
            log.warning("kill_switch_activated", reason=reason, actor=actor.name, canceled=canceled)
            await self._repo.audit(actor.name, actor.channel, "kill_switch.activate", "ok", reason)
            data: dict[str, object] = {
                "reason": reason,
                "actor": actor.name,
                "canceled_orders": canceled,
            }
            if failure is not None:
                data["cancel_error"] = str(failure)
            await self._bus.publish(Event(type=EventType.KILL_SWITCH_ACTIVATED, data=data))
        if failure is not None:
            raise failure
        return self._state, canceled

    async def trip(self, reason: str) -> None:
        """Activation by the platform itself (drawdown, rejections)."""
        if not self._state.active:
            await self.activate(SYSTEM, reason)

    async def resume(self, actor: Actor) -> KillSwitchState:
        actor.require(Permission.KILL_RESUME)
        await self.refresh()
        if not self._state.active:
            raise Conflict("kill_switch_inactive", "the kill switch is not active")
        self._state = KillSwitchState(False, None, actor.name, datetime.now(UTC))
        await self._repo.set_kill_switch(self._state)
        log.warning("kill_switch_resumed", actor=actor.name)
        await self._repo.audit(actor.name, actor.channel, "kill_switch.resume", "ok")
        await self._bus.publish(
            Event(type=EventType.KILL_SWITCH_RESUMED, data={"actor": actor.name})
        )
        return self._state
