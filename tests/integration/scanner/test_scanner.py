"""The scanner with real storage, on SQLite and PostgreSQL: scans are stored and ranked,
a market without usable candles fails alone, revalidation brings it back, history and
retention work, and only new strong signals reach the bus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy.engine import Connection

from tests.conftest import ADMIN
from tests.integration.scanner.conftest import core
from tests.integration.scanner.history import store_candles
from tradedeck.domain.errors import InvalidInput, PermissionDenied
from tradedeck.domain.roles import ROLE_PERMISSIONS, Actor, Role
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.notify.events import Event, EventType
from tradedeck.services import Services
from tradedeck.storage.db import alembic_config, upgrade
from tradedeck.storage.scans import ScanStore
from tradedeck.strategies.base import BoolArray, FloatArray, Strategy
from tradedeck.strategies.registry import StrategyRegistry
from tradedeck.strategies.scanner import ScanConfig, Scanner

NOBODY = Actor(name="ghost", role=Role.VIEWER, channel="api")


async def seed(services: Services, btc_usdt: int = 10) -> None:
    repo = services.repository
    for symbol in ("ETH/BTC", "LTC/BTC", "ADA/BTC"):
        await store_candles(repo, symbol, 0, 400)
    await store_candles(repo, "BTC/USDT", 0, btc_usdt)


async def test_a_scan_is_stored_ranked_and_isolates_a_failing_market(
    services: Services,
) -> None:
    await seed(services)
    run = await services.scanner.scan()
    assert run.kind == "full" and run.markets == 4 and run.failures == 1
    assert run.timeframes == ("1m", "5m")
    latest = await services.scanner.latest(ADMIN)
    assert latest.run is not None and latest.run.id == run.id
    symbols = [r.symbol for r in latest.results]
    assert sorted(symbols) == ["ADA/BTC", "BTC/USDT", "ETH/BTC", "LTC/BTC"]
    failed = latest.results[-1]  # failures rank last
    assert failed.symbol == "BTC/USDT" and failed.error == "only 10 closed 1m candles, 30 needed"
    good = latest.results[:-1]
    scores = [abs(r.score) for r in good]
    assert scores == sorted(scores, reverse=True)
    for r in good:
        assert r.strategy in services.scanner.strategy_names
        assert r.last_close is not None and r.last_close > 0
        assert r.candle_time is not None and r.candle_time.tzinfo is not None
        assert r.indicators["rsi"] is not None and 0 <= r.indicators["rsi"] <= 100
        assert set(r.indicators) == {"rsi", "macd_hist", "bb_pct", "atr_pct", "adx"}


async def test_revalidation_rescans_only_failed_markets(services: Services) -> None:
    await seed(services)
    first = await services.scanner.scan()
    assert await services.scanner.revalidate() is not None  # still too few: fails again
    await store_candles(services.repository, "BTC/USDT", 10, 200)
    again = await services.scanner.revalidate()
    assert again is not None and again.kind == "revalidate"
    assert again.markets == 1 and again.failures == 0
    latest = await services.scanner.latest(ADMIN)
    assert latest.run is not None and latest.run.id == first.id  # still the full scan
    by_symbol = {r.symbol: r for r in latest.results}
    assert len(by_symbol) == 4 and not any(r.failed for r in latest.results)
    assert latest.failures == 0 and latest.markets == 4 and latest.run.failures == 1
    assert by_symbol["BTC/USDT"].last_close is not None
    assert await services.scanner.revalidate() is None  # nothing failed any more


async def test_history_of_one_market_newest_first(services: Services) -> None:
    await seed(services)
    first = await services.scanner.scan()
    await store_candles(services.repository, "ETH/BTC", 400, 410)
    second = await services.scanner.scan()
    history = await services.scanner.history(ADMIN, "eth/btc", "5m", limit=10)
    assert [h.scan_id for h in history] == [second.id, first.id]
    assert all(h.result.symbol == "ETH/BTC" and h.result.timeframe == "5m" for h in history)
    assert history[0].result.candle_time is not None and history[1].result.candle_time
    assert history[0].result.candle_time > history[1].result.candle_time
    assert history[0].scanned_at >= history[1].scanned_at
    assert len(await services.scanner.history(ADMIN, "ETH/BTC", limit=1)) == 1
    with pytest.raises(InvalidInput):
        await services.scanner.history(ADMIN, "DOGE/BTC")
    with pytest.raises(InvalidInput):
        await services.scanner.history(ADMIN, "ETH/BTC", "7m")


async def test_reading_scans_needs_a_role_that_may_read(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.VIEWER, frozenset())  # a role without READ
    with pytest.raises(PermissionDenied):
        await services.scanner.latest(Actor(name="x", role=Role.VIEWER, channel="api"))
    monkeypatch.undo()
    assert (await services.scanner.latest(NOBODY)).run is None


async def test_larger_timeframes_are_resampled(tmp_path: Path, database_url: str) -> None:
    services = await core(tmp_path, database_url, scan_timeframes=["5m", "1h"])
    try:
        await store_candles(services.repository, "ETH/BTC", 0, 12 * 40)
        await store_candles(services.repository, "LTC/BTC", 0, 1)
        run = await services.scanner.scan()
        assert run.timeframes == ("5m", "1h")
        latest = await services.scanner.latest(ADMIN)
        eth = {r.timeframe: r for r in latest.results if r.symbol == "ETH/BTC"}
        assert set(eth) == {"5m", "1h"}
        assert not eth["5m"].failed and not eth["1h"].failed, eth
        hourly_time = eth["1h"].candle_time
        assert hourly_time is not None and hourly_time.minute == 0
        # LTC has only one candle: failed on both, with the reason
        ltc = [r for r in latest.results if r.symbol == "LTC/BTC"]
        assert len(ltc) == 2 and all(r.error and "30 needed" in r.error for r in ltc)
    finally:
        await services.stop()


class Dial(Strategy):
    """Its view on the last candle is whatever the test sets."""

    name = "dial"
    value = 0.0

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(False, index=frame.index)

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(False, index=frame.index)

    def strength(self, frame: pd.DataFrame, entry: BoolArray, exit: BoolArray) -> FloatArray:
        return np.full(len(frame), Dial.value)


async def test_only_new_strong_signals_are_published(services: Services) -> None:
    await seed(services, btc_usdt=100)
    events: list[Event] = []

    async def listen(event: Event) -> None:
        if event.type is EventType.SCAN_SIGNAL:
            events.append(event)

    services.bus.subscribe(listen)
    scanner = Scanner(
        ScanStore(services.repository.engine),
        StrategyRegistry([Dial]),
        ScanConfig(markets=("ETH/BTC", "LTC/BTC"), strategies=("dial",), strong=0.6),
        services.scanner.markets,
        services.bus,
    )
    Dial.value = 0.3
    await scanner.scan()
    Dial.value = 0.9
    strong = await scanner.scan()
    Dial.value = 0.95
    await scanner.scan()  # still strong the same way: nothing new
    Dial.value = -0.7
    await scanner.scan()  # strong the other way: new
    await services.bus.join()  # type: ignore[attr-defined]
    assert [(e.data["symbol"], e.data["signal"]) for e in events] == [
        ("ETH/BTC", "buy"),
        ("LTC/BTC", "buy"),
        ("ETH/BTC", "sell"),
        ("LTC/BTC", "sell"),
    ]
    first = events[0].data
    assert first["scan_id"] == strong.id and first["strategy"] == "dial"
    assert first["score"] == pytest.approx(0.9) and first["timeframe"] == "5m"
    assert first["last_close"] > 0 and 0 <= first["rsi"] <= 100


async def test_a_scan_nobody_heard_does_not_hide_its_signals_from_the_app(
    services: Services,
) -> None:
    """`tradedeck scan` from the shell stores a scan with no bus to announce on: the app's
    next scan must still push the signals that one found, and only once."""
    await seed(services, btc_usdt=100)
    events: list[Event] = []

    async def listen(event: Event) -> None:
        if event.type is EventType.SCAN_SIGNAL:
            events.append(event)

    services.bus.subscribe(listen)
    store = ScanStore(services.repository.engine)
    registry = StrategyRegistry([Dial])
    config = ScanConfig(markets=("ETH/BTC",), strategies=("dial",), strong=0.6)
    app = Scanner(store, registry, config, services.scanner.markets, services.bus)
    shell = Scanner(store, registry, config, services.scanner.markets, None)

    Dial.value = 0.3
    await app.scan()
    Dial.value = 0.9
    heard_by_nobody = await shell.scan()
    latest = await app.latest(ADMIN)  # readers see the shell's scan as the latest
    assert latest.run is not None and latest.run.id == heard_by_nobody.id
    pushed = await app.scan()
    await app.scan()  # announced now: not again
    await services.bus.join()  # type: ignore[attr-defined]
    assert [(e.data["symbol"], e.data["signal"], e.data["scan_id"]) for e in events] == [
        ("ETH/BTC", "buy", pushed.id)
    ]


async def test_old_scans_are_pruned(services: Services) -> None:
    await seed(services)
    store = ScanStore(services.repository.engine)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    await store.record("full", long_ago, long_ago, ["5m"], [])
    kept = await services.scanner.scan()
    assert await services.scanner.prune() == 1
    latest = await services.scanner.latest(ADMIN)
    assert latest.run is not None and latest.run.id == kept.id


async def test_the_migration_downgrades_and_upgrades_again(services: Services) -> None:
    engine = services.repository.engine

    def down(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "0002")

    async with engine.begin() as conn:
        await conn.run_sync(down)
    await upgrade(engine)
    await seed(services)
    assert (await services.scanner.scan()).markets == 4


async def test_candles_are_read_back_exactly_as_columns(services: Services) -> None:
    await store_candles(services.repository, "LTC/BTC", 0, 120)
    bundled = next(b for b in load_bundled_catalog() if b.symbol == "LTC/BTC")
    series = load_bundled_series(bundled).slice(20, 120)
    read = await ScanStore(services.repository.engine).candles("LTC/BTC", "5m", 100)
    assert len(read) == 100
    assert read.ts.tolist() == series.ts.tolist()
    for column in ("open", "high", "low", "close", "volume"):
        assert getattr(read, column).tolist() == getattr(series, column).tolist(), column
    empty = await ScanStore(services.repository.engine).candles("LTC/BTC", "1h", 10)
    assert len(empty) == 0
