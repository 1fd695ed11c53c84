"""Balance, positions and PnL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.schemas import BalanceOut, BalancesOut, DailyPnlOut, PnlOut, PositionOut

router = APIRouter(prefix="/api/v1", tags=["portfolio"])


@router.get("/balance")
async def balance(actor: ActorDep, services: ServicesDep) -> BalancesOut:
    balances, equity = services.portfolio.balances(actor)
    return BalancesOut(
        currency=equity.currency,
        equity=equity.total,
        unvalued=list(equity.unvalued),
        balances=[BalanceOut.of(b, equity.by_asset.get(b.asset)) for b in balances],
    )


@router.get("/positions")
async def positions(actor: ActorDep, services: ServicesDep) -> list[PositionOut]:
    return [PositionOut.of(p) for p in services.portfolio.positions(actor)]


@router.get("/pnl")
async def pnl(actor: ActorDep, services: ServicesDep) -> PnlOut:
    return PnlOut.of(await services.portfolio.summary(actor))


@router.get("/pnl/daily")
async def pnl_daily(
    actor: ActorDep, services: ServicesDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> list[DailyPnlOut]:
    return [DailyPnlOut.of(d) for d in await services.portfolio.daily(actor, days)]
