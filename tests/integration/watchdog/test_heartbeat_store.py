"""Heartbeats, the lease and the kill switch flag on every backend the watchdog may use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.heartbeats import (
    MAIN,
    DatabaseHeartbeats,
    HeartbeatStore,
    RedisHeartbeats,
    WatchdogQueries,
)
from tradedeck.storage.repository import Repository


@pytest.fixture
async def repository(database_url: str) -> AsyncIterator[Repository]:
    engine = make_engine(database_url)
    await upgrade(engine)
    try:
        yield Repository(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
async def store(
    request: pytest.FixtureRequest, repository: Repository, prefix: str
) -> AsyncIterator[HeartbeatStore]:
    if request.param == "database":
        yield DatabaseHeartbeats(repository.engine)
        return
    url: str = request.getfixturevalue("redis_url")  # skips (or fails in CI) without Redis
    redis_store = RedisHeartbeats.from_url(url, prefix=prefix)
    client: Any = redis_store._redis
    try:
        yield redis_store
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await redis_store.close()


async def test_a_beat_is_read_back_with_its_detail_and_replaced_by_the_next(
    store: HeartbeatStore,
) -> None:
    assert await store.read(MAIN) is None
    await store.beat(MAIN, "host-1", {"pid": 42})
    first = await store.read(MAIN)
    assert first is not None and first.owner == "host-1" and first.detail == {"pid": 42}
    assert first.age() < 60
    await store.beat(MAIN, "host-2")
    second = await store.read(MAIN)
    assert second is not None and second.owner == "host-2" and second.at >= first.at


async def test_watchdogs_lists_every_watchdog_newest_first(store: HeartbeatStore) -> None:
    await store.beat("watchdog:a", "a", {"interval": 1.0})
    await asyncio.sleep(0.01)
    await store.beat("watchdog:b", "b")
    await store.beat(MAIN, "main")
    assert [b.owner for b in await store.watchdogs()] == ["b", "a"]


async def test_one_lease_holder_at_a_time_until_the_lease_lapses(store: HeartbeatStore) -> None:
    assert await store.claim("lease", "a", 0.3)
    assert not await store.claim("lease", "b", 0.3)
    assert await store.claim("lease", "a", 0.3)  # renewing one's own lease
    await asyncio.sleep(0.45)
    assert await store.claim("lease", "b", 30)
    assert not await store.claim("lease", "a", 30)


async def test_racing_claims_have_exactly_one_winner(store: HeartbeatStore) -> None:
    results = await asyncio.gather(*(store.claim("race", f"w{i}", 30) for i in range(5)))
    assert sorted(results) == [False] * 4 + [True]


async def test_kill_switch_activation_reports_only_the_first_caller(
    repository: Repository,
) -> None:
    queries = WatchdogQueries(repository.engine)
    assert (await repository.get_kill_switch()).active is False
    assert await queries.activate_kill_switch("watchdog: heartbeat 17 s old", "watchdog")
    assert not await queries.activate_kill_switch("watchdog: other reason", "watchdog")
    state = await repository.get_kill_switch()
    assert state.active and state.reason == "watchdog: heartbeat 17 s old"
    assert state.actor == "watchdog" and state.changed_at is not None
