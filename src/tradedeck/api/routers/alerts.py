"""Price alerts over REST: a user lists, sets and deletes their own; an admin's list
holds everyone's (both checked in the alert service)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from tradedeck.alerts.rules import AlertSpec, PriceAlert, parse_op
from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.schemas import Dec, OptDec
from tradedeck.domain.markets import normalize_symbol
from tradedeck.domain.roles import Permission

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    symbol: str = Field(min_length=3, max_length=40, examples=["ETH/BTC"])
    op: str = Field(max_length=2, examples=[">", ">=", "<", "<="])
    price: Decimal = Field(gt=0, allow_inf_nan=False, examples=["0.09"])


class AlertOut(BaseModel):
    id: int
    user_id: int
    symbol: str
    op: str
    price: Dec
    active: bool
    created_at: datetime
    triggered_at: datetime | None
    triggered_price: OptDec

    @classmethod
    def of(cls, alert: PriceAlert) -> AlertOut:
        return cls(
            id=alert.id,
            user_id=alert.user_id,
            symbol=alert.symbol,
            op=alert.op.value,
            price=alert.price,
            active=alert.active,
            created_at=alert.created_at,
            triggered_at=alert.triggered_at,
            triggered_price=alert.triggered_price,
        )


@router.get("/alerts")
async def list_alerts(actor: ActorDep, services: ServicesDep) -> list[AlertOut]:
    """Your alerts, newest first (an admin sees every user's)."""
    everyone = actor.can(Permission.MANAGE_USERS)
    return [AlertOut.of(a) for a in await services.alerts.list_alerts(actor, everyone=everyone)]


@router.post("/alerts", status_code=201)
async def create_alert(body: AlertIn, actor: ActorDep, services: ServicesDep) -> AlertOut:
    """Fire once when the price crosses ``price`` in the direction of ``op``."""
    spec = AlertSpec(normalize_symbol(body.symbol), parse_op(body.op), body.price)
    return AlertOut.of(await services.alerts.create(actor, spec))


@router.delete("/alerts/{alert_id}", status_code=204)
async def delete_alert(alert_id: int, actor: ActorDep, services: ServicesDep) -> Response:
    await services.alerts.delete(actor, alert_id)
    return Response(status_code=204)
