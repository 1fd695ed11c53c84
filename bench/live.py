"""Benchmark: the latency tradedeck adds to a live order, on top of the exchange round trip.

The Binance emulator runs as its own process; the core runs here exactly as `tradedeck run`
builds it (``TRADEDECK_EXCHANGE=binance``, the emulator's URL, SQLite or PostgreSQL), and
alternating market buys and sells go through ``OrderManager.place``. An aiohttp trace on
ccxt's session stamps the moment the order request leaves and the moment its answer has
arrived, so each order splits into:

- before: from ``place`` being called to the HTTP request leaving (validation, risk
  checks, queueing, the kill-switch read, ccxt's signing and request building);
- after: from the answer's last byte to ``place`` returning with the fill stored
  (ccxt's parsing, the fill and position, the database commit, the events);
- round trip: the HTTP exchange itself (the emulator's share, not ours).

"Added" is before + after. Prints p50/p99 of each; asserts nothing.

    python bench/live.py [--orders 300] [--pause 0.1] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from benchdb import create_pg_database, drop_pg_database

from tradedeck.cli import tune_garbage_collector
from tradedeck.config import Settings
from tradedeck.domain.orders import OrderType, Side
from tradedeck.domain.roles import Actor, Role
from tradedeck.services import start_services
from tradedeck.trading.requests import OrderRequest

KEY, SECRET = "benchKey", "benchSecret"
ADMIN = Actor("bench", Role.ADMIN, "bench")


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tradedeck.exchanges.emulator", "--port", "0",
            "--key", KEY, "--secret", SECRET, "--deposit", "USDT=100000000",
            "--deposit", "BTC=1000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("listening="):
            return proc, line.strip().split("=", 1)[1]
    raise RuntimeError("the emulator did not start")


def settings(data_dir: Path, url: str, database_url: str | None) -> Settings:
    for name in [k for k in os.environ if k.startswith("TRADEDECK_")]:
        del os.environ[name]  # only what this benchmark sets
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        exchange="binance",
        exchange_api_key=KEY,  # type: ignore[arg-type]
        exchange_api_secret=SECRET,  # type: ignore[arg-type]
        exchange_api_url=url,
        markets=["BTC/USDT"],
        valuation_currency="USDT",
        max_order_notional_admin=Decimal(10**9),
        max_exposure_pct=Decimal(100),
        max_consecutive_rejections=10**6,
        telegram="off",
        log_level="WARNING",
    )


def traced_session(stamps: dict[str, float]) -> aiohttp.ClientSession:
    """ccxt's session with a trace: when an order request leaves, when its answer is in."""
    trace = aiohttp.TraceConfig()

    async def started(_s: Any, _c: SimpleNamespace, params: Any) -> None:
        if params.method == "POST" and params.url.path.endswith("/order"):
            stamps["sent"] = time.perf_counter()

    async def ended(_s: Any, _c: SimpleNamespace, params: Any) -> None:
        if params.method == "POST" and params.url.path.endswith("/order"):
            await params.response.read()
            stamps["answered"] = time.perf_counter()

    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    return aiohttp.ClientSession(trace_configs=[trace])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    url: str, database_url: str | None, orders: int, pause: float
) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        tune_garbage_collector()  # as `tradedeck run` does before its services start
        services = await start_services(settings(Path(tmp), url, database_url), start_feed=False)
        try:
            assert services.live is not None
            client = services.live.exchange.client
            await services.marketdata.poll_once(services.orders)  # type: ignore[attr-defined]
            stamps: dict[str, float] = {}
            if client.exchange.session is not None:  # ccxt's own, replaced by the traced one
                await client.exchange.session.close()
            client.exchange.session = traced_session(stamps)
            figures: dict[str, list[float]] = {"before": [], "after": [], "trip": [], "added": []}
            for i in range(orders + 20):
                side = Side.BUY if i % 2 == 0 else Side.SELL
                request = OrderRequest("BTC/USDT", side, OrderType.MARKET, Decimal("0.01"))
                await asyncio.sleep(pause)
                stamps.clear()
                started = time.perf_counter()
                await services.orders.place(ADMIN, request)
                done = time.perf_counter()
                if i < 20:  # warm-up: connections, caches, the first compilations
                    continue
                before = stamps["sent"] - started
                after = done - stamps["answered"]
                figures["before"].append(before * 1000)
                figures["after"].append(after * 1000)
                figures["trip"].append((stamps["answered"] - stamps["sent"]) * 1000)
                figures["added"].append((before + after) * 1000)
            return figures
        finally:
            await services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.1,
        help="seconds between orders; back to back, ccxt's rate limiter (enableRateLimit, "
        "the exchange's own request budget) holds each request and that wait shows in 'before'",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    print(f"{'backend':<11} {'figure':<12} {'p50 ms':>8} {'p99 ms':>8}")
    for backend in backends:
        # An emulator per backend: a fresh database must not start by recovering the
        # previous run's orders from the exchange's history.
        emulator, url = start_emulator()
        try:
            figures = measure_backend(backend, url, args.orders, args.pause)
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
        if figures is None:
            continue
        for label, key in (
            ("added", "added"),
            ("  before", "before"),
            ("  after", "after"),
            ("round trip", "trip"),
        ):
            values = figures[key]
            p50, p99 = pct(values, 0.5), pct(values, 0.99)
            print(f"{backend:<11} {label:<12} {p50:>8.2f} {p99:>8.2f}")
        print(f"{backend:<11} {'orders':<12} {len(figures['added']):>8}")
        print(f"{backend:<11} {'mean added':<12} {statistics.fmean(figures['added']):>8.2f}")


def measure_backend(
    backend: str, url: str, orders: int, pause: float
) -> dict[str, list[float]] | None:
    """The figures on one backend; None when PostgreSQL is not reachable."""
    if backend == "sqlite":
        return asyncio.run(measure(url, None, orders, pause))
    name = asyncio.run(create_pg_database())
    if name is None:
        return None
    try:
        pg = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        return asyncio.run(measure(url, pg, orders, pause))
    finally:
        asyncio.run(drop_pg_database(name))


if __name__ == "__main__":
    main()
