"""Orders and fills."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.schemas import FillOut, OrderIn, OrderOut
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import OrderStatus
from tradedeck.domain.roles import Permission
from tradedeck.trading.requests import OrderRequest

router = APIRouter(prefix="/api/v1", tags=["orders"])

_STATUS_GROUPS = {
    "open": [OrderStatus.NEW, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED],
    "closed": [OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED],
}


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    responses={200: {"description": "idempotent replay: the order placed earlier"}},
)
async def create_order(body: OrderIn, actor: ActorDep, services: ServicesDep) -> Response:
    request = OrderRequest(
        symbol=body.symbol,
        side=body.side,
        type=body.type,
        amount=body.amount,
        price=body.price,
        stop_price=body.stop_price,
        client_order_id=body.client_order_id,
        stop_loss=body.stop_loss,
        take_profit=body.take_profit,
        source=actor.channel,
    )
    order, created = await services.orders.place(actor, request)
    # The hot path: serialise once, without FastAPI re-validating the response model.
    return Response(
        OrderOut.of(order).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


def _statuses(raw: str | None) -> list[OrderStatus] | None:
    if raw is None:
        return None
    result: list[OrderStatus] = []
    for part in filter(None, (p.strip().lower() for p in raw.split(","))):
        if part in _STATUS_GROUPS:
            result.extend(_STATUS_GROUPS[part])
            continue
        try:
            result.append(OrderStatus(part))
        except ValueError:
            allowed = ", ".join([*_STATUS_GROUPS, *(s.value for s in OrderStatus)])
            raise InvalidInput(
                "invalid_status", f"unknown status {part!r}; use {allowed}"
            ) from None
    return result


@router.get("/orders")
async def list_orders(
    actor: ActorDep,
    services: ServicesDep,
    status: Annotated[
        str | None, Query(description="open, closed or statuses, comma-separated")
    ] = None,
    symbol: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderOut]:
    actor.require(Permission.READ)
    orders = await services.repository.list_orders(
        statuses=_statuses(status),
        symbol=services.orders.market(symbol).symbol if symbol else None,
        limit=limit,
        offset=offset,
    )
    return [OrderOut.of(o) for o in orders]


@router.get("/orders/{order_id}")
async def get_order(order_id: str, actor: ActorDep, services: ServicesDep) -> OrderOut:
    return OrderOut.of(await services.orders.get_order(actor, order_id))


@router.delete("/orders/{order_id}")
async def cancel_order(order_id: str, actor: ActorDep, services: ServicesDep) -> OrderOut:
    return OrderOut.of(await services.orders.cancel(actor, order_id))


@router.get("/fills")
@router.get("/trades", include_in_schema=False)
async def list_fills(
    actor: ActorDep,
    services: ServicesDep,
    symbol: str | None = None,
    order_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[FillOut]:
    actor.require(Permission.READ)
    fills = await services.repository.list_fills(
        symbol=services.orders.market(symbol).symbol if symbol else None,
        order_id=order_id,
        limit=limit,
        offset=offset,
    )
    return [FillOut.of(f) for f in fills]
