"""The in-app scheduler: runs on an interval, one run of a job at a time, failures counted
and retried, and a failing job never stops the others."""

from __future__ import annotations

import asyncio

import pytest

from tradedeck.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tradedeck.domain.roles import Actor, Permission, Role
from tradedeck.jobs.scheduler import Scheduler
from tradedeck.jobs.service import JobsService

VIEWER = Actor(name="vic", role=Role.VIEWER, channel="api")
TRADER = Actor(name="tess", role=Role.TRADER, channel="api")
ADMIN = Actor(name="root", role=Role.ADMIN, channel="api")


async def wait_until(condition: object, what: str) -> None:
    assert callable(condition)
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_a_failing_job_is_counted_retried_and_does_not_stop_the_others() -> None:
    scheduler = Scheduler()
    good_runs: list[int] = []

    async def good() -> None:
        good_runs.append(1)

    async def bad() -> None:
        raise RuntimeError("exchange down")

    scheduler.add("good", 0.01, good)
    scheduler.add("bad", 0.01, bad)
    await scheduler.start()
    try:
        await wait_until(
            lambda: scheduler.job_status("bad").failures >= 3 and len(good_runs) >= 3,
            "both jobs ran several times",
        )
    finally:
        await scheduler.stop()
    bad_status = scheduler.job_status("bad")
    assert bad_status.last_outcome == "error"
    assert bad_status.last_error == "RuntimeError: exchange down"
    assert bad_status.runs == bad_status.failures
    good_status = scheduler.job_status("good")
    assert good_status.last_outcome == "ok" and good_status.failures == 0
    assert good_status.last_error is None


async def test_status_fields_after_a_run() -> None:
    scheduler = Scheduler()

    async def job() -> None:
        await asyncio.sleep(0)

    scheduler.add("scan", 3600, job, initial_delay=3600)
    before = scheduler.job_status("scan")
    assert before.runs == 0 and before.last_started is None and before.next_run is None
    await scheduler.start()
    try:
        waiting = scheduler.job_status("scan")
        assert waiting.next_run is not None and waiting.runs == 0 and not waiting.running
        status = await scheduler.run_now("scan", wait=True)
    finally:
        await scheduler.stop()
    assert status.name == "scan" and status.interval == 3600
    assert status.runs == 1 and status.failures == 0 and status.last_outcome == "ok"
    assert status.last_started is not None and status.last_finished is not None
    assert status.last_started <= status.last_finished
    assert status.last_started.tzinfo is not None
    assert status.last_duration_ms is not None and status.last_duration_ms >= 0
    # fixed delay: the next run is due one interval after the manual run finished
    assert status.next_run is not None and status.next_run > status.last_finished
    assert [s.name for s in scheduler.status()] == ["scan"]


async def test_at_most_one_run_of_a_job_at_a_time() -> None:
    scheduler = Scheduler()
    release = asyncio.Event()
    active = 0
    most = 0

    async def slow() -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await release.wait()
        active -= 1

    scheduler.add("slow", 0.01, slow)
    await scheduler.start()
    try:
        await wait_until(lambda: scheduler.job_status("slow").running, "the job started")
        with pytest.raises(Conflict):
            await scheduler.run_now("slow")
        await asyncio.sleep(0.05)  # several intervals pass while it runs
        assert scheduler.job_status("slow").runs == 0
        release.set()
        await wait_until(lambda: scheduler.job_status("slow").runs >= 3, "it ran again")
    finally:
        await scheduler.stop()
    assert most == 1


async def test_manual_run_of_an_unknown_job_and_bad_definitions() -> None:
    scheduler = Scheduler()

    async def job() -> None:
        return None

    with pytest.raises(NotFound):
        await scheduler.run_now("nope")
    scheduler.add("a", 1, job)
    with pytest.raises(Conflict):
        scheduler.add("a", 1, job)
    with pytest.raises(InvalidInput):
        scheduler.add("b", 0, job)
    assert scheduler.names == ["a"]


async def test_a_job_added_after_start_runs_and_stop_cancels_a_running_job() -> None:
    scheduler = Scheduler()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await scheduler.start()
    scheduler.add("late", 60, forever)
    await asyncio.wait_for(started.wait(), timeout=5)
    await scheduler.stop()
    assert cancelled.is_set()
    assert not scheduler.job_status("late").running


async def test_the_service_checks_permissions() -> None:
    scheduler = Scheduler()
    ran: list[int] = []

    async def job() -> None:
        ran.append(1)

    scheduler.add("scan", 3600, job)
    jobs = JobsService(scheduler)
    assert [s.name for s in jobs.status(VIEWER)] == ["scan"]
    with pytest.raises(PermissionDenied):
        await jobs.run(VIEWER, "scan")
    # Traders trade; running jobs by hand is operational control, for admins alone.
    with pytest.raises(PermissionDenied, match="role trader may not manage jobs"):
        await jobs.run(TRADER, "scan")
    assert ran == []
    assert ADMIN.can(Permission.MANAGE_JOBS) and not TRADER.can(Permission.MANAGE_JOBS)
    status = await jobs.run(ADMIN, "scan", wait=True)
    assert status.runs == 1 and ran == [1]
