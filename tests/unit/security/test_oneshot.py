import asyncio
from collections.abc import Sequence

import pytest

from tradedeck.security.oneshot import GroupClaimer, MemoryOneShotStore, OneShotStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryOneShotStore:
    return MemoryOneShotStore(clock=clock)


def test_memory_store_satisfies_protocol(store: MemoryOneShotStore) -> None:
    assert isinstance(store, OneShotStore)


async def test_first_claim_wins_second_loses(store: MemoryOneShotStore) -> None:
    assert await store.claim("nonce-1", 30)
    assert not await store.claim("nonce-1", 30)


async def test_keys_are_independent(store: MemoryOneShotStore) -> None:
    assert await store.claim("a", 30)
    assert await store.claim("b", 30)


async def test_claim_reopens_after_ttl(store: MemoryOneShotStore, clock: FakeClock) -> None:
    assert await store.claim("nonce-1", 30)
    clock.now += 29.999
    assert not await store.claim("nonce-1", 30)
    clock.now += 0.001
    assert await store.claim("nonce-1", 30)
    assert not await store.claim("nonce-1", 30)


async def test_losing_claim_does_not_extend_the_window(
    store: MemoryOneShotStore, clock: FakeClock
) -> None:
    assert await store.claim("k", 10)
    clock.now += 9
    assert not await store.claim("k", 100)
    clock.now += 1
    assert await store.claim("k", 10)


async def test_concurrent_claims_have_one_winner(store: MemoryOneShotStore) -> None:
    results = await asyncio.gather(*(store.claim("same", 30) for _ in range(50)))
    assert results.count(True) == 1


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf")])
async def test_non_positive_ttl_is_refused(store: MemoryOneShotStore, ttl: float) -> None:
    with pytest.raises(ValueError):
        await store.claim("k", ttl)


async def test_size_is_bounded_and_expired_entries_go_first(clock: FakeClock) -> None:
    store = MemoryOneShotStore(max_entries=100, clock=clock)
    for i in range(50):
        assert await store.claim(f"short-{i}", 1)
    for i in range(50):
        assert await store.claim(f"long-{i}", 60)
    clock.now += 2
    assert await store.claim("new", 60)
    # Only the expired short claims made room; every live claim is still held.
    assert len(store) == 51
    for i in range(50):
        assert not await store.claim(f"long-{i}", 60)


async def test_full_store_evicts_oldest_live_claims(clock: FakeClock) -> None:
    store = MemoryOneShotStore(max_entries=100, clock=clock)
    for i in range(100):
        assert await store.claim(f"k{i}", 60)
    assert await store.claim("overflow", 60)
    assert len(store) <= 100
    assert not await store.claim("k99", 60)
    assert not await store.claim("overflow", 60)
    assert await store.claim("k0", 60)  # the oldest claim was evicted


async def test_many_claims_stay_within_bound(clock: FakeClock) -> None:
    store = MemoryOneShotStore(max_entries=1000, clock=clock)
    for i in range(10_000):
        await store.claim(f"k{i}", 60)
    assert len(store) <= 1000


async def test_close_forgets_claims(store: MemoryOneShotStore) -> None:
    assert await store.claim("k", 30)
    await store.close()
    assert len(store) == 0


class FlakyStore(MemoryOneShotStore):
    """Fails the next round trip when told to, and counts round trips."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False
        self.round_trips: list[int] = []

    async def claim_many(self, keys: Sequence[str], ttl_seconds: float) -> set[str]:
        self.round_trips.append(len(keys))
        await asyncio.sleep(0)  # a real store awaits I/O here
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("store down")
        return await super().claim_many(keys, ttl_seconds)


async def test_group_claimer_shares_round_trips_and_keeps_one_winner() -> None:
    store = FlakyStore()
    claimer = GroupClaimer(store, 30)
    results = await asyncio.gather(*(claimer.claim(f"k{i % 10}") for i in range(100)))
    assert sum(results) == 10
    assert len(store.round_trips) < 10  # a hundred claims, a handful of writes
    assert not await claimer.claim("k3")
    await claimer.close()


async def test_group_claimer_fails_closed_then_recovers() -> None:
    store = FlakyStore()
    claimer = GroupClaimer(store, 30)
    store.fail_next = True
    with pytest.raises(ConnectionError):
        await claimer.claim("update-1")
    assert await claimer.claim("update-1")  # nothing was claimed by the failed batch
    await claimer.close()
    with pytest.raises(ValueError):
        GroupClaimer(store, 0)
