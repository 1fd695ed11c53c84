"""Benchmark: Telegram updates per second and latency from the webhook POST to the reply
arriving at the Bot API server.

`tradedeck run` is started as its own process in webhook mode, pointed at the sandbox
Bot API emulator served by this script; this script also plays Telegram, POSTing updates
to the app's webhook (the load comes from a process other than the app). A reply's
latency is the time from our POST to the bot's first API call for that chat. Measured
for /status (a command) and for a Refresh button press: at a fixed 200 updates/s, and
at the highest sustained rate. Prints figures; asserts nothing.

    python bench/webhook.py [--seconds 10] [--users 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import uvicorn

from tradedeck.sandbox.app import create_sandbox_app
from tradedeck.sandbox.emulator import BotApiEmulator
from tradedeck.sandbox.limits import FloodLimits
from tradedeck.sandbox.models import SandboxUser

# A new bot id per run: update ids restart with each emulator, and Redis (when used)
# remembers the ids it has seen for a day, as it should for a real bot.
TOKEN = f"{secrets.randbelow(10**9) + 10**9}:bench-webhook-token"
SECRET = "bench-webhook-secret-0123456789"
FIRST_USER = 10_000


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Arrivals:
    """Wraps the emulator's entry point to time the first bot call per waiting chat."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.waiting: dict[int, list[float]] = {}
        self.latencies: list[float] = []
        self.last_arrival = 0.0
        original = emulator.call

        async def timed(token: str, method: str, params: Any) -> Any:
            chat = params.raw("chat_id")
            if chat is not None and method in ("sendMessage", "editMessageText"):
                queue = self.waiting.get(int(chat))
                if queue:
                    self.last_arrival = time.perf_counter()
                    self.latencies.append(self.last_arrival - queue.pop(0))
            return await original(token, method, params)

        emulator.call = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.waiting.clear()
        self.latencies.clear()
        self.last_arrival = 0.0


def message_update(update_id: int, user: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": f"u{user}"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


def button_update(update_id: int, user: int, message_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"q{update_id}",
            "from": {"id": user, "is_bot": False, "first_name": f"u{user}"},
            "chat_instance": "1",
            "data": "rf:status",
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": user, "type": "private"},
                "from": {"id": 5555555555, "is_bot": True, "first_name": "bot"},
                "text": "menu",
            },
        },
    }


