"""`tradedeck` commands as real processes for the end-to-end tests: the app started and
waited for, killed by the signal a test chooses, and one-shot CLI calls."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tradedeck", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Process:
    """A `tradedeck` command running in the background, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradedeck", *args],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    async def kill(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 10)
        self._out.close()


async def start_app(env: dict[str, str], log: Path) -> Process:
    app = Process(env, log, "run")
    url = f"http://127.0.0.1:{env['TRADEDECK_PORT']}/healthz"
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if app.proc.poll() is not None:
                raise AssertionError(f"tradedeck run exited early:\n{app.output()}")
            try:
                if (await client.get(url, timeout=1)).status_code == 200:
                    return app
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    await app.kill()
    raise AssertionError("healthz did not answer 200 within 60 s")
