"""The platform's health, resources, recent logs and errors, for admins (checked in the
service). ``/healthz`` stays the token-free liveness line for load balancers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.ops.log_buffer import LEVELS, ErrorGroup, LogLine
from tradedeck.ops.system import Check, Resources, State, SystemHealth

router = APIRouter(prefix="/api/v1/system", tags=["system"])

LevelQuery = Annotated[str, Query(pattern="^(" + "|".join(LEVELS) + ")$")]


class HealthOut(BaseModel):
    state: State
    version: str
    started_at: datetime
    uptime_seconds: float
    errors_last_hour: int
    checks: list[Check]
    resources: Resources

    @classmethod
    def of(cls, health: SystemHealth) -> HealthOut:
        return cls(
            state=health.state,
            version=health.version,
            started_at=health.started_at,
            uptime_seconds=round(health.uptime_seconds, 1),
            errors_last_hour=health.errors_last_hour,
            checks=health.checks,
            resources=health.resources,
        )


@router.get("/health")
async def health(actor: ActorDep, services: ServicesDep) -> HealthOut:
    return HealthOut.of(await services.system.health(actor))


@router.get("/logs")
async def logs(
    actor: ActorDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    level: LevelQuery = "info",
) -> list[LogLine]:
    return services.system.log_lines(actor, limit, level)


@router.get("/errors")
async def errors(
    actor: ActorDep,
    services: ServicesDep,
    hours: Annotated[float, Query(gt=0, le=24 * 30)] = 24.0,
) -> list[ErrorGroup]:
    return services.system.errors(actor, hours)
