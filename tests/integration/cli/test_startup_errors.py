"""A setting that only start-up can check (a market or strategy that does not exist)
stops `tradedeck run` the way a malformed setting does: one line, exit code 2, no
traceback, and nothing served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli.helpers import cli_env, tradedeck


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"TRADEDECK_MARKETS": "ETH/BTC,DOGE/BTC"},
            "tradedeck: TRADEDECK_MARKETS names unknown markets: DOGE/BTC",
        ),
        (
            {
                "TRADEDECK_STRATEGIES": json.dumps(
                    [{"strategy": "moon_shot", "symbol": "ETH/BTC", "amount": "1"}]
                )
            },
            "tradedeck: TRADEDECK_STRATEGIES entry 0 (moon_shot on ETH/BTC): "
            "unknown strategy 'moon_shot'",
        ),
        (
            {
                "TRADEDECK_MARKETS": "ETH/BTC",
                "TRADEDECK_STRATEGIES": json.dumps(
                    [{"strategy": "sma_cross", "symbol": "LTC/BTC", "amount": "1"}]
                ),
            },
            "tradedeck: TRADEDECK_STRATEGIES entry 0 (sma_cross on LTC/BTC): ",
        ),
    ],
    ids=["unknown-market", "unknown-strategy", "market-not-fed"],
)
def test_a_setting_refused_at_start_up_is_one_line_and_exit_code_2(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    ran = tradedeck(cli_env(tmp_path / "data", **settings), "run")

    assert ran.returncode == 2, ran.stderr
    last = ran.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith(message), ran.stderr
    assert "Traceback" not in ran.stderr and "Application startup failed" not in ran.stderr
    assert ran.stderr.count(message) == 1
    assert ran.stdout == ""


def test_a_malformed_setting_still_fails_before_anything_starts(tmp_path: Path) -> None:
    ran = tradedeck(cli_env(tmp_path / "data", TRADEDECK_SCAN_CANDLES="many"), "run")

    assert ran.returncode == 2
    assert ran.stderr.startswith("tradedeck: invalid setting TRADEDECK_SCAN_CANDLES: ")
    assert len(ran.stderr.splitlines()) == 1
    assert not (tmp_path / "data").exists()
