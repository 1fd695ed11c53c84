"""Database-backed state on SQLite and PostgreSQL: the same code, the same answers."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.security.confirmations import (
    ConfirmationError,
    ConfirmationService,
    PendingAction,
)
from tradedeck.security.oneshot import GroupClaimer
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.fsm import DatabaseFSMStorage
from tradedeck.storage.kv import DatabaseKeyValueStore, DatabaseOneShotStore
from tradedeck.storage.models import kv_store, once_keys

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class WallClock:
    """A hand-moved stand-in for time.time, so expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Trade(StatesGroup):
    amount = State()
    confirm = State()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


async def count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# -- DatabaseOneShotStore ------------------------------------------------------------------


async def test_oneshot_first_claim_wins_and_reopens_after_ttl(
    engine: AsyncEngine, clock: WallClock
) -> None:
    store = DatabaseOneShotStore(engine, clock=clock)
    assert await store.claim("nonce", 30)
    assert not await store.claim("nonce", 30)
    assert await store.claim("other", 30)
    clock.now += 29.9
    assert not await store.claim("nonce", 30)
    clock.now += 0.1
    assert await store.claim("nonce", 30)
    assert not await store.claim("nonce", 30)


async def test_oneshot_losing_claim_does_not_extend(engine: AsyncEngine, clock: WallClock) -> None:
    store = DatabaseOneShotStore(engine, clock=clock)
    assert await store.claim("k", 10)
    clock.now += 9
    assert not await store.claim("k", 1000)
    clock.now += 1
    assert await store.claim("k", 10)


async def test_oneshot_concurrent_claims_have_one_winner(engine: AsyncEngine) -> None:
    store = DatabaseOneShotStore(engine)
    results = await asyncio.gather(*(store.claim("race", 30) for _ in range(20)))
    assert results.count(True) == 1


async def test_oneshot_concurrent_takeover_of_expired_claim_has_one_winner(
    engine: AsyncEngine, clock: WallClock
) -> None:
    store = DatabaseOneShotStore(engine, clock=clock)
    assert await store.claim("race", 5)
    clock.now += 10
    results = await asyncio.gather(*(store.claim("race", 30) for _ in range(20)))
    assert results.count(True) == 1


async def test_oneshot_claims_are_shared_between_instances(engine: AsyncEngine) -> None:
    assert await DatabaseOneShotStore(engine).claim("shared", 30)
    assert not await DatabaseOneShotStore(engine).claim("shared", 30)


async def test_oneshot_prunes_expired_rows(engine: AsyncEngine, clock: WallClock) -> None:
    store = DatabaseOneShotStore(engine, clock=clock, prune_interval=60)
    for i in range(10):
        assert await store.claim(f"old-{i}", 1)
    clock.now += 61
    assert await store.claim("fresh", 600)
    assert await count(engine, once_keys) == 1


@pytest.mark.parametrize("ttl", [0, -1, float("nan")])
async def test_oneshot_bad_ttl_is_refused(engine: AsyncEngine, ttl: float) -> None:
    with pytest.raises(ValueError):
        await DatabaseOneShotStore(engine).claim("k", ttl)


async def test_oneshot_key_length_is_checked_on_every_backend(engine: AsyncEngine) -> None:
    store = DatabaseOneShotStore(engine)
    assert await store.claim("k" * 200, 30)
    with pytest.raises(ValueError):
        await store.claim("k" * 201, 30)


# -- DatabaseKeyValueStore -----------------------------------------------------------------


async def test_kv_set_get_overwrite_delete(engine: AsyncEngine) -> None:
    store = DatabaseKeyValueStore(engine)
    assert await store.get("k") is None
    await store.set("k", "v1")
    await store.set("k", "v2 ✓ unicode")
    assert await store.get("k") == "v2 ✓ unicode"
    await store.delete("k")
    assert await store.get("k") is None
    await store.delete("k")


async def test_kv_ttl(engine: AsyncEngine, clock: WallClock) -> None:
    store = DatabaseKeyValueStore(engine, clock=clock)
    await store.set("k", "v", ttl_seconds=30)
    await store.set("forever", "v")
    clock.now += 29.9
    assert await store.get("k") == "v"
    clock.now += 0.1
    assert await store.get("k") is None
    assert await store.pop("k") is None
    await store.set("k", "again", ttl_seconds=30)  # an expired row is simply overwritten
    assert await store.get("k") == "again"
    clock.now += 10**6
    assert await store.get("forever") == "v"


