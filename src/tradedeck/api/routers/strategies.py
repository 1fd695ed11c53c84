"""Strategies: what can run (built-ins and user files), what failed to load, what runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.domain.errors import InvalidInput, NotFound
from tradedeck.domain.roles import Permission

router = APIRouter(prefix="/api/v1", tags=["strategies"])


@router.get("/strategies")
async def list_strategies(actor: ActorDep, services: ServicesDep) -> dict[str, Any]:
    """Every known strategy with its params schema, load errors as ``file:line: message``,
    and the live runs configured in TRADEDECK_STRATEGIES."""
    actor.require(Permission.READ)
    registry = services.strategies
    return {
        "strategies": [info.as_dict() for info in registry.describe()],
        "load_errors": [str(error) for error in registry.errors()],
        "running": services.strategy_runner.status(actor),
    }


@router.get("/strategies/{name}")
async def get_strategy(name: str, actor: ActorDep, services: ServicesDep) -> dict[str, Any]:
    actor.require(Permission.READ)
    try:
        cls = services.strategies.get(name)
    except InvalidInput as unknown:  # a path that names nothing is a 404, not bad input
        raise NotFound(unknown.code, unknown.detail) from None
    return next(i.as_dict() for i in services.strategies.describe() if i.name == cls.name)
