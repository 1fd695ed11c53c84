"""The kill switch and risk limits: reads for everyone, changes by role (checked in services)."""

from __future__ import annotations

from fastapi import APIRouter

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.schemas import KillSwitchIn, KillSwitchOut, RiskLimitsPatch
from tradedeck.domain.roles import Permission
from tradedeck.trading.risk_limits import RiskLimits

router = APIRouter(prefix="/api/v1", tags=["control"])


@router.get("/kill-switch")
async def kill_switch_state(actor: ActorDep, services: ServicesDep) -> KillSwitchOut:
    actor.require(Permission.READ)
    return KillSwitchOut.of(await services.kill_switch.refresh())


@router.post("/kill-switch")
async def kill_switch_activate(
    body: KillSwitchIn, actor: ActorDep, services: ServicesDep
) -> KillSwitchOut:
    state, canceled = await services.kill_switch.activate(actor, body.reason)
    return KillSwitchOut.of(state, canceled)


@router.delete("/kill-switch")
async def kill_switch_resume(actor: ActorDep, services: ServicesDep) -> KillSwitchOut:
    return KillSwitchOut.of(await services.kill_switch.resume(actor))


@router.get("/risk/limits")
async def risk_limits(actor: ActorDep, services: ServicesDep) -> RiskLimits:
    actor.require(Permission.READ)
    return services.risk.limits


@router.patch("/risk/limits")
async def update_risk_limits(
    body: RiskLimitsPatch, actor: ActorDep, services: ServicesDep
) -> RiskLimits:
    return await services.risk.update_limits(actor, body.model_dump(exclude_none=True))