async def test_kv_pop_is_single_use(engine: AsyncEngine) -> None:
    store = DatabaseKeyValueStore(engine)
    await store.set("k", "v", ttl_seconds=30)
    assert await store.pop("k") == "v"
    assert await store.pop("k") is None


async def test_kv_concurrent_pops_have_one_winner(engine: AsyncEngine) -> None:
    stores = [DatabaseKeyValueStore(engine) for _ in range(2)]
    for round_ in range(3):
        await stores[0].set("k", f"v{round_}", ttl_seconds=30)
        results = await asyncio.gather(*(stores[i % 2].pop("k") for i in range(20)))
        assert results.count(f"v{round_}") == 1
        assert results.count(None) == 19


async def test_kv_prefix_isolates_users_of_the_table(engine: AsyncEngine) -> None:
    a = DatabaseKeyValueStore(engine, prefix="a:")
    b = DatabaseKeyValueStore(engine, prefix="b:")
    await a.set("k", "from a")
    assert await b.get("k") is None
    assert await b.pop("k") is None
    assert await a.get("k") == "from a"


async def test_kv_prunes_expired_rows_but_not_permanent_ones(
    engine: AsyncEngine, clock: WallClock
) -> None:
    store = DatabaseKeyValueStore(engine, clock=clock, prune_interval=60)
    for i in range(5):
        await store.set(f"short-{i}", "v", ttl_seconds=1)
    await store.set("forever", "v")
    clock.now += 61
    await store.set("fresh", "v", ttl_seconds=600)
    assert await count(engine, kv_store) == 2


async def test_kv_key_length_is_checked(engine: AsyncEngine) -> None:
    store = DatabaseKeyValueStore(engine, prefix="")
    await store.set("k" * 200, "v")
    with pytest.raises(ValueError):
        await store.set("k" * 201, "v")


# -- ConfirmationService on the database store ---------------------------------------------


async def test_confirmation_single_use_across_workers_and_restart(
    engine: AsyncEngine, database_url: str
) -> None:
    action = PendingAction(kind="kill", user_id=7, params={}, summary="Kill switch on")
    token = await ConfirmationService(DatabaseKeyValueStore(engine), b"k" * 32).create(action)
    await engine.dispose()

    fresh = make_engine(database_url)
    try:
        workers = [ConfirmationService(DatabaseKeyValueStore(fresh), b"k" * 32) for _ in range(4)]
        results = await asyncio.gather(
            *(w.consume(7, token.id, token.signature) for w in workers * 3),
            return_exceptions=True,
        )
    finally:
        await fresh.dispose()
    assert [r for r in results if isinstance(r, PendingAction)] == [action]
    losers = [r for r in results if not isinstance(r, PendingAction)]
    assert len(losers) == 11
    assert all(isinstance(r, ConfirmationError) and r.code == "expired" for r in losers)


# -- DatabaseFSMStorage --------------------------------------------------------------------

KEY = StorageKey(bot_id=42, chat_id=-100123, user_id=7, thread_id=5, destiny="default")


async def test_fsm_round_trip(engine: AsyncEngine) -> None:
    storage = DatabaseFSMStorage(engine)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}
    await storage.set_state(KEY, Trade.amount)
    await storage.set_data(KEY, {"symbol": "ETH/BTC", "amount": "0.5", "n": [1, 2]})
    assert await storage.get_state(KEY) == Trade.amount.state
    assert await storage.get_data(KEY) == {"symbol": "ETH/BTC", "amount": "0.5", "n": [1, 2]}
    assert await storage.update_data(KEY, {"amount": "0.7"}) == {
        "symbol": "ETH/BTC",
        "amount": "0.7",
        "n": [1, 2],
    }
    await storage.set_state(KEY, "raw:state")
    assert await storage.get_state(KEY) == "raw:state"
    assert await storage.get_value(KEY, "amount") == "0.7"


async def test_fsm_returned_data_is_a_copy(engine: AsyncEngine) -> None:
    storage = DatabaseFSMStorage(engine)
    data = {"a": 1}
    await storage.set_data(KEY, data)
    data["a"] = 2
    got = await storage.get_data(KEY)
    got["a"] = 3
    assert await storage.get_data(KEY) == {"a": 1}


