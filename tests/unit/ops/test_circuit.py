"""The circuit breaker against an exchange stub that fails, then recovers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tradedeck.domain.errors import InvalidInput, Unavailable
from tradedeck.ops.circuit import CircuitBreaker, CircuitState, GuardedCalls


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyExchange:
    """Answers while ``up``; raises a network error otherwise. Counts every call."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0
        self.orders: list[str] = []

    async def ticker(self) -> Decimal:
        self.calls += 1
        if not self.up:
            raise ConnectionError("connection reset by peer")
        return Decimal("0.0712")

    async def place(self, order_id: str) -> str:
        self.calls += 1
        if not self.up:
            raise TimeoutError("read timed out")
        self.orders.append(order_id)
        return order_id


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def clock() -> Clock:
    return Clock()


def guarded(clock: Clock) -> GuardedCalls:
    breaker = CircuitBreaker("paper exchange", failure_threshold=5, reset_timeout=60, clock=clock)
    return GuardedCalls(breaker, attempts=3, clock=clock, sleep=no_sleep)


async def test_trips_after_five_failures_then_refuses_writes_and_serves_cached_reads(
    clock: Clock,
) -> None:
    exchange, calls = FlakyExchange(), guarded(clock)
    fresh = await calls.read("ticker:ETH/BTC", exchange.ticker)
    assert fresh.value == Decimal("0.0712") and not fresh.stale

    exchange.up = False
    clock.now += 30
    stale = await calls.read("ticker:ETH/BTC", exchange.ticker)  # 3 attempts, all failing
    assert stale.value == Decimal("0.0712") and stale.age == pytest.approx(30)
    assert calls.breaker.state is CircuitState.CLOSED and calls.breaker.failures == 3
    with pytest.raises(Unavailable):  # two more failures: the fifth opens the breaker
        await calls.write(lambda: exchange.place("o1"))
    with pytest.raises(Unavailable):
        await calls.write(lambda: exchange.place("o2"))
    assert calls.breaker.state is CircuitState.OPEN

    before = exchange.calls
    with pytest.raises(Unavailable, match="paper exchange temporarily unavailable") as refused:
        await calls.write(lambda: exchange.place("o3"))
    assert refused.value.code == "temporarily_unavailable"
    again = await calls.read("ticker:ETH/BTC", exchange.ticker)
    assert again.stale and again.value == Decimal("0.0712")
    assert exchange.calls == before  # an open breaker does not touch the exchange
    assert exchange.orders == []
    with pytest.raises(Unavailable):  # nothing cached for this read
        await calls.read("balance", exchange.ticker)


async def test_half_open_trial_closes_on_recovery_or_reopens(clock: Clock) -> None:
    exchange, calls = FlakyExchange(), guarded(clock)
    exchange.up = False
    for _ in range(5):
        with pytest.raises(Unavailable):
            await calls.write(lambda: exchange.place("x"))
    assert calls.breaker.state is CircuitState.OPEN
    clock.now += 60
    assert calls.breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(Unavailable):  # the trial fails: open for another minute
        await calls.write(lambda: exchange.place("trial"))
    assert calls.breaker.state is CircuitState.OPEN
    clock.now += 60
    exchange.up = True
    assert await calls.write(lambda: exchange.place("o1")) == "o1"
    assert calls.breaker.state is CircuitState.CLOSED and calls.breaker.failures == 0
    assert exchange.orders == ["o1"]


async def test_only_one_trial_at_a_time(clock: Clock) -> None:
    breaker = CircuitBreaker("api", failure_threshold=1, reset_timeout=10, clock=clock)
    with pytest.raises(ConnectionError):
        await breaker.call(_fail)
    clock.now += 10
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "ok"

    trial = asyncio.create_task(breaker.call(slow))
    await asyncio.sleep(0)
    with pytest.raises(Unavailable):
        await breaker.call(slow)
    gate.set()
    assert await trial == "ok"
    assert breaker.state is CircuitState.CLOSED


async def test_refusals_of_the_request_are_not_failures_and_are_not_retried(clock: Clock) -> None:
    calls = guarded(clock)
    attempts = 0

    async def rejected() -> None:
        nonlocal attempts
        attempts += 1
        raise InvalidInput("below_min_notional", "order value below the minimum")

    for _ in range(10):
        with pytest.raises(InvalidInput):
            await calls.read("x", rejected)
    assert attempts == 10  # once each: never retried
    assert calls.breaker.state is CircuitState.CLOSED and calls.breaker.failures == 0


async def test_writes_are_never_retried(clock: Clock) -> None:
    exchange, calls = FlakyExchange(), guarded(clock)
    exchange.up = False
    with pytest.raises(Unavailable):
        await calls.write(lambda: exchange.place("o1"))
    assert exchange.calls == 1


async def _fail() -> None:
    raise ConnectionError("down")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
