"""`tradedeck backtest` as a user runs it: a real subprocess, its table and its JSON file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tradedeck import marketdata

BTC_PERP = Path(marketdata.__file__).parent / "data" / "ftx-btc-perp-1m.csv"


def tradedeck(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradedeck", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_backtest_prints_a_summary_and_writes_the_json_file(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = tradedeck(
        tmp_path,
        "backtest",
        "--strategy", "sma_cross",
        "--param", "fast=10",
        "--param", "slow=30",
        "--data", str(BTC_PERP),
        "--symbol", "BTC/USDT",
        "--fee", "0",
        "--slippage", "0",
        "--amount", "1",
        "--cash", "10000000",
        "--json", str(out),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "sma_cross on BTC/USDT 1m: 45,031 candles" in done.stdout
    rows = {
        line.strip("│ ").split("│")[0].strip(): line.strip("│ ").split("│")[-1].strip()
        for line in done.stdout.splitlines()
        if line.startswith("│")
    }
    assert rows["Trades"] == "945"
    assert rows["Fees"] == "0.00"  # a 10M account reads in cents
    assert "100%" in done.stderr  # the progress bar ran to the end

    document = json.loads(out.read_text())
    assert document["metrics"]["trades"] == 945
    assert len(document["trades"]) == 945
    first = document["trades"][0]
    assert set(first) >= {"entry_time", "entry_price", "exit_time", "exit_price", "amount", "pnl"}
    assert first["entry_time"] == "2021-12-31T23:42:00Z"
    assert datetime.fromisoformat(first["exit_time"]).utcoffset() is not None
    assert Decimal(first["entry_price"]) == Decimal("46430")
    assert Decimal(first["amount"]) == 1
    total = sum(Decimal(t["pnl"]) for t in document["trades"])
    end = Decimal(document["metrics"]["end_equity"]) - Decimal(document["metrics"]["start_equity"])
    assert total == end  # every trade closed, no fees: the trades are the whole result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--strategy", "sma_cross", "--param", "fast=abc"], "fast"),
        (["--strategy", "sma_cross", "--param", "fast"], "name=value"),
        (["--strategy", "sma_cross", "--amount", "1", "--risk", "2"], "not both"),
        (["--strategy", "sma_cross", "--data", "missing.csv"], "no candle file"),
        (["--strategy", "sma_cross", "--data", "garbage.csv"], "garbage.csv"),
        (["--strategy", "sma_cross", "--timeframe", "5m"], "60 s apart, not 5m"),
        (["--strategy", "sma_cross", "--symbol", "BTCUSDT"], "symbol must look like"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "garbage.csv").write_text("time,open\nyesterday,cheap\n")
    defaults = {"--data": str(BTC_PERP), "--symbol": "BTC/USDT"}
    for option, value in defaults.items():
        if option not in args:
            args = [*args, option, value]
    out = tmp_path / "result.json"
    done = tradedeck(tmp_path, "backtest", *args, "--json", str(out))

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tradedeck: ")
    assert message in lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists()
