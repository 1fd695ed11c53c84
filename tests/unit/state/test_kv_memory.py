import asyncio

import pytest

from tradedeck.storage.kv import KeyValueStore, MemoryKeyValueStore

from .conftest import FakeClock


@pytest.fixture
def store(clock: FakeClock) -> MemoryKeyValueStore:
    return MemoryKeyValueStore(clock=clock)


def test_satisfies_protocol(store: MemoryKeyValueStore) -> None:
    assert isinstance(store, KeyValueStore)


async def test_set_get_overwrite_delete(store: MemoryKeyValueStore) -> None:
    assert await store.get("k") is None
    await store.set("k", "v1")
    assert await store.get("k") == "v1"
    await store.set("k", "v2")
    assert await store.get("k") == "v2"
    await store.delete("k")
    assert await store.get("k") is None
    await store.delete("k")  # deleting an absent key is fine


async def test_entry_expires_at_its_ttl(store: MemoryKeyValueStore, clock: FakeClock) -> None:
    await store.set("k", "v", ttl_seconds=30)
    clock.now += 29.999
    assert await store.get("k") == "v"
    clock.now += 0.001
    assert await store.get("k") is None
    assert await store.pop("k") is None


async def test_entry_without_ttl_never_expires(
    store: MemoryKeyValueStore, clock: FakeClock
) -> None:
    await store.set("k", "v")
    clock.now += 10**9
    assert await store.get("k") == "v"


async def test_overwrite_replaces_the_ttl(store: MemoryKeyValueStore, clock: FakeClock) -> None:
    await store.set("k", "v", ttl_seconds=5)
    await store.set("k", "v")
    clock.now += 10
    assert await store.get("k") == "v"


async def test_pop_is_single_use(store: MemoryKeyValueStore) -> None:
    await store.set("k", "v", ttl_seconds=30)
    assert await store.pop("k") == "v"
    assert await store.pop("k") is None
    assert await store.get("k") is None


async def test_concurrent_pops_have_one_winner(store: MemoryKeyValueStore) -> None:
    await store.set("k", "v", ttl_seconds=30)
    results = await asyncio.gather(*(store.pop("k") for _ in range(20)))
    assert results.count("v") == 1
    assert results.count(None) == 19


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf")])
async def test_bad_ttl_is_refused(store: MemoryKeyValueStore, ttl: float) -> None:
    with pytest.raises(ValueError):
        await store.set("k", "v", ttl_seconds=ttl)


async def test_expired_entries_are_swept(clock: FakeClock) -> None:
    store = MemoryKeyValueStore(clock=clock)
    for i in range(5000):
        await store.set(f"k{i}", "v", ttl_seconds=1)
        clock.now += 0.01
    # Entries live for one second, i.e. 100 at a time; sweeps keep the dead ones bounded.
    assert len(store) <= 2 * MemoryKeyValueStore._MIN_SWEEP


async def test_close_forgets_everything(store: MemoryKeyValueStore) -> None:
    await store.set("k", "v")
    await store.close()
    assert await store.get("k") is None
