"""BacktestService: backtests as background jobs, for the REST API and the bot.

A run takes seconds of CPU, so ``submit`` checks the request (strategy, params, market,
sizing: a bad one is refused at once and nothing is stored), queues it and returns an
id; one worker runs the queue in order, each run in a worker thread so the event loop
stays responsive. Runs go one at a time on purpose: the machine has few cores and a
second concurrent run would only make both slower.

Jobs live in the key-value store (database or Redis), so a result survives a restart
and any replica can answer for it. While a job is queued or running, its process writes
a heartbeat; a job whose heartbeat stopped (the process died or restarted mid-run) is
reported, and stored, as failed with that reason instead of running forever.

Permission: READ. A backtest trades a simulated account that exists only inside the
run: it places no real order, moves no balance and reads only public candles, like a
chart or a scan, so a viewer may run one. What it costs is CPU, which the bounded queue
limits for everyone. A user sees their own jobs; an admin sees all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import structlog
from pydantic import BaseModel, ConfigDict, Field

from tradedeck.backtest.engine import run_backtest
from tradedeck.backtest.inputs import BacktestRequest, build_strategy, config_for
from tradedeck.backtest.report import BacktestResult
from tradedeck.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from tradedeck.domain.roles import Actor, Permission, Role
from tradedeck.marketdata.catalog import BundledMarket, load_bundled_series
from tradedeck.storage.kv import KeyValueStore
from tradedeck.strategies.registry import StrategyRegistry

log = structlog.get_logger(__name__)

KEY_PREFIX: Final = "backtest:"
RESULT_TTL_SECONDS: Final = 7 * 86_400.0
HEARTBEAT_SECONDS: Final = 5.0
STALE_SECONDS: Final = 30.0
MAX_WAITING: Final = 8
_INTERRUPTED: Final = "interrupted: the process running it stopped before it finished"

Clock = Callable[[], float]


class BacktestStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (BacktestStatus.DONE, BacktestStatus.FAILED)


class BacktestError(BaseModel):
    error: str
    detail: str


class BacktestJob(BaseModel):
    """What ``get`` returns and what the store keeps, one JSON document per job."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: BacktestStatus
    progress: float = Field(ge=0, le=1)
    request: BacktestRequest
    user: str
    user_id: int | None = None
    submitted_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    error: BacktestError | None = None
    result: BacktestResult | None = None
    heartbeat: float = Field(default=0.0, description="wall-clock seconds of the last beat")


@dataclass(slots=True)
class _Live:
    """A job of this process: the stored document plus the progress the thread moves."""

    job: BacktestJob
    progress: float = 0.0


