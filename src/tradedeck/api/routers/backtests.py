"""Backtests: queue a run, poll its progress, read its result and its equity chart.

A run takes seconds, so ``POST`` answers 202 with an id at once; the service checks the
request first, so a bad one is a 4xx and nothing is queued or stored.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.backtest.inputs import BacktestRequest
from tradedeck.backtest.service import BacktestJob, BacktestStatus
from tradedeck.domain.errors import Conflict
from tradedeck.domain.roles import Permission

router = APIRouter(prefix="/api/v1", tags=["backtests"])

_HIDDEN = {"heartbeat"}


@router.post("/backtests", status_code=202, response_model_exclude=_HIDDEN)
async def submit_backtest(
    body: BacktestRequest, actor: ActorDep, services: ServicesDep
) -> BacktestJob:
    """Queue a backtest of a strategy on a market's stored candles; poll ``GET`` by id."""
    actor.require(Permission.READ)
    return await services.backtests.submit(actor, body)


@router.get("/backtests/{backtest_id}", response_model_exclude=_HIDDEN)
async def get_backtest(backtest_id: str, actor: ActorDep, services: ServicesDep) -> BacktestJob:
    """Status (queued, running, done, failed), progress 0-1, then the result or the error."""
    actor.require(Permission.READ)
    return await services.backtests.get(actor, backtest_id)


@router.get(
    "/backtests/{backtest_id}/equity.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The equity curve"}},
)
async def backtest_equity_chart(
    backtest_id: str, actor: ActorDep, services: ServicesDep
) -> Response:
    actor.require(Permission.READ)
    job = await services.backtests.get(actor, backtest_id)
    if job.status is not BacktestStatus.DONE or job.result is None:
        raise Conflict("backtest_not_done", f"backtest {backtest_id} is {job.status.value}")
    result = job.result
    png = await services.charts.equity(
        [p.time for p in result.equity],
        [p.equity for p in result.equity],
        title=f"{result.strategy} · {result.symbol} · {result.timeframe}",
    )
    return Response(content=png, media_type="image/png", headers={"Cache-Control": "private"})
