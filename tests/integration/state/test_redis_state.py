"""Redis-backed state: key-value store, rate limiter and aiogram's FSM storage."""

import asyncio
import random

import pytest
import redis.asyncio as aioredis
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from tradedeck.security.confirmations import ConfirmationError, ConfirmationService, PendingAction
from tradedeck.security.ratelimit import RateLimiter, RedisRateLimiter
from tradedeck.storage.fsm import make_fsm_storage
from tradedeck.storage.kv import KeyValueStore, RedisKeyValueStore

pytestmark = pytest.mark.redis


@pytest.fixture
def kv(client: aioredis.Redis, prefix: str) -> RedisKeyValueStore:
    return RedisKeyValueStore(client, prefix=prefix)


@pytest.fixture
def limiter(client: aioredis.Redis, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(client, prefix=prefix)


# -- RedisKeyValueStore --------------------------------------------------------------------


def test_kv_satisfies_protocol(kv: RedisKeyValueStore) -> None:
    assert isinstance(kv, KeyValueStore)


async def test_kv_set_get_pop_delete(kv: RedisKeyValueStore) -> None:
    assert await kv.get("k") is None
    await kv.set("k", "v ✓")
    assert await kv.get("k") == "v ✓"
    assert await kv.pop("k") == "v ✓"
    assert await kv.pop("k") is None
    await kv.set("k", "again")
    await kv.delete("k")
    assert await kv.get("k") is None


async def test_kv_ttl_is_set_in_redis_and_cleared_by_overwrite(
    kv: RedisKeyValueStore, client: aioredis.Redis, prefix: str
) -> None:
    await kv.set("k", "v", ttl_seconds=30)
    assert 29_000 < await client.pttl(prefix + "k") <= 30_000
    await kv.set("k", "v")
    assert await client.pttl(prefix + "k") == -1


async def test_kv_entry_expires(kv: RedisKeyValueStore) -> None:
    await kv.set("k", "v", ttl_seconds=0.05)
    await asyncio.sleep(0.15)
    assert await kv.get("k") is None
    assert await kv.pop("k") is None


async def test_kv_concurrent_pops_across_clients_have_one_winner(
    redis_url: str, prefix: str, kv: RedisKeyValueStore
) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    try:
        stores = [RedisKeyValueStore(c, prefix=prefix) for c in clients]
        await kv.set("k", "v", ttl_seconds=30)
        results = await asyncio.gather(*(stores[i % 4].pop("k") for i in range(20)))
        assert results.count("v") == 1
    finally:
        for c in clients:
            await c.aclose()


async def test_kv_works_with_decoded_responses(redis_url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisKeyValueStore(client, prefix=prefix)
        await store.set("k", "v", ttl_seconds=30)
        assert await store.get("k") == "v"
        assert await store.pop("k") == "v"
    finally:
        await client.aclose()


async def test_kv_closes_only_its_own_client(redis_url: str, prefix: str) -> None:
    borrowed = aioredis.Redis.from_url(redis_url)
    try:
        await RedisKeyValueStore(borrowed, prefix=prefix).close()
        assert await borrowed.ping()
    finally:
        await borrowed.aclose()
    owned = RedisKeyValueStore.from_url(redis_url, prefix=prefix)
    await owned.set("k", "v", ttl_seconds=5)
    assert await owned.pop("k") == "v"
    await owned.close()


async def test_confirmation_on_redis_is_single_use(kv: RedisKeyValueStore) -> None:
    service = ConfirmationService(kv, b"r" * 32)
    action = PendingAction(kind="sell", user_id=5, params={"amount": "1"}, summary="Sell 1")
    token = await service.create(action)
    with pytest.raises(ConfirmationError) as foreign:
        await service.consume(6, token.id, token.signature)
    assert foreign.value.code == "foreign"
    results = await asyncio.gather(
        *(service.consume(5, token.id, token.signature) for _ in range(10)),
        return_exceptions=True,
    )
    assert results.count(action) == 1


# -- RedisRateLimiter ----------------------------------------------------------------------


def test_limiter_satisfies_protocol(limiter: RedisRateLimiter) -> None:
    assert isinstance(limiter, RateLimiter)


async def test_limiter_counts_within_window_and_reports_retry_after(
    limiter: RedisRateLimiter,
) -> None:
    for _ in range(5):
        assert (await limiter.hit("trade:1", 5, 60)).allowed
    decision = await limiter.hit("trade:1", 5, 60)
    assert not decision.allowed
    assert 59 < decision.retry_after <= 60
    assert (await limiter.hit("trade:2", 5, 60)).allowed


async def test_limiter_window_resets(limiter: RedisRateLimiter) -> None:
    assert (await limiter.hit("k", 1, 0.1)).allowed
    refused = await limiter.hit("k", 1, 0.1)
    assert not refused.allowed and 0 < refused.retry_after <= 0.1
    await asyncio.sleep(0.2)
    assert (await limiter.hit("k", 1, 0.1)).allowed


async def test_limiter_refused_hits_do_not_extend_the_window(
    limiter: RedisRateLimiter, client: aioredis.Redis, prefix: str
) -> None:
    assert (await limiter.hit("k", 1, 60)).allowed
    ttl_before = await client.pttl(prefix + "k")
    for _ in range(5):
        assert not (await limiter.hit("k", 1, 60)).allowed
    assert await client.pttl(prefix + "k") <= ttl_before


async def test_limiter_concurrent_hits_across_clients_are_exact(
    redis_url: str, prefix: str, client: aioredis.Redis
) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    try:
        limiters = [RedisRateLimiter(c, prefix=prefix) for c in clients]
        decisions = await asyncio.gather(*(limiters[i % 4].hit("k", 30, 60) for i in range(100)))
        assert sum(d.allowed for d in decisions) == 30
    finally:
        for c in clients:
            await c.aclose()


async def test_limiter_repairs_a_counter_without_expiry(
    limiter: RedisRateLimiter, client: aioredis.Redis, prefix: str
) -> None:
    await client.set(prefix + "k", 99)
    decision = await limiter.hit("k", 5, 60)
    assert not decision.allowed and decision.retry_after == 60
    assert 0 < await client.pttl(prefix + "k") <= 60_000


# -- aiogram RedisStorage via make_fsm_storage ---------------------------------------------


async def test_redis_fsm_survives_a_new_client(redis_url: str) -> None:
    # make_fsm_storage fixes the td:fsm prefix, so isolate by ids no real chat uses.
    user = random.randint(10**12, 10**13)
    key = StorageKey(bot_id=1, chat_id=-user, user_id=user, destiny="test")
    first = make_fsm_storage(None, redis_url)  # type: ignore[arg-type]
    assert isinstance(first, RedisStorage)
    names = [first.key_builder.build(key, part) for part in ("state", "data")]
    try:
        await first.set_state(key, "Trade:amount")
        await first.set_data(key, {"symbol": "ETH/BTC"})
        await first.close()

        second = make_fsm_storage(None, redis_url)  # type: ignore[arg-type]
        assert await second.get_state(key) == "Trade:amount"
        assert await second.get_data(key) == {"symbol": "ETH/BTC"}
        other = StorageKey(bot_id=1, chat_id=-user, user_id=user, destiny="other")
        assert await second.get_state(other) is None
        assert names[0].startswith("td:fsm:") and names[0].endswith(":test:state")
        await second.close()
    finally:
        cleanup = aioredis.Redis.from_url(redis_url)
        await cleanup.delete(*names)
        await cleanup.aclose()
