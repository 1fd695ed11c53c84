"""Which exchange tradedeck trades on, its health, and what reconciliation found.

On a live exchange the trader wants to know whether the exchange is reachable (the circuit
breaker) and whether tradedeck and the exchange agree (the last reconciliation, with every
difference it applied); an admin can ask for a reconciliation at once.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.schemas import Dec, OptDec
from tradedeck.domain.errors import Conflict
from tradedeck.domain.roles import Permission
from tradedeck.trading.reconcile import Reconciliation

router = APIRouter(prefix="/api/v1", tags=["exchange"])


class DifferenceOut(BaseModel):
    kind: str
    subject: str
    detail: str
    matters: bool


class ReconciliationOut(BaseModel):
    at: datetime | None
    differences: list[DifferenceOut]

    @classmethod
    def of(cls, found: Reconciliation, at: datetime | None) -> ReconciliationOut:
        return cls(
            at=at,
            differences=[
                DifferenceOut(
                    kind=d.kind.value, subject=d.subject, detail=d.detail, matters=d.matters
                )
                for d in found.differences
            ],
        )


class FuturesPositionOut(BaseModel):
    """A perpetual position as the exchange last reported it (short: negative contracts)."""

    symbol: str
    contracts: Dec
    entry_price: Dec
    mark_price: OptDec
    liquidation_price: OptDec
    unrealized_pnl: Dec
    leverage: int | None
    margin_mode: str | None


class ExchangeOut(BaseModel):
    exchange: str
    market_type: str | None = None
    circuit: str | None = None
    last_reconciliation: ReconciliationOut | None = None
    futures_positions: list[FuturesPositionOut] = []


@router.get("/exchange")
async def exchange_state(actor: ActorDep, services: ServicesDep) -> ExchangeOut:
    actor.require(Permission.READ)
    live = services.live
    if live is None:
        return ExchangeOut(exchange=services.settings.exchange)
    last = live.sync.report(actor)
    return ExchangeOut(
        exchange=services.settings.exchange,
        market_type=live.exchange.kind.value,
        circuit=live.exchange.client.breaker.state.value,
        last_reconciliation=None if last is None else ReconciliationOut.of(last, live.sync.last_at),
        futures_positions=[
            FuturesPositionOut(
                symbol=p.symbol,
                contracts=p.contracts,
                entry_price=p.entry_price,
                mark_price=p.mark_price,
                liquidation_price=p.liquidation_price,
                unrealized_pnl=p.unrealized_pnl,
                leverage=p.leverage,
                margin_mode=None if p.margin_mode is None else p.margin_mode.value,
            )
            for p in live.exchange.futures_positions()
        ],
    )


@router.post("/exchange/reconcile")
async def reconcile_now(actor: ActorDep, services: ServicesDep) -> ReconciliationOut:
    live = services.live
    if live is None:
        actor.require(Permission.MANAGE_JOBS)
        raise Conflict(
            "paper_exchange", "the paper exchange is its own truth: nothing to reconcile"
        )
    found = await live.sync.reconcile_for(actor)
    return ReconciliationOut.of(found, live.sync.last_at)
