"""The monitoring heartbeat: "still alive" to the outside world, once a minute.

The watchdog (watchdog/) watches the platform from the same machine; this tells someone
*elsewhere*: a message in a monitoring chat a human can glance at, and a ping to a
healthchecks-style URL whose service raises the alarm when pings stop (the one failure
the platform cannot report itself: being down). A ping that fails is logged and
forgotten: monitoring must never be the thing that hurts trading, and the next minute's
ping is the retry, unless the monitoring service failed five times in a row: then a
circuit breaker pauses the pings for a minute rather than keep calling a dead service.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
import structlog

from tradedeck import __version__
from tradedeck.config import Settings
from tradedeck.domain.errors import Unavailable
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.ops.circuit import CircuitBreaker

log = structlog.get_logger(__name__)

Method = Literal["GET", "POST"]


class MonitoringHeartbeat:
    def __init__(
        self,
        bus: EventBus,
        *,
        chat: int | None = None,
        url: str | None = None,
        method: Method = "GET",
        timeout: float = 5.0,
        kill_switch_active: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self.chat = chat
        self.url = url or None
        self._method = method
        self._timeout = timeout
        self._kill_switch_active = kill_switch_active
        self._clock = clock
        self._started = clock()
        self.pings = 0
        self.failures = 0
        # A monitoring service that is down is not called again and again: after
        # ``failure_threshold`` failed pings in a row, pings pause for ``reset_timeout``.
        self.breaker = CircuitBreaker("heartbeat URL", is_transient=lambda error: True, clock=clock)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        bus: EventBus,
        *,
        kill_switch_active: Callable[[], bool] = lambda: False,
    ) -> MonitoringHeartbeat:
        url = settings.heartbeat_url.get_secret_value() if settings.heartbeat_url else None
        return cls(
            bus,
            chat=settings.monitoring_chat,
            url=url,
            method=settings.heartbeat_method,
            timeout=settings.heartbeat_timeout_seconds,
            kill_switch_active=kill_switch_active,
        )

    @property
    def enabled(self) -> bool:
        return self.chat is not None or self.url is not None

    def _uptime(self) -> timedelta:
        return timedelta(seconds=int(self._clock() - self._started))

    def text(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        kill = "🛑 kill switch ACTIVE" if self._kill_switch_active() else "kill switch off"
        return (
            f"💓 <b>tradedeck {__version__}</b> alive · up {self._uptime()} · {kill} · "
            f"{now:%Y-%m-%d %H:%M} UTC"
        )

    async def beat(self) -> None:
        """One heartbeat: the chat message (through the notifier) and the ping."""
        if self.chat is not None:
            try:
                await self._bus.publish(
                    Event(
                        type=EventType.MONITOR_HEARTBEAT,
                        data={"chat_id": self.chat, "text": self.text()},
                    )
                )
            except Exception:
                log.exception("monitoring_heartbeat_publish_failed")
        if self.url is not None:
            await self.ping()

    async def ping(self) -> bool:
        """GET or POST the heartbeat URL; ``False`` (logged, never raised) when it fails."""
        assert self.url is not None
        self.pings += 1
        body = {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": int(self._uptime().total_seconds()),
            "kill_switch": self._kill_switch_active(),
        }
        url = self.url

        async def send() -> httpx.Response:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=True) as client:
                if self._method == "POST":
                    response = await client.post(url, json=body)
                else:
                    response = await client.get(url)
            if response.status_code >= 500:  # the service is down: counts for the breaker
                response.raise_for_status()
            return response

        try:
            response = await self.breaker.call(send)
        except Unavailable as skipped:  # the breaker is open: not even tried
            log.warning("heartbeat_ping_skipped", detail=skipped.detail)
            return False
        except Exception as error:  # any failure at all: logged, the next beat retries
            self.failures += 1
            log.warning("heartbeat_ping_failed", error=type(error).__name__, detail=str(error))
            return False
        if response.status_code >= 400:
            self.failures += 1
            log.warning("heartbeat_ping_refused", status=response.status_code)
            return False
        return True
