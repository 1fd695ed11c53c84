"""Market-data answers spot and USDⓈ-M futures share: 24h tickers, klines, symbol lists.

The two APIs format these the same way (eight-place strings, the 12-column kline row), so
both route tables build them here from plain values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from tradedeck.exchanges.emulator.errors import bad_parameter, fmt8
from tradedeck.exchanges.emulator.routing import integer, required
from tradedeck.exchanges.emulator.spot_models import ZERO, Kline

DAY_MS = 86_400_000

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Print:
    """One execution as a ticker counts it."""

    id: int
    time: int
    price: Decimal
    qty: Decimal


def ticker_24h(
    symbol: str, last: Decimal, opened: Decimal, prints: Sequence[Print], now: int
) -> dict[str, Any]:
    """``ticker/24hr`` over the last day's executions; the open is the price at start-up."""
    recent = [p for p in prints if p.time >= now - DAY_MS]
    prices = [p.price for p in recent] + [last, opened]
    volume = sum((p.qty for p in recent), ZERO)
    quote_volume = sum((p.qty * p.price for p in recent), ZERO)
    change = last - opened
    return {
        "symbol": symbol,
        "priceChange": fmt8(change),
        "priceChangePercent": f"{change / opened * 100:.3f}",
        "weightedAvgPrice": fmt8(quote_volume / volume if volume else last),
        "lastPrice": fmt8(last),
        "lastQty": fmt8(recent[-1].qty if recent else ZERO),
        "openPrice": fmt8(opened),
        "highPrice": fmt8(max(prices)),
        "lowPrice": fmt8(min(prices)),
        "volume": fmt8(volume),
        "quoteVolume": fmt8(quote_volume),
        "openTime": now - DAY_MS,
        "closeTime": now,
        "firstId": recent[0].id if recent else -1,
        "lastId": recent[-1].id if recent else -1,
        "count": len(recent),
    }


def selected_symbols(
    params: dict[str, str], lookup: Callable[[str], M], every: Sequence[M]
) -> tuple[list[M], bool]:
    """The markets a ``symbol``/``symbols`` parameter names, and whether it was one symbol."""
    if "symbol" in params:
        return [lookup(params["symbol"])], True
    if "symbols" in params:
        try:
            names = json.loads(params["symbols"])
        except ValueError as error:
            raise bad_parameter("symbols") from error
        return [lookup(str(n)) for n in names], False
    return list(every), False


_INTERVAL_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


def kline_rows(
    params: dict[str, str],
    klines: dict[tuple[str, str], list[Kline]],
    max_limit: int,
    *,
    price: Decimal,
    now_ms: int,
) -> list[list[Any]]:
    """``klines`` for ``symbol``/``interval`` within ``startTime``/``endTime``/``limit``.

    A market whose candles no test set answers flat candles at its current price up to
    the one forming now: a platform run against the emulator (a demo) has a market price
    from its first poll, and it moves when ``/_control/price`` moves it.
    """
    symbol = required(params, "symbol")
    interval = required(params, "interval")
    start, end = integer(params, "startTime"), integer(params, "endTime")
    limit = min(integer(params, "limit") or 500, max_limit)
    rows = klines.get((symbol, interval))
    if rows is None:
        rows = _flat(interval, limit, price, now_ms)
    selected = [
        k
        for k in rows
        if (start is None or k.open_time >= start) and (end is None or k.open_time <= end)
    ]
    selected = selected[:limit] if start is not None else selected[-limit:]
    return [
        [
            k.open_time,
            fmt8(k.open),
            fmt8(k.high),
            fmt8(k.low),
            fmt8(k.close),
            fmt8(k.volume),
            k.close_time,
            fmt8(k.volume * k.close),
            0,
            "0.00000000",
            "0.00000000",
            "0",
        ]
        for k in selected
    ]


def _flat(interval: str, count: int, price: Decimal, now_ms: int) -> list[Kline]:
    step = _INTERVAL_MS.get(interval)
    if step is None:
        raise bad_parameter("interval")
    current = now_ms // step * step
    return [
        Kline(t, price, price, price, price, Decimal(0), t + step - 1)
        for t in range(current - (count - 1) * step, current + step, step)
    ]
