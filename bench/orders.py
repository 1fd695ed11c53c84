"""Benchmark: filled market orders per second and latency of POST /api/v1/orders.

Starts `tradedeck run` as its own process (SQLite, then PostgreSQL when reachable), makes
a trader token with the CLI, and loads the API over real HTTP from a separate process with
a fixed number of concurrent keep-alive connections: `wrk` when it is installed (it costs
the 2-core machine least, so the server is what gets measured), else this script's own
httpx client. Buys and sells alternate so the account never runs dry, and the number of
filled orders is read back from the server's metrics. Prints figures; asserts nothing.

    python bench/orders.py [--seconds 10] [--concurrency 8] [--backend sqlite|postgresql|all]
                           [--client wrk|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from benchdb import create_pg_database, drop_pg_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data_dir: Path, port: int, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEDECK_")}
    env.update(
        TRADEDECK_DATA_DIR=str(data_dir),
        TRADEDECK_PORT=str(port),
        TRADEDECK_LOG_LEVEL="WARNING",
        TRADEDECK_PAPER_BALANCES="BTC=1000,USDT=1000000",
        TRADEDECK_MAX_ORDER_NOTIONAL_TRADER="1000",
        TRADEDECK_MAX_EXPOSURE_PCT="100",
        TRADEDECK_MAX_POSITIONS="100",
        TRADEDECK_MAX_CONSECUTIVE_REJECTIONS="1000000",
        TRADEDECK_TELEGRAM="off",  # this measures the REST order path alone
    )
    if database_url:
        env["TRADEDECK_DATABASE_URL"] = database_url
    return env


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradedeck", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
local i = 0
request = function()
  i = i + 1
  local side = (i % 2 == 0) and "sell" or "buy"
  return wrk.format(nil, "/api/v1/orders", nil,
    '{"symbol":"ETH/BTC","side":"' .. side .. '","type":"market","amount":"0.01"}')
end
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def drive_wrk(url: str, token: str, seconds: int, concurrency: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = {**os.environ, "BENCH_TOKEN": token}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(pct["50"]),
        "p99": _ms(pct["99"]),
    }


def filled_orders(url: str) -> int:
    """Filled market orders as counted by the server itself (Prometheus counter)."""
    text = httpx.get(f"{url}/metrics").text
    pattern = r'orders_total\{side="\w+",status="filled",type="market"\} ([\d.e+]+)'
    return int(sum(float(m.group(1)) for m in re.finditer(pattern, text)))


async def drive(url: str, token: str, seconds: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                i += 1
                body = {
                    "symbol": "ETH/BTC",
                    "side": "buy" if i % 2 == 0 else "sell",
                    "type": "market",
                    "amount": "0.01",
                }
                start = time.perf_counter()
                await client.post("/api/v1/orders", json=body)
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "rate": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def run_backend(backend: str, seconds: int, concurrency: int, client: str) -> None:
    database_url = None
    pg_name = None
    if backend == "postgresql":
        pg_name = asyncio.run(create_pg_database())
        if pg_name is None:
            return
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = server_env(Path(tmp), port, database_url)
        made = subprocess.run(
            [sys.executable, "-m", "tradedeck", "users", "add", "bench", "--role", "trader"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = made.stdout.strip().splitlines()[-1]
        proc = start_server(env, port)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):  # warm-up outside the measurement
                httpx.get(f"{url}/healthz")
            if client == "wrk":
                figures = drive_wrk(url, token, seconds, concurrency)
            else:
                figures = asyncio.run(drive(url, token, seconds, concurrency))
            filled = filled_orders(url)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    if pg_name:
        asyncio.run(drop_pg_database(pg_name))
    rate = figures["rate"] * filled / max(figures["requests"], 1)
    print(
        f"{backend:<10} client={client} concurrency={concurrency} "
        f"requests={figures['requests']:.0f} filled={filled} -> {rate:,.0f} filled orders/s, "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument(
        "--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    for backend in backends:
        run_backend(backend, args.seconds, args.concurrency, args.client)


if __name__ == "__main__":
    main()
