"""The algo (conditional) orders of the futures emulator: STOP, STOP_MARKET, TAKE_PROFIT(_MARKET).

Why a book of their own. Since Binance's 2025 migration these orders live behind
``/fapi/v1/algoOrder`` with their own ids (``algoId``/``clientAlgoId``), statuses and
queries, and ccxt sends every linear order that carries a trigger price there. Until it
triggers, an algo order reserves nothing: margin and reduce-only are checked when the
engine places its plain order. Status: NEW, then TRIGGERED (its order rests) or FINISHED
(its order ended), CANCELED, or EXPIRED when the triggered order was refused. Each of
these, and the placement, is announced to ``observer`` (``events.AlgoChanged``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal

from tradedeck.exchanges.emulator.errors import (
    BinanceError,
    bad_parameter,
    duplicate_client_order_id,
    invalid_order_type,
    not_required,
    unknown_order,
    would_trigger_immediately,
)
from tradedeck.exchanges.emulator.events import AlgoChanged, FuturesObserver, unobserved
from tradedeck.exchanges.emulator.futures_models import ALGO_TYPES, ZERO, AlgoOrder, FuturesMarket
from tradedeck.exchanges.emulator.futures_rules import (
    check_limit,
    check_notional,
    check_price,
    check_quantity,
    check_side,
    triggers,
)


class AlgoBook:
    """All algo orders of the account, by ``algoId``."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self.orders: dict[int, AlgoOrder] = {}
        self._clock = clock
        self._ids = itertools.count(1)
        self.observer: FuturesObserver = unobserved

    def place(
        self,
        market: FuturesMarket,
        *,
        side: str,
        order_type: str,
        quantity: Decimal | None,
        price: Decimal | None,
        trigger_price: Decimal | None,
        client_algo_id: str | None,
        time_in_force: str | None = None,
        reduce_only: bool = False,
        close_position: bool = False,
    ) -> AlgoOrder:
        check_side(side)
        if order_type not in ALGO_TYPES:
            raise invalid_order_type()
        if trigger_price is None:
            raise bad_parameter("triggerPrice")
        check_price(market, trigger_price)
        limit = order_type in ("STOP", "TAKE_PROFIT")
        if limit:
            price = check_limit(market, price, time_in_force or "GTC")
        if close_position:
            if limit:
                raise BinanceError(
                    400,
                    -4136,
                    f"Target strategy invalid for orderType {order_type},closePosition true",
                )
            if quantity is not None:
                raise not_required("quantity")
            if reduce_only:
                raise not_required("reduceOnly")
        elif quantity is None:
            raise bad_parameter("quantity")
        else:
            check_quantity(market, quantity, market_order=not limit)
            if not reduce_only:
                check_notional(market, quantity, price if price is not None else trigger_price)
        if triggers(order_type, side, trigger_price, market.price):
            raise would_trigger_immediately()
        if client_algo_id is not None and any(
            a.client_algo_id == client_algo_id for a in self.open(None)
        ):
            raise duplicate_client_order_id()
        now = self._clock()
        algo = AlgoOrder(
            algo_id=next(self._ids),
            client_algo_id=client_algo_id or f"emuAlgo{now}x{len(self.orders) + 1}",
            symbol=market.symbol,
            side=side,
            order_type=order_type,
            quantity=quantity if quantity is not None else ZERO,
            price=price if limit and price is not None else ZERO,
            trigger_price=trigger_price,
            time_in_force=time_in_force or "GTC",
            reduce_only=reduce_only,
            close_position=close_position,
            create_time=now,
            update_time=now,
        )
        self.orders[algo.algo_id] = algo
        self.observer(AlgoChanged(algo))
        return algo

    def find(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder | None:
        for algo in self.orders.values():
            if (
                algo.algo_id == algo_id
                if algo_id is not None
                else algo.client_algo_id == client_algo_id
            ):
                return algo
        return None

    def open(self, symbol: str | None) -> list[AlgoOrder]:
        return [a for a in self.orders.values() if a.open and symbol in (None, a.symbol)]

    def due(self, symbol: str, price: Decimal) -> list[AlgoOrder]:
        """The open algo orders of ``symbol`` that the last ``price`` triggers."""
        return [
            a for a in self.open(symbol) if triggers(a.order_type, a.side, a.trigger_price, price)
        ]

    def cancel(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        algo = self.find(algo_id, client_algo_id)
        if algo is None or not algo.open:
            raise unknown_order()
        self.end(algo, "CANCELED")
        return algo

    def cancel_all(self, symbol: str) -> list[AlgoOrder]:
        algos = self.open(symbol)
        for algo in algos:
            self.end(algo, "CANCELED")
        return algos

    def end(self, algo: AlgoOrder, status: str) -> None:
        algo.status = status
        algo.update_time = self._clock()
        self.observer(AlgoChanged(algo))
