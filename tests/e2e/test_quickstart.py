"""The README's promise, as a new user lives it: start tradedeck as a real process, make a
token with the CLI, watch prices move, buy, restart, and find the position still there."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradedeck", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Running:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradedeck", "run"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tradedeck exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("healthz did not answer 200 within 60 s")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._log.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRADEDECK_")}
    clean.update(
        TRADEDECK_DATA_DIR=str(tmp_path / "data"),
        TRADEDECK_PORT=str(free_port()),
        TRADEDECK_REPLAY_SPEED="6000",
        TRADEDECK_LOG_LEVEL="WARNING",
    )
    yield clean


def test_quickstart_run_buy_restart(env: dict[str, str], tmp_path: Path) -> None:
    port = int(env["TRADEDECK_PORT"])
    app = Running(env, port, tmp_path / "run.log")
    try:
        banner = (tmp_path / "run.log").read_text()
        assert f"dashboard: http://127.0.0.1:{port}/dashboard" in banner
        assert f"Telegram sandbox chat: http://127.0.0.1:{port}/sandbox" in banner
        made = cli(env, "users", "add", "alice", "--role", "trader")
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip().splitlines()[-1]
        assert token.startswith("td_")
        api = httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {token}"})

        first = api.get("/api/v1/tickers").json()
        time.sleep(2)
        second = api.get("/api/v1/tickers").json()
        assert [t["last"] for t in first] != [t["last"] for t in second], "prices did not move"

        bought = api.post(
            "/api/v1/orders",
            json={"symbol": "ETH/BTC", "side": "buy", "type": "market", "amount": "0.5"},
        )
        assert bought.status_code == 201, bought.text
        assert bought.json()["status"] == "filled"
        positions = api.get("/api/v1/positions").json()
        assert [(p["symbol"], p["amount"]) for p in positions] == [("ETH/BTC", "0.5")]
        assert "unrealized" in api.get("/api/v1/pnl").json()
    finally:
        app.stop()

    listed = cli(env, "users", "list")
    assert "alice" in listed.stdout and "trader" in listed.stdout

    app = Running(env, port, tmp_path / "run2.log")
    try:
        api = httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {token}"})
        positions = api.get("/api/v1/positions").json()
        assert [(p["symbol"], p["amount"]) for p in positions] == [("ETH/BTC", "0.5")]
        fills = api.get("/api/v1/fills").json()
        assert len(fills) == 1
    finally:
        app.stop()

    revoked = cli(env, "users", "revoke", "alice")
    assert revoked.returncode == 0


def test_bad_setting_stops_start_up_with_one_clear_line(env: dict[str, str]) -> None:
    env = {**env, "TRADEDECK_PORT": "not-a-port"}
    result = cli(env, "run")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tradedeck: invalid setting TRADEDECK_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    )


def test_cli_version_and_user_errors(env: dict[str, str]) -> None:
    assert cli(env, "--version").stdout.startswith("tradedeck ")
    bad_role = cli(env, "users", "add", "bob", "--role", "wizard")
    assert bad_role.returncode == 1 and "role must be one of" in bad_role.stderr
    assert cli(env, "users", "add", "bob").returncode == 0
    dup = cli(env, "users", "add", "bob")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    missing = cli(env, "users", "revoke", "nobody")
    assert missing.returncode == 1 and "no user named" in missing.stderr
