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
        "exchange": services.settings.exchange,
        "kill_switch_active": services.kill_switch.active,
        "markets": len(services.marketdata.markets),
        "watchdog": _watchdog(services),
        **_live(services),
    }


def _live(services: Services) -> dict[str, object]:
    """For a live exchange: its circuit breaker and when it was last reconciled."""
    live = services.live
    if live is None:
        return {}
    breaker = live.exchange.client.breaker
    last = live.sync.last
    return {
        "exchange_circuit": breaker.state.value,
        "market_type": live.exchange.kind.value,
        "last_reconcile_differences": None if last is None else len(last.differences),
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
