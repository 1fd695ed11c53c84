"""Benchmark: from kill switch activation to every open order canceled, on the paper
exchange, with 100 and 1,000 resting limit orders.

Two paths, each on a fresh database (SQLite, then PostgreSQL when reachable):

- main: the live platform's kill switch, ``KillSwitch.activate`` → the order manager's
  ``cancel_all`` (memory, database and events in one go);
- watchdog: the platform is stopped with its orders open, then one watchdog check with its
  clock a minute ahead (so the heartbeat looks dead) finds the stale beat, turns the stored
  kill switch on and cancels every order in the database (``cancel_persisted_orders``).

Each figure is the median of ``--rounds`` runs; the target is 200 ms for 1,000 orders.
Prints figures; asserts nothing.

    python bench/kill.py [--orders 100 1000] [--rounds 3] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from benchdb import create_pg_database, drop_pg_database

from tradedeck.config import Settings
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.domain.roles import Actor, Role
from tradedeck.ops.logging import configure_logging
from tradedeck.services import Services, start_services
from tradedeck.storage.db import make_engine
from tradedeck.storage.heartbeats import MAIN, DatabaseHeartbeats
from tradedeck.storage.repository import Repository
from tradedeck.trading.requests import OrderRequest
from tradedeck.watchdog.alerts import AdminAlerts
from tradedeck.watchdog.runner import Watchdog, bundled_markets

ADMIN = Actor(name="bench", role=Role.ADMIN, channel="cli", user_id=None)


def settings_for(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        markets=["ETH/BTC"],
        paper_balances={"BTC": Decimal(1000), "ETH": Decimal(0)},
        max_order_notional_admin=Decimal(1000),
        max_exposure_pct=Decimal(100),
        telegram="off",
        log_level="WARNING",
    )


async def place(services: Services, count: int) -> None:
    """Rest ``count`` limit buys far below the market (placed concurrently, in batches)."""
    last = services.orders.exchange.last_price("ETH/BTC")
    assert last is not None
    price = (last / 2).quantize(Decimal("0.000001"))
    requests = [
        OrderRequest("ETH/BTC", Side.BUY, OrderType.LIMIT, Decimal("0.01"), price=price)
        for _ in range(count)
    ]
    placed = await asyncio.gather(*(services.orders.place(ADMIN, r) for r in requests))
    assert all(o.status is OrderStatus.OPEN for o, _ in placed)


async def main_path(settings: Settings, count: int) -> float:
    services = await start_services(settings, start_feed=False)
    try:
        await place(services, count)
        started = time.perf_counter()
        _, canceled = await services.kill_switch.activate(ADMIN, "bench")
        elapsed = time.perf_counter() - started
        assert canceled == count, f"canceled {canceled} of {count}"
        return elapsed
    finally:
        await services.stop()


async def watchdog_path(settings: Settings, count: int) -> float:
    services = await start_services(settings, start_feed=False)
    try:
        await place(services, count)
    finally:
        await services.stop()  # the platform is gone; its orders stay open in the database
    repository = Repository(make_engine(settings.resolved_database_url))
    # As a crash leaves it: an ordinary last beat (a clean stop's "stopped" is respected).
    await DatabaseHeartbeats(repository.engine).beat(MAIN, "crashed", {"pid": 0})
    markets = bundled_markets()
    alerts = AdminAlerts(settings, repository)  # no token: alerts are logged only
    watchdog = Watchdog(
        settings,
        repository,
        DatabaseHeartbeats(repository.engine),
        alerts,
        markets,
        owner="bench",
        clock=lambda: datetime.now(UTC) + timedelta(minutes=1),
    )
    try:
        started = time.perf_counter()
        action = await watchdog.check_once()
        elapsed = time.perf_counter() - started
        assert action is not None and action.canceled == count, action
        assert await repository.load_open_orders() == []
        return elapsed
    finally:
        await repository.engine.dispose()


async def measure(backend: str, path: str, count: int, rounds: int) -> float | None:
    runs = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="td-kill-") as tmp:
            pg_name = None
            url = None
            if backend == "postgresql":
                pg_name = await create_pg_database()
                if pg_name is None:
                    return None
                url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
            try:
                settings = settings_for(Path(tmp), url)
                run = main_path if path == "main" else watchdog_path
                runs.append(await run(settings, count))
            finally:
                if pg_name is not None:
                    await drop_pg_database(pg_name)
    return statistics.median(runs)


async def amain(args: argparse.Namespace) -> None:
    configure_logging("ERROR", json=False)  # the activation's warnings would drown the table
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    print(f"{'backend':<11} {'path':<9} {'orders':>6} {'median ms':>10}")
    for backend in backends:
        for path in ("main", "watchdog"):
            for count in args.orders:
                median = await measure(backend, path, count, args.rounds)
                if median is None:
                    break
                print(f"{backend:<11} {path:<9} {count:>6} {median * 1000:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