async def test_fsm_survives_a_restart(engine: AsyncEngine, database_url: str) -> None:
    await DatabaseFSMStorage(engine).set_state(KEY, Trade.confirm)
    await DatabaseFSMStorage(engine).set_data(KEY, {"symbol": "LTC/BTC"})
    await engine.dispose()

    fresh = make_engine(database_url)
    try:
        storage = DatabaseFSMStorage(fresh)
        assert await storage.get_state(KEY) == Trade.confirm.state
        assert await storage.get_data(KEY) == {"symbol": "LTC/BTC"}
        await storage.close()
    finally:
        await fresh.dispose()


async def test_fsm_keys_are_isolated(engine: AsyncEngine) -> None:
    storage = DatabaseFSMStorage(engine)
    await storage.set_state(KEY, Trade.amount)
    others = [
        StorageKey(bot_id=43, chat_id=-100123, user_id=7, thread_id=5),
        StorageKey(bot_id=42, chat_id=-100124, user_id=7, thread_id=5),
        StorageKey(bot_id=42, chat_id=-100123, user_id=8, thread_id=5),
        StorageKey(bot_id=42, chat_id=-100123, user_id=7),
        StorageKey(bot_id=42, chat_id=-100123, user_id=7, thread_id=5, destiny="x"),
        StorageKey(bot_id=42, chat_id=-100123, user_id=7, thread_id=5, business_connection_id="b"),
    ]
    for other in others:
        assert await storage.get_state(other) is None


async def test_fsm_clearing_removes_the_row(engine: AsyncEngine) -> None:
    storage = DatabaseFSMStorage(engine)
    await storage.set_state(KEY, Trade.amount)
    await storage.set_data(KEY, {"a": 1})
    await storage.set_state(KEY, None)
    assert await storage.get_data(KEY) == {"a": 1}
    await storage.set_data(KEY, {})
    assert await count(engine, kv_store) == 0


async def test_fsm_concurrent_state_and_data_writes_are_not_lost(engine: AsyncEngine) -> None:
    storage = DatabaseFSMStorage(engine)
    keys = [StorageKey(bot_id=1, chat_id=i, user_id=i) for i in range(5)]
    await asyncio.gather(
        *(storage.set_state(k, Trade.amount) for k in keys),
        *(storage.set_data(k, {"n": k.user_id}) for k in keys),
    )
    for k in keys:
        assert await storage.get_state(k) == Trade.amount.state
        assert await storage.get_data(k) == {"n": k.user_id}


async def test_fsm_refuses_bad_data(engine: AsyncEngine) -> None:
    storage = DatabaseFSMStorage(engine)
    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(KEY, [("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await storage.set_data(KEY, {"a": object()})
    assert await count(engine, kv_store) == 0


async def test_fsm_unreadable_row_reads_as_empty(engine: AsyncEngine) -> None:
    storage = DatabaseFSMStorage(engine)
    await storage.set_state(KEY, Trade.amount)
    async with engine.begin() as conn:
        await conn.execute(kv_store.update().values(value="not json"))
    # The writing process serves its own reads from memory; a fresh start reads the row.
    restarted = DatabaseFSMStorage(engine)
    assert await restarted.get_state(KEY) is None
    await restarted.set_data(KEY, {"a": 1})
    assert await restarted.get_data(KEY) == {"a": 1}


async def test_oneshot_claim_many_claims_only_the_free_keys(engine: AsyncEngine) -> None:
    store = DatabaseOneShotStore(engine)
    assert await store.claim("taken", 30)
    won = await store.claim_many(["a", "taken", "b"], 30)
    assert won == {"a", "b"}
    assert await store.claim_many(["a", "b", "c"], 30) == {"c"}
    assert await store.claim_many([], 30) == set()
    with pytest.raises(ValueError, match="distinct"):
        await store.claim_many(["x", "x"], 30)
    assert await store.claim("x", 30)  # the refused batch claimed nothing


async def test_group_claimer_batches_and_gives_one_winner_per_key(engine: AsyncEngine) -> None:
    claimer = GroupClaimer(DatabaseOneShotStore(engine), 30)
    keys = [f"u{i % 50}" for i in range(200)]  # every key asked for four times at once
    results = await asyncio.gather(*(claimer.claim(k) for k in keys))
    winners = [k for k, won in zip(keys, results, strict=True) if won]
    assert sorted(winners) == sorted(set(keys))
    assert not await claimer.claim("u7")  # and durably: a new claimer agrees
    assert not await GroupClaimer(DatabaseOneShotStore(engine), 30).claim("u7")
    await claimer.close()
