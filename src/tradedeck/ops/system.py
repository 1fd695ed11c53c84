"""Health, resources, logs and errors of the running platform, for its admins.

What an operator would otherwise read over ssh (top, df, journalctl, a ping of the
database) answered from inside the process, so /health, /logs and /errors work from a
phone and GET /api/v1/system/* from a script. Admins only: log lines name users, orders
and hosts.

Each check says ok, warn (works, but look: the kill switch is on, no watchdog guards the
process, errors were logged) or fail (a part does not work). The resource figures come
from psutil; CPU percentages cover the time since the previous look.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.domain.roles import Actor, Permission
from tradedeck.ops.log_buffer import ErrorGroup, LogBuffer, LogLine

PING_TIMEOUT = 2.0


class State(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    state: State
    detail: str


@dataclass(frozen=True, slots=True)
class Resources:
    cpus: int
    load: tuple[float, float, float]
    cpu_percent: float  # of one core, this process
    system_cpu_percent: float  # of all cores
    rss_bytes: int
    threads: int
    open_files: int | None
    memory_total: int
    memory_available: int
    disk_path: str
    disk_total: int
    disk_free: int


@dataclass(frozen=True, slots=True)
class SystemHealth:
    version: str
    started_at: datetime
    uptime_seconds: float
    checks: list[Check]
    resources: Resources
    errors_last_hour: int

    @property
    def state(self) -> State:
        states = {c.state for c in self.checks}
        return (
            State.FAIL if State.FAIL in states else State.WARN if State.WARN in states else State.OK
        )


Probe = Callable[[], Awaitable[Check]]
"""A check a part of the platform contributes (exchange, market data, watchdog...)."""


class SystemService:
    def __init__(
        self,
        *,
        version: str,
        engine: AsyncEngine,
        data_dir: Path,
        logs: LogBuffer,
        redis_url: str | None = None,
        probes: list[Probe] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._version = version
        self._engine = engine
        self._data_dir = data_dir
        self._logs = logs
        self._redis_url = redis_url
        self._probes = list(probes or [])
        self._clock = clock
        self._started_at = clock()
        self._started = time.monotonic()
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # the first reading only starts the interval
        self._cpu_times = psutil.cpu_times()

    @property
    def logs(self) -> LogBuffer:
        return self._logs

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started

    def add_probe(self, probe: Probe) -> None:
        self._probes.append(probe)

    async def health(self, actor: Actor) -> SystemHealth:
        actor.require(Permission.VIEW_SYSTEM)
        checks = [await self._database(), *([await self._redis()] if self._redis_url else [])]
        for probe in self._probes:
            checks.append(await probe())
        errors = self._logs.error_count(self._clock() - timedelta(hours=1))
        checks.append(
            Check("errors", State.WARN if errors else State.OK, f"{errors} in the last hour")
        )
        resources = await asyncio.to_thread(self._resources)
        checks.extend(resource_checks(resources))
        return SystemHealth(
            version=self._version,
            started_at=self._started_at,
            uptime_seconds=self.uptime_seconds,
            checks=checks,
            resources=resources,
            errors_last_hour=errors,
        )

    def log_lines(self, actor: Actor, limit: int = 20, min_level: str = "info") -> list[LogLine]:
        actor.require(Permission.VIEW_SYSTEM)
        return self._logs.lines(limit, min_level)

    def errors(self, actor: Actor, hours: float = 24.0) -> list[ErrorGroup]:
        actor.require(Permission.VIEW_SYSTEM)
        return self._logs.errors(self._clock() - timedelta(hours=hours))

    # -- checks ----------------------------------------------------------------------------
    async def _database(self) -> Check:
        dialect = self._engine.dialect.name
        started = time.perf_counter()
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                async with self._engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as error:
            return Check("database", State.FAIL, f"{dialect}: {_reason(error)}")
        return Check("database", State.OK, f"{dialect} · {_ms(started)}")

    async def _redis(self) -> Check:
        assert self._redis_url is not None
        client = aioredis.from_url(self._redis_url)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                await client.ping()
        except Exception as error:
            return Check("redis", State.FAIL, _reason(error))
        finally:
            await client.aclose()
        return Check("redis", State.OK, _ms(started))

    def _system_cpu_percent(self) -> float:
        """Across all cores since the previous look (psutil's own figure is kept per
        thread, and each look runs on whichever worker thread is free)."""
        before, self._cpu_times = self._cpu_times, psutil.cpu_times()
        return round(_busy_share(before, self._cpu_times), 1)

    def _resources(self) -> Resources:
        process = self._process
        with process.oneshot():
            cpu = process.cpu_percent(None)
            rss = process.memory_info().rss
            threads = process.num_threads()
            try:
                open_files: int | None = process.num_fds()
            except (AttributeError, psutil.Error):  # num_fds is POSIX only
                open_files = None
        memory = psutil.virtual_memory()
        disk = shutil.disk_usage(_existing(self._data_dir))
        return Resources(
            cpus=psutil.cpu_count() or 1,
            load=os.getloadavg(),
            cpu_percent=cpu,
            system_cpu_percent=self._system_cpu_percent(),
            rss_bytes=rss,
            threads=threads,
            open_files=open_files,
            memory_total=memory.total,
            memory_available=memory.available,
            disk_path=str(self._data_dir.resolve()),
            disk_total=disk.total,
            disk_free=disk.free,
        )


DISK_WARN_SHARE = 0.10
DISK_FAIL_SHARE = 0.03
DISK_FAIL_BYTES = 500 * 1024**2
MEMORY_WARN_SHARE = 0.10
MEMORY_FAIL_SHARE = 0.03
"""Free disk and available memory below these shares warn, then fail: a full disk stops
every database write, orders included, and an exhausted machine kills processes."""


def resource_checks(r: Resources) -> list[Check]:
    """The disk at the data directory and the machine's memory, as checks."""
    disk_share = r.disk_free / r.disk_total if r.disk_total else 0.0
    if disk_share < DISK_FAIL_SHARE or r.disk_free < DISK_FAIL_BYTES:
        disk = State.FAIL
    else:
        disk = State.WARN if disk_share < DISK_WARN_SHARE else State.OK
    memory_share = r.memory_available / r.memory_total if r.memory_total else 0.0
    if memory_share < MEMORY_FAIL_SHARE:
        memory = State.FAIL
    else:
        memory = State.WARN if memory_share < MEMORY_WARN_SHARE else State.OK
    return [
        Check("disk", disk, f"{disk_share:.0%} free ({byte_text(r.disk_free)})"),
        Check("memory", memory, f"{memory_share:.0%} available ({byte_text(r.memory_available)})"),
    ]


def byte_text(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _busy_share(before: Any, after: Any) -> float:
    """The share of CPU time not idle between two ``psutil.cpu_times()`` readings."""
    total = sum(after) - sum(before)
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (
        before.idle + getattr(before, "iowait", 0.0)
    )
    return 0.0 if total <= 0 else max(0.0, min(100.0, (1 - idle / total) * 100))


def _existing(path: Path) -> Path:
    """The nearest existing directory: the data dir may not have been created yet."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.1f} ms"


def age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _reason(error: BaseException) -> str:
    text_ = str(error) or type(error).__name__
    return text_.splitlines()[0][:200]
