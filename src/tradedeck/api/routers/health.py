"""Liveness for load balancers and the quick-start check; no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tradedeck import __version__
from tradedeck.api.deps import ServicesDep
from tradedeck.services import Services
from tradedeck.watchdog.status import alive_within

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: ServicesDep) -> dict[str, object]:
    return {
        "status": "ok",
        "version": __version__,
        "exchange": "paper",
        "kill_switch_active": services.kill_switch.active,
        "markets": len(services.orders.exchange.markets),
        "watchdog": _watchdog(services),
    }


def _watchdog(services: Services) -> dict[str, object]:
    """Whether a watchdog guards this process, from the newest watchdog beat the heartbeat
    writer saw (it looks every beat, so the answer lags by at most one heartbeat)."""
    writer = services.heartbeat
    beat = writer.watchdog if writer is not None else None
    if writer is None or beat is None:
        return {"alive": False, "last_seen_seconds": None, "id": None}
    age = beat.age()
    return {
        "alive": age <= alive_within(beat) + writer.interval,
        "last_seen_seconds": round(age, 1),
        "id": beat.owner,
    }


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    services.metrics.kill_switch_active.set(1 if services.kill_switch.active else 0)
    payload, content_type = services.metrics.render()
    return Response(payload, media_type=content_type)
