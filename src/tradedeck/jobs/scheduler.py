"""A small in-app scheduler: named interval jobs on asyncio tasks.

Periodic work (scans, revalidation, the daily market refresh, queued backtests) needs
little more than "run this every N seconds, one at a time, and tell me how it went", so
a few dozen lines on asyncio replace a cron library and its threads. Delays are fixed
and free of jitter: the next run is due ``interval`` seconds after the previous one
*finished*, so a slow run never piles up behind itself. A failing run is logged, counted
and retried at the next interval; it never stops the scheduler or the other jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog

from tradedeck.domain.errors import Conflict, InvalidInput, NotFound

log = structlog.get_logger(__name__)

JobFn = Callable[[], Awaitable[object]]
Outcome = Literal["ok", "error"]
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class JobStatus:
    name: str
    interval: float
    running: bool
    last_started: datetime | None
    last_finished: datetime | None
    last_duration_ms: float | None
    last_outcome: Outcome | None
    last_error: str | None
    next_run: datetime | None
    runs: int
    failures: int


@dataclass(slots=True, eq=False)
class _Job:
    name: str
    interval: float
    initial_delay: float
    fn: JobFn
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    due: float | None = None  # monotonic time of the next scheduled run
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_duration_ms: float | None = None
    last_outcome: Outcome | None = None
    last_error: str | None = None
    runs: int = 0
    failures: int = 0


class Scheduler:
    """Interval jobs added by name; started and stopped with the app's lifespan."""

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._manual: set[asyncio.Task[None]] = set()
        self._started = False

    def add(self, name: str, interval: float, fn: JobFn, *, initial_delay: float = 0.0) -> None:
        """Run ``fn`` every ``interval`` seconds, the first time ``initial_delay`` after start.

        May be called before or after :meth:`start`; a job added later starts at once.
        """
        if not name or len(name) > 64:
            raise InvalidInput("invalid_job", "a job name must have 1 to 64 characters")
        if name in self._jobs:
            raise Conflict("job_exists", f"a job named {name!r} is already scheduled")
        if interval <= 0 or initial_delay < 0:
            raise InvalidInput(
                "invalid_job", "a job's interval must be positive and its delay not negative"
            )
        job = _Job(name=name, interval=float(interval), initial_delay=float(initial_delay), fn=fn)
        self._jobs[name] = job
        if self._started:
            self._spawn(job)

    @property
    def names(self) -> list[str]:
        return list(self._jobs)

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for job in self._jobs.values():
            self._spawn(job)

    async def stop(self) -> None:
        """Cancel every loop and manual run and wait for them (a running job is cancelled)."""
        self._started = False
        tasks = [*self._loops.values(), *self._manual]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops.clear()
        self._manual.clear()
        for job in self._jobs.values():
            job.due = None

    def status(self) -> list[JobStatus]:
        now_mono, now = time.monotonic(), datetime.now(UTC)
        return [self._status(job, now_mono, now) for job in self._jobs.values()]

    def job_status(self, name: str) -> JobStatus:
        return self._status(self._job(name), time.monotonic(), datetime.now(UTC))

    async def run_now(self, name: str, *, wait: bool = False) -> JobStatus:
        """Start a run of ``name`` at once (Conflict while it runs); with ``wait`` the
        status returned is the one after the run, otherwise the one as it starts."""
        job = self._job(name)
        if job.lock.locked():
            raise Conflict("job_running", f"job {name!r} is running already")
        started = asyncio.Event()
        task = asyncio.create_task(self._run(job, started), name=f"job-{name}-manual")
        self._manual.add(task)
        task.add_done_callback(self._manual.discard)
        if wait:
            await asyncio.shield(task)
        else:
            await started.wait()
        return self.job_status(name)

    # -- internals -------------------------------------------------------------------------
    def _job(self, name: str) -> _Job:
        job = self._jobs.get(name)
        if job is None:
            raise NotFound("unknown_job", f"there is no job named {name!r}")
        return job

    def _spawn(self, job: _Job) -> None:
        job.due = time.monotonic() + job.initial_delay
        self._loops[job.name] = asyncio.create_task(self._loop(job), name=f"job-{job.name}")

    async def _loop(self, job: _Job) -> None:
        while self._started:
            assert job.due is not None
            delay = job.due - time.monotonic()
            if delay > 0:
                job.wake.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that arrives as the event is set, and stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await job.wake.wait()
                continue  # re-read ``due``: a manual run may have moved it
            await self._run(job, None, scheduled=True)

    async def _run(
        self, job: _Job, started: asyncio.Event | None, *, scheduled: bool = False
    ) -> None:
        async with job.lock:
            if scheduled and job.due is not None and job.due > time.monotonic():
                return  # a manual run finished while this one waited, and rescheduled
            job.last_started = datetime.now(UTC)
            if started is not None:
                started.set()
            begin = time.perf_counter()
            try:
                await job.fn()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                job.failures += 1
                job.last_outcome = "error"
                job.last_error = (f"{type(error).__name__}: {error}")[:MAX_ERROR_CHARS]
                log.exception("job_failed", job=job.name)
            else:
                job.last_outcome = "ok"
                job.last_error = None
            finally:
                job.runs += 1
                job.last_duration_ms = (time.perf_counter() - begin) * 1000
                job.last_finished = datetime.now(UTC)
                if self._started:
                    job.due = time.monotonic() + job.interval
                    job.wake.set()

    def _status(self, job: _Job, now_mono: float, now: datetime) -> JobStatus:
        next_run = None
        if job.due is not None:
            next_run = now + timedelta(seconds=max(0.0, job.due - now_mono))
        return JobStatus(
            name=job.name,
            interval=job.interval,
            running=job.lock.locked(),
            last_started=job.last_started,
            last_finished=job.last_finished,
            last_duration_ms=job.last_duration_ms,
            last_outcome=job.last_outcome,
            last_error=job.last_error,
            next_run=next_run,
            runs=job.runs,
            failures=job.failures,
        )
