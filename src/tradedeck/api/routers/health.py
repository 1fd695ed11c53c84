"""Liveness for load balancers and the quick-start check; no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tradedeck import __version__
from tradedeck.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: ServicesDep) -> dict[str, object]:
    return {
        "status": "ok",
        "version": __version__,
        "exchange": "paper",
        "kill_switch_active": services.kill_switch.active,
        "markets": len(services.orders.exchange.markets),
    }


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    services.metrics.kill_switch_active.set(1 if services.kill_switch.active else 0)
    payload, content_type = services.metrics.render()
    return Response(payload, media_type=content_type)