async def load(
    url: str,
    arrivals: Arrivals,
    kind: str,
    users: int,
    rate: float | None,
    seconds: float,
    start_id: int,
    menus: dict[int, int],
) -> tuple[int, float]:
    """Send updates for ``seconds`` at ``rate`` per second (None: as fast as 64 senders can)."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    sent = 0
    next_id = start_id
    # aiohttp rather than httpx: it costs this process (which also runs the Bot API
    # emulator) far less CPU per request, so the app is what gets measured.
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as client:

        async def one(update_id: int) -> None:
            nonlocal sent
            user = FIRST_USER + update_id % users
            body = (
                message_update(update_id, user, "/status")
                if kind == "command"
                else button_update(update_id, user, menus[user])
            )
            arrivals.waiting.setdefault(user, []).append(time.perf_counter())
            async with client.post(url, data=orjson.dumps(body)) as response:
                await response.read()
            sent += 1

        started = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        while time.perf_counter() - started < seconds:
            if rate is None:
                while len(tasks) >= 64:
                    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    tasks = set(pending)
            else:
                due = started + (next_id - start_id) / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            task = asyncio.create_task(one(next_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_id += 1
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return sent, elapsed


async def wait_replies(arrivals: Arrivals, expected: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while len(arrivals.latencies) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def figures(
    label: str, arrivals: Arrivals, sent: int, elapsed: float, cpu: float, own: float
) -> None:
    got = sorted(arrivals.latencies)
    if not got:
        print(f"{label}: no replies")
        return
    p99 = got[min(len(got) - 1, int(len(got) * 0.99))]
    print(
        f"{label:<24} sent={sent} replied={len(got)} "
        f"rate={len(got) / elapsed:,.0f} updates/s  p50={statistics.median(got) * 1000:.1f} ms "
        f"p99={p99 * 1000:.1f} ms  CPU/update: app {cpu / max(sent, 1) * 1e6:,.0f} µs, "
        f"Telegram side {own / max(sent, 1) * 1e6:,.0f} µs"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument(
        "--phases",
        default="command@200,command@max,button@200,button@max",
        help="comma-separated KIND@RATE, KIND command|button, RATE updates/s or max",
    )
    parser.add_argument("--profile", metavar="FILE", help="py-spy the app into FILE (raw)")
    args = parser.parse_args()

    emulator = BotApiEmulator(limits=FloodLimits(enabled=False))
    arrivals = Arrivals(emulator)
    emu_sock = free_socket()
    emu_url = f"http://127.0.0.1:{emu_sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(emulator), log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[emu_sock]))

    app_sock = free_socket()
    app_port = app_sock.getsockname()[1]
    app_sock.close()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEDECK_")}
        env.update(
            TRADEDECK_DATA_DIR=str(Path(tmp)),
            TRADEDECK_PORT=str(app_port),
            TRADEDECK_LOG_LEVEL=os.environ.get("BENCH_APP_LOG_LEVEL", "WARNING"),
            TRADEDECK_TELEGRAM_TOKEN=TOKEN,
            TRADEDECK_PUBLIC_URL=f"http://127.0.0.1:{app_port}",
            TRADEDECK_TELEGRAM_API_BASE=emu_url,
            TRADEDECK_TELEGRAM_WEBHOOK_SECRET=SECRET,
            TRADEDECK_COMMANDS_PER_MINUTE="1000000",
            **(
                {"TRADEDECK_REDIS_URL": os.environ["BENCH_REDIS_URL"]}
                if os.environ.get("BENCH_REDIS_URL")
                else {}
            ),
        )
        subprocess.run(
            [sys.executable, "-m", "tradedeck", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        await asyncio.to_thread(add_users, env, args.users)
        log = (Path(tmp) / "app.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "tradedeck", "run"], env=env, stderr=log)
        path = hashlib.sha256(SECRET.encode()).hexdigest()[:24]
        url = f"http://127.0.0.1:{app_port}/telegram/webhook/{path}"
        try:
            await wait_ready(emu_url)
            menus = await greet(emulator, args.users)
            next_id = 1_000_000  # above the ids the greeting updates used
            phases = [p.split("@") for p in args.phases.split(",")]
            profiler = (
                subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "-r",
                        "250",
                        "-f",
                        "raw",
                        "-o",
                        args.profile,
                        "--pid",
                        str(proc.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                if args.profile
                else None
            )
            for kind, rate_text in phases:
                rate = None if rate_text == "max" else float(rate_text)
                arrivals.reset()
                cpu_before, own_before = cpu_seconds(proc.pid), cpu_seconds(os.getpid())
                started = time.perf_counter()
                sent, elapsed = await load(
                    url, arrivals, kind, args.users, rate, args.seconds, next_id, menus
                )
                next_id += sent + 1
                await wait_replies(arrivals, sent)
                if rate is None:  # throughput is what was answered, not what was sent
                    elapsed = max(arrivals.last_arrival - started, elapsed)
                label = f"{'/status' if kind == 'command' else 'button press'} @ " + (
                    f"{rate:.0f}/s" if rate else "max"
                )
                figures(
                    label,
                    arrivals,
                    sent,
                    elapsed,
                    cpu_seconds(proc.pid) - cpu_before,
                    cpu_seconds(os.getpid()) - own_before,
                )
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                await asyncio.to_thread(profiler.wait, 30)
            if os.environ.get("BENCH_DEBUG"):
                from collections import Counter

                print(Counter((c.method, c.status) for c in emulator.calls(TOKEN)))
        finally:
            if os.environ.get("BENCH_KEEP_LOG"):
                log.flush()
                Path(os.environ["BENCH_KEEP_LOG"]).write_text((Path(tmp) / "app.log").read_text())
            proc.send_signal(signal.SIGTERM)
            stopping = time.perf_counter()
            try:
                # Off the event loop: the app's shutdown still talks to our emulator.
                await asyncio.to_thread(proc.wait, 30)
                if os.environ.get("BENCH_DEBUG"):
                    print(f"the app stopped in {time.perf_counter() - stopping:.1f} s")
            except subprocess.TimeoutExpired:
                proc.kill()
                print("the app did not stop within 30 s; its log:")
                print((Path(tmp) / "app.log").read_text()[-3000:])
    server.should_exit = True
    await serving


def add_users(env: dict[str, str], users: int) -> None:
    """Whitelist the simulated Telegram users as traders (straight through the CLI's code)."""
    from tradedeck.cli import CLI_ACTOR
    from tradedeck.config import Settings
    from tradedeck.security.users import UserService
    from tradedeck.services import open_repository

    async def work() -> None:
        settings = Settings(_env_file=None, data_dir=env["TRADEDECK_DATA_DIR"])  # type: ignore[call-arg]
        repository = await open_repository(settings)
        service = UserService(repository)
        for i in range(users):
            await service.create(CLI_ACTOR, f"u{FIRST_USER + i}", "trader", FIRST_USER + i)
        await repository.engine.dispose()

    asyncio.run(work())


async def greet(emulator: BotApiEmulator, users: int) -> dict[int, int]:
    """Every simulated user starts the bot once (so their chat exists, as on Telegram);
    returns the id of the bot's menu message in each chat, for the button presses."""
    menus: dict[int, int] = {}
    for i in range(users):
        user = SandboxUser(id=FIRST_USER + i, first_name=f"u{i}")
        await emulator.user_sends(TOKEN, user, "/start")
    for i in range(users):
        reply = await emulator.wait_for_message(TOKEN, FIRST_USER + i, timeout=60)
        menus[FIRST_USER + i] = reply.message_id
    return menus


async def wait_ready(emu_url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            info = (await client.get(f"{emu_url}/bot{TOKEN}/getWebhookInfo")).json()
            if info.get("result", {}).get("url"):
                return
            await asyncio.sleep(0.1)
    raise SystemExit("the app never registered its webhook")


if __name__ == "__main__":
    asyncio.run(main())
