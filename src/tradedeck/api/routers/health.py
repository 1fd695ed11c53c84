"""Liveness for load balancers and the quick-start check; no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tradedeck import __version__
from tradedeck.api.deps import ServicesDep
from tradedeck.ops.probes import watchdog_seen
from tradedeck.services import Services

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
    """Whether a watchdog guards this process (see ``ops.probes.watchdog_seen``)."""
    seen = watchdog_seen(services.heartbeat)
    return {"alive": seen.alive, "last_seen_seconds": seen.last_seen_seconds, "id": seen.owner}


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    services.metrics.kill_switch_active.set(1 if services.kill_switch.active else 0)
    payload, content_type = services.metrics.render()
    return Response(payload, media_type=content_type)
