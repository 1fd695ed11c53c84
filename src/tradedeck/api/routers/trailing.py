"""Trailing stops over REST: a trader sets one on a position, lists and deletes their own;
an admin may list everyone's with ``?all=true`` (all checked in the trailing stop service)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.schemas import Dec, OptDec
from tradedeck.domain.markets import normalize_symbol
from tradedeck.trading.trailing_rules import TrailingStop, TrailSpec, parse_trail

router = APIRouter(prefix="/api/v1", tags=["trailing stops"])


class TrailingStopIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)

    symbol: str = Field(min_length=3, max_length=40, examples=["ETH/BTC"])
    trail_percent: str = Field(min_length=1, max_length=41, examples=["3", "2.5%"])
    amount: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, examples=["0.5"])


class TrailingStopOut(BaseModel):
    id: int
    user_id: int
    symbol: str
    trail_percent: Dec
    amount: OptDec
    guards: str  # "long": peak is the high, the stop sells; "short": the low, it buys back
    peak: Dec
    level: Dec
    status: str
    created_at: datetime
    triggered_at: datetime | None
    trigger_price: OptDec
    order_id: str | None
    reason: str | None

    @classmethod
    def of(cls, stop: TrailingStop) -> TrailingStopOut:
        return cls(
            id=stop.id,
            user_id=stop.user_id,
            symbol=stop.symbol,
            trail_percent=stop.trail_percent,
            amount=stop.amount,
            guards=stop.guards.value,
            peak=stop.peak,
            level=stop.level,
            status=stop.status.value,
            created_at=stop.created_at,
            triggered_at=stop.triggered_at,
            trigger_price=stop.trigger_price,
            order_id=stop.order_id,
            reason=stop.reason,
        )


@router.get("/trailing-stops")
async def list_trailing_stops(
    actor: ActorDep,
    services: ServicesDep,
    everyone: Annotated[bool, Query(alias="all")] = False,
) -> list[TrailingStopOut]:
    """Your trailing stops, newest first; ``all=true`` (admins) lists every user's."""
    found = await services.trailing.list_stops(actor, everyone=everyone)
    return [TrailingStopOut.of(s) for s in found]


@router.post("/trailing-stops", status_code=201)
async def create_trailing_stop(
    body: TrailingStopIn, actor: ActorDep, services: ServicesDep
) -> TrailingStopOut:
    """Sell ``amount`` (default: the whole position) at market once the price falls
    ``trail_percent`` below its highest since now."""
    spec = TrailSpec(normalize_symbol(body.symbol), parse_trail(body.trail_percent), body.amount)
    return TrailingStopOut.of(await services.trailing.create(actor, spec))


@router.delete("/trailing-stops/{stop_id}", status_code=204)
async def delete_trailing_stop(stop_id: int, actor: ActorDep, services: ServicesDep) -> Response:
    await services.trailing.delete(actor, stop_id)
    return Response(status_code=204)
