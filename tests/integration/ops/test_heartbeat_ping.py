"""The monitoring heartbeat against a stub healthchecks server on 127.0.0.1: a GET or a
POST per beat, and failures (an error status, a dead server, a hung one) logged and
counted, never raised. The chat half goes through the notifier to the monitoring chat."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Served, bound_socket, make_settings
from tradedeck.jobs.scheduler import Scheduler
from tradedeck.notify.events import Event, EventType, InProcessBus
from tradedeck.notify.notifier import Notifier
from tradedeck.ops.heartbeat_ping import MonitoringHeartbeat
from tradedeck.services import schedule_monitoring
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.repository import Repository


@dataclass
class Stub:
    """A healthchecks-like endpoint: ``/ok`` answers 200, ``/down`` 500, ``/hang`` never."""

    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        self.requests.append((scope["method"], path, json.loads(body) if body else None))
        if path == "/hang":
            await asyncio.sleep(30)
        status = 500 if path == "/down" else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"OK"})


@pytest.fixture
async def stub() -> AsyncIterator[tuple[Stub, str]]:
    app = Stub()
    served = Served(app, bound_socket())
    await served.start()
    try:
        yield app, served.url
    finally:
        served.server.force_exit = True
        await served.stop()


@dataclass
class Bus:
    events: list[Event] = field(default_factory=list)

    async def publish(self, event: Event) -> None:
        self.events.append(event)


async def test_get_ping_per_beat(stub: tuple[Stub, str]) -> None:
    app, url = stub
    bus = Bus()
    heartbeat = MonitoringHeartbeat(bus, url=f"{url}/ok")  # type: ignore[arg-type]
    await heartbeat.beat()
    await heartbeat.beat()
    assert [(m, p) for m, p, _ in app.requests] == [("GET", "/ok"), ("GET", "/ok")]
    assert heartbeat.failures == 0 and bus.events == []  # no chat: no message


async def test_post_ping_says_what_state_the_platform_is_in(stub: tuple[Stub, str]) -> None:
    app, url = stub
    heartbeat = MonitoringHeartbeat(
        Bus(),  # type: ignore[arg-type]
        url=f"{url}/ok",
        method="POST",
        kill_switch_active=lambda: True,
    )
    assert await heartbeat.ping()
    ((method, path, body),) = app.requests
    assert (method, path) == ("POST", "/ok")
    assert body is not None and body["status"] == "ok" and body["kill_switch"] is True
    assert isinstance(body["uptime_seconds"], int) and body["version"]


async def test_failures_are_counted_never_raised(stub: tuple[Stub, str]) -> None:
    app, url = stub
    dead = bound_socket()  # bound, never listening: the connection is refused
    dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}/ok"
    try:
        for target in (f"{url}/down", dead_url, f"{url}/hang", "not a url"):
            heartbeat = MonitoringHeartbeat(Bus(), url=target, timeout=0.5)  # type: ignore[arg-type]
            await heartbeat.beat()
            assert not await heartbeat.ping(), target
            assert heartbeat.failures == 2 and heartbeat.pings == 2, target
    finally:
        dead.close()
    assert ("GET", "/down", None) in app.requests


async def test_a_dead_monitoring_service_is_left_alone_for_a_while(
    stub: tuple[Stub, str],
) -> None:
    app, url = stub
    now = [0.0]
    heartbeat = MonitoringHeartbeat(Bus(), url=f"{url}/down", clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(5):
        assert not await heartbeat.ping()
    assert heartbeat.breaker.state.value == "open"
    assert not await heartbeat.ping()  # skipped: the service is not called
    assert len(app.requests) == 5
    heartbeat.url = f"{url}/ok"  # it came back
    now[0] += heartbeat.breaker.reset_timeout
    assert await heartbeat.ping()
    assert heartbeat.breaker.state.value == "closed" and len(app.requests) == 6


async def test_the_chat_gets_a_message_per_beat() -> None:
    bus = Bus()
    heartbeat = MonitoringHeartbeat(bus, chat=-100123)  # type: ignore[arg-type]
    await heartbeat.beat()
    (event,) = bus.events
    assert event.type is EventType.MONITOR_HEARTBEAT and event.data["chat_id"] == -100123
    assert "alive" in event.data["text"] and "kill switch off" in event.data["text"]


def test_the_job_exists_only_when_configured(tmp_path: Path) -> None:
    for overrides, expected in (
        ({}, []),
        ({"monitoring_chat": -1001}, ["monitoring.heartbeat"]),
        ({"heartbeat_url": "http://127.0.0.1:9/ping"}, ["monitoring.heartbeat"]),
    ):
        settings = make_settings(tmp_path, **overrides)
        scheduler = Scheduler()
        heartbeat = MonitoringHeartbeat.from_settings(settings, Bus())  # type: ignore[arg-type]
        schedule_monitoring(settings, scheduler, heartbeat)
        assert scheduler.names == expected


@dataclass
class Sender:
    sent: list[tuple[int, str]] = field(default_factory=list)

    async def send(self, chat_id: int, text: str, **_: Any) -> None:
        self.sent.append((chat_id, text))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def join(self) -> None:
        pass


async def test_the_notifier_delivers_the_beat_to_the_monitoring_chat(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}")
    await upgrade(engine)
    repo = Repository(engine)
    await repo.ensure_telegram_admin(900)
    bus, sender = InProcessBus(), Sender()
    notifier = Notifier(bus, sender, repo)  # type: ignore[arg-type]
    await notifier.start()
    await bus.start()
    try:
        await MonitoringHeartbeat(bus, chat=-100123).beat()
        await bus.join()
    finally:
        await bus.stop()
        await notifier.stop()
        await engine.dispose()
    ((chat, text),) = sender.sent  # the monitoring chat alone, not the admins
    assert chat == -100123 and "💓 <b>tradedeck" in text and "alive" in text
