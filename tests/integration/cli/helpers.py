"""Run the real `tradedeck` command in a child process, with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This machine's environment minus any TRADEDECK_ setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEDECK_")}
    env.update(
        TRADEDECK_DATA_DIR=str(data_dir),
        TRADEDECK_HOST="127.0.0.1",
        TRADEDECK_PORT=str(free_port()),
        TRADEDECK_TELEGRAM="off",
        **settings,
    )
    return env


def tradedeck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradedeck", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
