from pathlib import Path

import pytest
from aiogram.fsm.storage.base import DEFAULT_DESTINY, StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from tradedeck.security.oneshot import OneShotStore, RedisOneShotStore
from tradedeck.storage.db import make_engine
from tradedeck.storage.fsm import DatabaseFSMStorage, make_fsm_storage, storage_key
from tradedeck.storage.kv import (
    DatabaseKeyValueStore,
    DatabaseOneShotStore,
    KeyValueStore,
    RedisKeyValueStore,
    make_kv_store,
    make_oneshot_store,
)

UNREACHABLE = "redis://127.0.0.1:1/0"  # clients connect lazily, so nothing is contacted


async def test_database_stores_without_redis(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        kv = make_kv_store(engine, None)
        once = make_oneshot_store(engine, None)
        fsm = make_fsm_storage(engine, None)
        assert isinstance(kv, DatabaseKeyValueStore) and isinstance(kv, KeyValueStore)
        assert isinstance(once, DatabaseOneShotStore) and isinstance(once, OneShotStore)
        assert isinstance(fsm, DatabaseFSMStorage)
    finally:
        await engine.dispose()


async def test_redis_stores_with_a_url(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    kv = make_kv_store(engine, UNREACHABLE)
    once = make_oneshot_store(engine, UNREACHABLE)
    fsm = make_fsm_storage(engine, UNREACHABLE)
    try:
        assert isinstance(kv, RedisKeyValueStore)
        assert isinstance(once, RedisOneShotStore)
        assert isinstance(fsm, RedisStorage)
        key = StorageKey(bot_id=1, chat_id=2, user_id=3, destiny="flow")
        assert fsm.key_builder.build(key, "state") == "td:fsm:2:3:flow:state"
    finally:
        await kv.close()
        await once.close()
        await fsm.close()
        await engine.dispose()


def key(**overrides: object) -> StorageKey:
    fields: dict[str, object] = {"bot_id": 1, "chat_id": 2, "user_id": 3, **overrides}
    return StorageKey(**fields)  # type: ignore[arg-type]


def test_storage_key_uses_every_field() -> None:
    variants = [
        key(),
        key(bot_id=9),
        key(chat_id=9),
        key(user_id=9),
        key(thread_id=9),
        key(thread_id=0),
        key(business_connection_id="b"),
        key(destiny="other"),
    ]
    assert len({storage_key(k) for k in variants}) == len(variants)
    assert storage_key(key()) == f"fsm:1:2::3::{DEFAULT_DESTINY}"


def test_storage_key_separators_cannot_be_forged() -> None:
    a = key(business_connection_id="x:y", destiny="z")
    b = key(business_connection_id="x", destiny="y:z")
    assert storage_key(a) != storage_key(b)


@pytest.mark.parametrize("length", [150, 500])
def test_long_storage_keys_fit_the_column(length: int) -> None:
    long_key = key(business_connection_id="b" * length)
    built = storage_key(long_key)
    assert len(built) <= 200
    assert built != storage_key(key(business_connection_id="b" * (length + 1)))