class BacktestService:
    def __init__(
        self,
        store: KeyValueStore,
        registry: StrategyRegistry,
        markets: Mapping[str, BundledMarket],
        *,
        clock: Clock = time.time,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store = store
        self._registry = registry
        self._markets = dict(markets)
        self._clock = clock
        self._new_id = new_id
        self._live: dict[str, _Live] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._worker: asyncio.Task[Any] | None = None
        self._beat: asyncio.Task[None] | None = None
        self._wake: Callable[[], Awaitable[object]] | None = None

    def run_by(self, wake: Callable[[], Awaitable[object]]) -> None:
        """Let a scheduler run the queue: ``wake`` starts its job (which calls
        :meth:`run_queued`) at once; the job's own interval picks up anything missed."""
        self._wake = wake

    # -- faces call these ----------------------------------------------------------------
    async def submit(self, actor: Actor, request: BacktestRequest) -> BacktestJob:
        """Check and queue a run; refusals raise before anything is stored."""
        actor.require(Permission.READ)
        self._check(request)
        waiting = sum(1 for live in self._live.values() if not live.job.status.finished)
        if waiting >= MAX_WAITING:
            raise Conflict("backtests_busy", f"{waiting} backtests are waiting; try again later")
        now = self._now()
        job = BacktestJob(
            id=self._new_id(),
            status=BacktestStatus.QUEUED,
            progress=0.0,
            request=request,
            user=actor.name,
            user_id=actor.user_id,
            submitted_at=now,
            updated_at=now,
            heartbeat=self._clock(),
        )
        await self._save(job)
        self._live[job.id] = _Live(job)
        self._queue.put_nowait(job.id)
        self._ensure_tasks()
        log.info("backtest_queued", id=job.id, user=actor.name, strategy=request.strategy)
        return job

    async def get(self, actor: Actor, job_id: str) -> BacktestJob:
        """Status, progress, and the result or the error once finished."""
        actor.require(Permission.READ)
        live = self._live.get(job_id)
        job: BacktestJob | None
        if live is not None:
            job = live.job.model_copy(update={"progress": live.progress})
        else:
            job = await self._load(job_id)
            if job is not None and not job.status.finished:
                job = await self._fail_if_stale(job)
        if job is None or not _visible(actor, job):
            raise NotFound("backtest_not_found", f"no backtest with id {job_id!r}")
        return job

    async def wait(self, actor: Actor, job_id: str, *, poll: float = 0.2) -> BacktestJob:
        """Until the job is finished (the bot's way to get its card); callers time out."""
        while True:
            job = await self.get(actor, job_id)
            if job.status.finished:
                return job
            await asyncio.sleep(poll)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._ensure_tasks()

    async def stop(self) -> None:
        """Stop taking work; jobs not finished are stored as failed with the reason.

        A run already in its thread cannot be interrupted; it finishes on its own and its
        result is dropped, since the job was already answered as failed.
        """
        for task in (self._worker, self._beat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._worker = self._beat = None
        for live in list(self._live.values()):
            if not live.job.status.finished:
                error = BacktestError(
                    error="interrupted", detail="tradedeck stopped before the run finished"
                )
                with contextlib.suppress(Exception):
                    await self._finish(live, BacktestStatus.FAILED, error=error)
        self._live.clear()
        await self._store.close()

    # -- internals -----------------------------------------------------------------------
    def _check(self, request: BacktestRequest) -> None:
        build_strategy(self._registry, request.strategy, request.params)
        bundled = self._market(request.symbol)
        if request.timeframe is not None and request.timeframe != bundled.timeframe:
            raise InvalidInput(
                "invalid_timeframe",
                f"{bundled.symbol} has {bundled.timeframe} candles, not {request.timeframe}",
            )
        config_for(request, bundled.market)

    def _market(self, symbol: str) -> BundledMarket:
        text = symbol.strip().upper().replace("-", "/").replace("_", "/")
        bundled = self._markets.get(text)
        if bundled is None:
            raise InvalidInput(
                "unknown_symbol",
                f"no stored candles for {symbol!r}; known: {', '.join(sorted(self._markets))}",
            )
        return bundled

    def _ensure_tasks(self) -> None:
        if self._worker is None or self._worker.done():
            work = self._woken() if self._wake is not None else self.run_queued()
            self._worker = asyncio.create_task(work, name="backtests")
        if self._beat is None or self._beat.done():
            self._beat = asyncio.create_task(self._heartbeat(), name="backtests-heartbeat")

    async def _woken(self) -> None:
        assert self._wake is not None
        with contextlib.suppress(Conflict):  # running already: it drains the queue anyway
            await self._wake()

    async def run_queued(self) -> int:
        """Run every queued backtest, one after another; returns how many ran."""
        ran = 0
        while not self._queue.empty():
            job_id = self._queue.get_nowait()
            live = self._live.get(job_id)
            if live is None or live.job.status.finished:
                continue
            try:
                await self._run(live)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug, not bad input: the job fails, the worker lives on
                log.exception("backtest_crashed", id=job_id)
                error = BacktestError(error="internal_error", detail="the backtest crashed")
                with contextlib.suppress(Exception):
                    await self._finish(live, BacktestStatus.FAILED, error=error)
            ran += 1
        return ran

    async def _run(self, live: _Live) -> None:
        request = live.job.request
        live.job = live.job.model_copy(
            update={"status": BacktestStatus.RUNNING, "updated_at": self._now()}
        )
        await self._save(live.job)
        started = time.perf_counter()
        try:
            strategy = build_strategy(self._registry, request.strategy, request.params)
            bundled = self._market(request.symbol)
            config = config_for(request, bundled.market)

            def progress(done: float) -> None:
                live.progress = done

            def work() -> BacktestResult:
                series = load_bundled_series(bundled)
                return run_backtest(series, strategy, config, progress=progress)

            result = await asyncio.to_thread(work)
        except DomainError as refused:
            error = BacktestError(error=refused.code, detail=refused.detail)
            await self._finish(live, BacktestStatus.FAILED, error=error)
            return
        log.info(
            "backtest_done",
            id=live.job.id,
            trades=result.metrics.trades,
            seconds=round(time.perf_counter() - started, 3),
        )
        await self._finish(live, BacktestStatus.DONE, result=result)

    async def _finish(
        self,
        live: _Live,
        status: BacktestStatus,
        *,
        result: BacktestResult | None = None,
        error: BacktestError | None = None,
    ) -> None:
        now = self._now()
        live.job = live.job.model_copy(
            update={
                "status": status,
                "progress": 1.0 if status is BacktestStatus.DONE else live.progress,
                "updated_at": now,
                "finished_at": now,
                "result": result,
                "error": error,
            }
        )
        await self._save(live.job)
        self._live.pop(live.job.id, None)

    async def _heartbeat(self) -> None:
        """Tell other processes (and this one after a restart) that the jobs are alive."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            for live in list(self._live.values()):
                if live.job.status.finished:
                    continue
                live.job = live.job.model_copy(
                    update={"progress": live.progress, "heartbeat": self._clock()}
                )
                try:
                    await self._save(live.job)
                except Exception:
                    log.exception("backtest_heartbeat_failed", id=live.job.id)

    async def _fail_if_stale(self, job: BacktestJob) -> BacktestJob:
        if self._clock() - job.heartbeat < STALE_SECONDS:
            return job  # another process is on it
        now = self._now()
        failed = job.model_copy(
            update={
                "status": BacktestStatus.FAILED,
                "updated_at": now,
                "finished_at": now,
                "error": BacktestError(error="interrupted", detail=_INTERRUPTED),
            }
        )
        await self._save(failed)
        return failed

    async def _save(self, job: BacktestJob) -> None:
        await self._store.set(KEY_PREFIX + job.id, job.model_dump_json(), RESULT_TTL_SECONDS)

    async def _load(self, job_id: str) -> BacktestJob | None:
        if not job_id or len(job_id) > 64 or not job_id.isalnum():
            return None
        raw = await self._store.get(KEY_PREFIX + job_id)
        return None if raw is None else BacktestJob.model_validate_json(raw)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def _visible(actor: Actor, job: BacktestJob) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if job.user_id is not None or actor.user_id is not None:
        return job.user_id == actor.user_id
    return job.user == actor.name
