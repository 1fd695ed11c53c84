"""ccxt's unified dicts as tradedeck's models: numbers exact, times UTC, statuses domain.

ccxt hands out floats and millisecond timestamps, and it folds some order kinds into
others: binance's STOP_LOSS_LIMIT comes back as type "limit" with a ``triggerPrice``. Every
conversion happens here once, so nothing past the client ever sees a ccxt dict: numbers go
through ``str`` into ``Decimal`` (the float's shortest repr, never its binary expansion),
and the order kind is rebuilt from the unified type, the trigger price and the exchange's
own type name.

Symbols are passed in by the caller: ccxt's ``"BTC/USDT:USDT"`` is tradedeck's
``"BTC/USDT"``, and only the client knows which market it loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradedeck.domain.candles import Candle
from tradedeck.domain.money import ZERO
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live.models import (
    FuturesPosition,
    MarginMode,
    RemoteOrder,
    RemoteTrade,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_STATUSES = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
    "expired": OrderStatus.EXPIRED,
}


def number(value: Any) -> Decimal | None:
    """A ccxt number (float, int or numeric string) as an exact Decimal; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def positive(value: Any) -> Decimal | None:
    """A price that ccxt may report as 0 when there is none."""
    parsed = number(value)
    return parsed if parsed is not None and parsed > 0 else None


def utc_from_ms(value: Any) -> datetime | None:
    """A ccxt millisecond timestamp as a UTC datetime, exactly (no float seconds)."""
    if value is None:
        return None
    return _EPOCH + timedelta(milliseconds=int(value))


