"""The risk engine's rules, one at a time, without I/O."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from tradedeck.domain.errors import RiskRefused
from tradedeck.domain.orders import Side
from tradedeck.domain.roles import Actor, Role
from tradedeck.trading.risk import OrderCheck, RiskEngine
from tradedeck.trading.risk_limits import RiskLimits

LIMITS = RiskLimits(
    max_order_notional_trader=Decimal("0.5"),
    max_order_notional_admin=Decimal(2),
    max_exposure_pct=Decimal(50),
    max_positions=2,
    cooldown_seconds=10,
    daily_drawdown_pct=Decimal(10),
    max_consecutive_rejections=3,
)
TRADER = Actor("t", Role.TRADER, "api", 1)
ADMIN = Actor("a", Role.ADMIN, "api", 2)


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def engine(
    kill: bool = False, trips: list[str] | None = None, clock: Clock | None = None
) -> RiskEngine:
    async def trip(reason: str) -> None:
        (trips if trips is not None else []).append(reason)

    repo: Any = None  # check() never touches the database
    return RiskEngine(
        repo,
        LIMITS,
        kill_switch_active=lambda: kill,
        kill_switch_reason=lambda: "test halt",
        trip_kill_switch=trip,
        currency="BTC",
        monotonic=clock or Clock(),
    )


def order(**changes: Any) -> OrderCheck:
    values: dict[str, Any] = {
        "symbol": "ETH/BTC",
        "side": Side.BUY,
        "base": "ETH",
        "notional": Decimal("0.1"),
        "equity": Decimal(1),
        "base_exposure": Decimal("0.1"),
        "opens_position": True,
        "open_positions": 0,
    }
    values.update(changes)
    return OrderCheck(**values)


def _fields(check: OrderCheck) -> dict[str, Any]:
    return {f.name: getattr(check, f.name) for f in dataclasses.fields(check)}


def refusal(risk: RiskEngine, actor: Actor, check: OrderCheck) -> str:
    with pytest.raises(RiskRefused) as info:
        risk.check(actor, check)
    assert info.value.detail  # a sentence for the trader, always
    return info.value.code


def test_kill_switch_comes_first() -> None:
    assert refusal(engine(kill=True), TRADER, order()) == "kill_switch_active"


def test_notional_limit_depends_on_role() -> None:
    risk = engine()
    assert refusal(risk, TRADER, order(notional=Decimal("0.6"))) == "max_notional"
    risk.check(ADMIN, order(notional=Decimal("0.6"), base_exposure=Decimal("0.4")))


def test_exposure_limits_buys_and_the_position_limit_orders_that_open_one() -> None:
    risk = engine()
    assert refusal(risk, TRADER, order(base_exposure=Decimal("0.6"))) == "max_exposure"
    assert refusal(risk, TRADER, order(open_positions=2)) == "max_positions"
    risk.check(TRADER, order(open_positions=2, opens_position=False))  # adding to a position
    spot_sell = order(side=Side.SELL, base_exposure=Decimal(1), open_positions=9)
    risk.check(TRADER, order(**{**_fields(spot_sell), "opens_position": False}))
    new_short = order(side=Side.SELL, open_positions=2)  # a perpetual short opens one
    assert refusal(risk, TRADER, new_short) == "max_positions"


def test_cooldown_is_per_user() -> None:
    clock = Clock()
    risk = engine(clock=clock)
    risk.record_trade(TRADER)
    assert refusal(risk, TRADER, order()) == "cooldown"
    risk.check(ADMIN, order())
    clock.now += 10.5
    risk.check(TRADER, order())


async def test_rejection_streak_trips_once_per_streak() -> None:
    trips: list[str] = []
    risk = engine(trips=trips)
    await risk.record_rejection("insufficient funds")
    await risk.record_rejection("insufficient funds")
    risk.record_trade(TRADER)  # a success breaks the streak
    for _ in range(3):
        await risk.record_rejection("insufficient funds")
    assert trips == ["3 consecutive orders rejected (last: insufficient funds)"]
