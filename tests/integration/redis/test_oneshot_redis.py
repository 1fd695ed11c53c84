import asyncio

import pytest
import redis.asyncio as aioredis

from tradedeck.security.oneshot import GroupClaimer, OneShotStore, RedisOneShotStore

pytestmark = pytest.mark.redis


@pytest.fixture
def store(client: aioredis.Redis, prefix: str) -> RedisOneShotStore:
    return RedisOneShotStore(client, prefix=prefix)


def test_redis_store_satisfies_protocol(store: RedisOneShotStore) -> None:
    assert isinstance(store, OneShotStore)


async def test_first_claim_wins_second_loses(store: RedisOneShotStore) -> None:
    assert await store.claim("nonce-1", 30)
    assert not await store.claim("nonce-1", 30)
    assert await store.claim("nonce-2", 30)


async def test_key_is_prefixed_and_expires(
    store: RedisOneShotStore, client: aioredis.Redis, prefix: str
) -> None:
    assert await store.claim("nonce-1", 30)
    ttl_ms = await client.pttl(prefix + "nonce-1")
    assert 29_000 < ttl_ms <= 30_000


async def test_claim_reopens_after_ttl(store: RedisOneShotStore) -> None:
    assert await store.claim("short", 0.05)
    assert not await store.claim("short", 0.05)
    await asyncio.sleep(0.15)
    assert await store.claim("short", 0.05)


async def test_sub_millisecond_ttl_rounds_up(store: RedisOneShotStore) -> None:
    # Truncated to PX 0, Redis would answer with an error instead of a claim.
    assert await store.claim("tiny", 0.0001)


async def test_concurrent_claims_have_one_winner(redis_url: str, prefix: str) -> None:
    # Separate clients, as separate workers would have.
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(5)]
    try:
        stores = [RedisOneShotStore(c, prefix=prefix) for c in clients]
        results = await asyncio.gather(
            *(stores[i % len(stores)].claim("race", 30) for i in range(50))
        )
        assert results.count(True) == 1
    finally:
        for c in clients:
            await c.aclose()


async def test_close_leaves_a_borrowed_client_open(
    store: RedisOneShotStore, client: aioredis.Redis
) -> None:
    await store.close()
    assert await client.ping()


async def test_from_url_owns_and_closes_its_client(redis_url: str, prefix: str) -> None:
    store = RedisOneShotStore.from_url(redis_url, prefix=prefix)
    try:
        assert await store.claim("owned", 30)
        assert not await store.claim("owned", 30)
    finally:
        await store.close()
    cleanup = aioredis.Redis.from_url(redis_url)
    try:
        await cleanup.delete(prefix + "owned")
    finally:
        await cleanup.aclose()


async def test_claim_many_is_one_pipeline_with_per_key_winners(
    store: RedisOneShotStore, client: aioredis.Redis, prefix: str
) -> None:
    assert await store.claim("taken", 30)
    assert await store.claim_many(["a", "taken", "b"], 30) == {"a", "b"}
    assert 29_000 < await client.pttl(prefix + "a") <= 30_000
    assert await store.claim_many(["a", "c"], 30) == {"c"}


async def test_group_claimer_on_redis_has_one_winner_per_key(store: RedisOneShotStore) -> None:
    claimer = GroupClaimer(store, 30)
    keys = [f"upd-{i % 25}" for i in range(100)]
    results = await asyncio.gather(*(claimer.claim(k) for k in keys))
    assert sum(results) == 25
    assert {k for k, won in zip(keys, results, strict=True) if won} == set(keys)
