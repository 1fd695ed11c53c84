import asyncio

import pytest

from tradedeck.security.ratelimit import (
    MemoryRateLimiter,
    RateDecision,
    RateLimiter,
    RedisRateLimiter,
    make_rate_limiter,
)

from .conftest import FakeClock


@pytest.fixture
def limiter(clock: FakeClock) -> MemoryRateLimiter:
    return MemoryRateLimiter(clock=clock)


def test_satisfies_protocol(limiter: MemoryRateLimiter) -> None:
    assert isinstance(limiter, RateLimiter)


async def test_limit_within_window_then_retry_after(
    limiter: MemoryRateLimiter, clock: FakeClock
) -> None:
    for _ in range(5):
        assert (await limiter.hit("trade:1", 5, 60)).allowed
        clock.now += 1
    decision = await limiter.hit("trade:1", 5, 60)
    # The first hit was at t=0 and it is now t=5: it leaves the window in 55 s.
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(55.0)


async def test_window_slides_one_hit_at_a_time(
    limiter: MemoryRateLimiter, clock: FakeClock
) -> None:
    for _ in range(3):
        assert (await limiter.hit("k", 3, 10)).allowed
        clock.now += 2
    # Hits at 0, 2, 4; now 6.
    assert not (await limiter.hit("k", 3, 10)).allowed
    clock.now = 1000.0 + 10  # the hit at t=0 just left the window
    assert (await limiter.hit("k", 3, 10)).allowed
    decision = await limiter.hit("k", 3, 10)
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(2.0)  # the hit at t=2 leaves at t=12


async def test_refused_hits_do_not_push_retry_further(
    limiter: MemoryRateLimiter, clock: FakeClock
) -> None:
    assert (await limiter.hit("k", 1, 60)).allowed
    for _ in range(10):
        clock.now += 5
        await limiter.hit("k", 1, 60)
    assert (await limiter.hit("k", 1, 60)).retry_after == pytest.approx(10.0)
    clock.now += 10
    assert (await limiter.hit("k", 1, 60)).allowed


async def test_no_burst_across_a_window_edge(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    clock.now += 59
    for _ in range(5):
        assert (await limiter.hit("k", 5, 60)).allowed
    clock.now += 2  # a fixed window would have reset here
    assert not (await limiter.hit("k", 5, 60)).allowed


async def test_keys_are_independent(limiter: MemoryRateLimiter) -> None:
    assert (await limiter.hit("trade:1", 1, 60)).allowed
    assert not (await limiter.hit("trade:1", 1, 60)).allowed
    assert (await limiter.hit("trade:2", 1, 60)).allowed
    assert (await limiter.hit("cmd:1", 1, 60)).allowed


async def test_allowed_decision_has_no_wait(limiter: MemoryRateLimiter) -> None:
    assert await limiter.hit("k", 1, 60) == RateDecision(True, 0.0)


async def test_concurrent_hits_are_counted_exactly(limiter: MemoryRateLimiter) -> None:
    decisions = await asyncio.gather(*(limiter.hit("k", 30, 60) for _ in range(100)))
    assert sum(d.allowed for d in decisions) == 30


async def test_lowered_limit_applies_immediately(
    limiter: MemoryRateLimiter, clock: FakeClock
) -> None:
    for _ in range(10):
        assert (await limiter.hit("k", 10, 60)).allowed
        clock.now += 1
    decision = await limiter.hit("k", 5, 60)
    assert not decision.allowed
    # Five hits fall below the new limit once the hit at t=5 leaves, at t=65; now t=10.
    assert decision.retry_after == pytest.approx(55.0)


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (-1, 60), (1, 0), (1, float("nan"))])
async def test_bad_limits_are_refused(
    limiter: MemoryRateLimiter, limit: int, window: float
) -> None:
    with pytest.raises(ValueError):
        await limiter.hit("k", limit, window)


async def test_keys_are_bounded_and_idle_keys_go_first(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(max_keys=100, clock=clock)
    for i in range(50):
        await limiter.hit(f"idle-{i}", 1, 1)
    for i in range(50):
        await limiter.hit(f"busy-{i}", 1, 60)
    clock.now += 2
    assert (await limiter.hit("new", 1, 60)).allowed
    assert len(limiter) == 51
    for i in range(50):
        assert not (await limiter.hit(f"busy-{i}", 1, 60)).allowed


async def test_many_keys_stay_within_bound(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(max_keys=1000, clock=clock)
    for i in range(10_000):
        await limiter.hit(f"k{i}", 5, 60)
    assert len(limiter) <= 1000


async def test_factory_picks_memory_without_url() -> None:
    limiter = make_rate_limiter(None)
    assert isinstance(limiter, MemoryRateLimiter)
    await limiter.close()


async def test_factory_picks_redis_with_url() -> None:
    limiter = make_rate_limiter("redis://127.0.0.1:1/0")  # the client connects lazily
    assert isinstance(limiter, RedisRateLimiter)
    await limiter.close()
