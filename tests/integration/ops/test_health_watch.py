"""The checks watched for the admins: a check that starts failing is pushed once, its
recovery once, and a nearly full disk or exhausted memory counts as failing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.unit.ops.test_error_alerts import Recorded
from tradedeck.domain.roles import SYSTEM
from tradedeck.notify.events import EventType
from tradedeck.ops.health_watch import HealthWatch
from tradedeck.ops.log_buffer import LogBuffer
from tradedeck.ops.system import Check, Resources, State, SystemService, resource_checks
from tradedeck.storage.db import make_engine

GB = 1024**3


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[SystemService]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    try:
        yield SystemService(version="t", engine=engine, data_dir=tmp_path, logs=LogBuffer())
    finally:
        await engine.dispose()


async def test_a_failing_check_and_its_recovery_are_pushed_once_each(
    system: SystemService,
) -> None:
    exchange = Check("exchange", State.OK, "binance spot · circuit closed")

    async def probe() -> Check:
        return exchange

    system.add_probe(probe)
    bus = Recorded()
    watch = HealthWatch(system, bus)
    assert await watch.check() == 0  # all fine (a warning would not be pushed either)

    exchange = Check("exchange", State.FAIL, "binance spot · circuit open")
    assert await watch.check() == 1
    assert await watch.check() == 0  # still failing: told already
    exchange = Check("exchange", State.WARN, "binance spot · circuit half open")
    assert await watch.check() == 1
    assert [
        (e.type, e.data["title"], e.data["component"], e.data["message"]) for e in bus.events
    ] == [
        (EventType.SYSTEM_ALERT, "Health check failing", "exchange", "binance spot · circuit open"),
        (
            EventType.SYSTEM_ALERT,
            "Health check recovered",
            "exchange",
            "binance spot · circuit half open",
        ),
    ]
    checks = {c.name for c in (await system.health(SYSTEM)).checks}
    assert {"database", "exchange", "errors", "disk", "memory"} <= checks


def test_disk_and_memory_warn_then_fail_as_they_run_out() -> None:
    plenty = Resources(
        cpus=2,
        load=(0.1, 0.1, 0.1),
        cpu_percent=1.0,
        system_cpu_percent=1.0,
        rss_bytes=100,
        threads=1,
        open_files=1,
        memory_total=16 * GB,
        memory_available=8 * GB,
        disk_path="/data",
        disk_total=100 * GB,
        disk_free=50 * GB,
    )

    def states(r: Resources) -> dict[str, State]:
        return {c.name: c.state for c in resource_checks(r)}

    assert states(plenty) == {"disk": State.OK, "memory": State.OK}
    low = replace(plenty, disk_free=8 * GB, memory_available=GB)
    assert states(low) == {"disk": State.WARN, "memory": State.WARN}
    out = replace(plenty, disk_free=2 * GB, memory_available=GB // 4)
    assert states(out) == {"disk": State.FAIL, "memory": State.FAIL}
    small_disk = replace(plenty, disk_total=4 * GB, disk_free=GB // 4)  # 6 % but 256 MB
    assert states(small_disk)["disk"] is State.FAIL
    [disk, _] = resource_checks(low)
    assert disk.detail == "8% free (8.0 GB)"
