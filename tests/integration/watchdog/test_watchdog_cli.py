"""`tradedeck watchdog --status` and `--once`, as an operator types them."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli.helpers import cli_env, tradedeck


def test_status_is_unhealthy_until_a_watchdog_has_checked(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", TRADEDECK_LOG_LEVEL="WARNING")
    before = tradedeck(env, "watchdog", "--status")
    assert before.returncode == 1, before.stderr
    assert "watchdog: never ran against this store" in before.stdout
    assert "trading heartbeat age: never seen" in before.stdout

    once = tradedeck(env, "watchdog", "--once")
    assert once.returncode == 0, once.stderr
    assert once.stdout.strip().splitlines()[-1] == "all clear"  # no platform to judge yet

    after = tradedeck(env, "watchdog", "--status")
    assert after.returncode == 0, after.stdout + after.stderr
    assert after.stdout.startswith("watchdog: alive")
    assert "last action: none" in after.stdout


def test_a_bad_watchdog_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", TRADEDECK_WATCHDOG_HEARTBEAT_TIMEOUT="-1")
    result = tradedeck(env, "watchdog", "--status")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "tradedeck: invalid setting TRADEDECK_WATCHDOG_HEARTBEAT_TIMEOUT"
    )