def ms_from_utc(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(milliseconds=1)


def order_status(raw: Mapping[str, Any]) -> OrderStatus:
    """ccxt's status as the domain's: an open order that filled some is PARTIALLY_FILLED."""
    status = str(raw.get("status") or "open").lower()
    if status in _STATUSES:
        return _STATUSES[status]
    filled = number(raw.get("filled")) or ZERO
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN


def _type_names(raw: Mapping[str, Any]) -> tuple[str, str]:
    info = raw.get("info") or {}
    native = info.get("type") or info.get("orderType") or info.get("origType") or ""
    return str(raw.get("type") or "").lower(), str(native).lower()


def order_type(raw: Mapping[str, Any]) -> tuple[OrderType, bool]:
    """(the domain's order type, whether it is a take-profit trigger) of a ccxt order.

    A trigger order is one with a trigger price or a stop/take-profit type name (binance:
    STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT on spot; STOP, STOP_MARKET,
    TAKE_PROFIT, TAKE_PROFIT_MARKET on futures). Whether it executes as a limit or a market
    order is ccxt's unified type ("limit"/"market"), else the presence of a limit price.
    """
    unified, native = _type_names(raw)
    names = f"{unified} {native}"
    take_profit = raw.get("takeProfitPrice") is not None or "take_profit" in names
    trigger = positive(raw.get("triggerPrice")) or positive(raw.get("stopPrice"))
    conditional = trigger is not None or take_profit or "stop" in names
    if "market" in unified:
        limit = False
    elif "limit" in unified:
        limit = True
    else:
        limit = positive(raw.get("price")) is not None
    if not conditional:
        return (OrderType.LIMIT if limit else OrderType.MARKET), False
    return (OrderType.STOP_LIMIT if limit else OrderType.STOP_MARKET), take_profit


def _fee(raw: Mapping[str, Any]) -> tuple[Decimal, str | None]:
    """The order's or trade's fees in the currency of the first one (ccxt ``fee``/``fees``)."""
    fees: Sequence[Mapping[str, Any]] = raw.get("fees") or ([raw["fee"]] if raw.get("fee") else [])
    currency: str | None = None
    total = ZERO
    for fee in fees:
        cost = number(fee.get("cost"))
        if cost is None:
            continue
        currency = currency or fee.get("currency")
        if fee.get("currency") in (currency, None):
            total += cost
    return total, currency


def remote_trade(
    raw: Mapping[str, Any],
    symbol: str,
    *,
    order_id: str | None = None,
    side: Side | None = None,
    at: datetime | None = None,
) -> RemoteTrade:
    """One ccxt trade; an order's fills lack their order id, side and time, so the order's
    are passed in."""
    fee, fee_currency = _fee(raw)
    trade_side = Side(str(raw["side"]).lower()) if raw.get("side") else side
    timestamp = utc_from_ms(raw.get("timestamp")) or at
    if trade_side is None or timestamp is None:
        raise ValueError(f"trade {raw.get('id')} of {symbol} lacks its side or its time")
    return RemoteTrade(
        trade_id=str(raw.get("id")),
        exchange_order_id=str(raw.get("order") or order_id),
        symbol=symbol,
        side=trade_side,
        amount=number(raw.get("amount")) or ZERO,
        price=number(raw.get("price")) or ZERO,
        fee=fee,
        fee_currency=str(fee_currency or ""),
        timestamp=timestamp,
        liquidity=str(raw.get("takerOrMaker") or "taker"),
    )


def remote_order(raw: Mapping[str, Any], symbol: str, now: datetime) -> RemoteOrder:
    """One ccxt order, with the fills ccxt parsed from the reply (binance's FULL response)."""
    kind, take_profit = order_type(raw)
    side = Side(str(raw["side"]).lower())
    order_id = str(raw["id"])
    created = utc_from_ms(raw.get("timestamp"))
    updated = (
        utc_from_ms(raw.get("lastUpdateTimestamp"))
        or utc_from_ms(raw.get("lastTradeTimestamp"))
        or created
        or now
    )
    trades = tuple(
        remote_trade(t, symbol, order_id=order_id, side=side, at=created or updated)
        for t in raw.get("trades") or ()
    )
    fee, fee_currency = _fee(raw)
    if not fee and trades:
        fee = sum((t.fee for t in trades), ZERO)
        fee_currency = trades[0].fee_currency or None
    amount = number(raw.get("amount")) or ZERO
    return RemoteOrder(
        exchange_order_id=order_id,
        client_order_id=raw.get("clientOrderId"),
        symbol=symbol,
        side=side,
        type=kind,
        status=order_status(raw),
        amount=amount,
        filled=number(raw.get("filled")) or ZERO,
        average_price=positive(raw.get("average")),
        price=positive(raw.get("price")) if kind.needs_price else None,
        stop_price=positive(raw.get("triggerPrice")) or positive(raw.get("stopPrice")),
        fee=fee,
        fee_currency=fee_currency,
        updated_at=updated,
        reduce_only=bool(raw.get("reduceOnly")),
        trades=trades,
        take_profit=take_profit,
        created_at=created,
    )


def futures_position(raw: Mapping[str, Any], symbol: str) -> FuturesPosition | None:
    """A ccxt position as a signed one (short < 0); None when it is flat."""
    contracts = number(raw.get("contracts")) or ZERO
    if contracts == 0:
        return None
    if raw.get("side") == "short":
        contracts = -abs(contracts)
    leverage = number(raw.get("leverage"))
    mode = raw.get("marginMode")
    return FuturesPosition(
        symbol=symbol,
        contracts=contracts,
        entry_price=number(raw.get("entryPrice")) or ZERO,
        mark_price=positive(raw.get("markPrice")),
        liquidation_price=positive(raw.get("liquidationPrice")),
        unrealized_pnl=number(raw.get("unrealizedPnl")) or ZERO,
        leverage=int(leverage) if leverage else None,
        margin_mode=MarginMode(mode) if mode in ("isolated", "cross") else None,
    )


def balances(raw: Mapping[str, Any]) -> dict[str, tuple[Decimal, Decimal]]:
    """(free, used) per asset from a ccxt balance, assets holding nothing left out."""
    free: Mapping[str, Any] = raw.get("free") or {}
    used: Mapping[str, Any] = raw.get("used") or {}
    result: dict[str, tuple[Decimal, Decimal]] = {}
    for asset in sorted(set(free) | set(used)):
        pair = (number(free.get(asset)) or ZERO, number(used.get(asset)) or ZERO)
        if pair != (ZERO, ZERO):
            result[asset] = pair
    return result


def candle(row: Sequence[Any], symbol: str, timeframe: str) -> Candle:
    """One ccxt OHLCV row ``[ms, open, high, low, close, volume]``."""
    opened = utc_from_ms(row[0])
    if opened is None:
        raise ValueError(f"candle of {symbol} without a time")
    return Candle(
        symbol=symbol,
        timeframe=timeframe,
        opened_at=opened,
        open=number(row[1]) or ZERO,
        high=number(row[2]) or ZERO,
        low=number(row[3]) or ZERO,
        close=number(row[4]) or ZERO,
        volume=number(row[5]) or ZERO,
    )
