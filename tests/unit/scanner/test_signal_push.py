"""How a scan signal reads on Telegram and who gets it by default."""

from __future__ import annotations

from tradedeck.domain.roles import Role
from tradedeck.notify.events import Event, EventType
from tradedeck.notify.notifier import GROUP_BY_EVENT, effective_levels, render


def test_a_buy_signal_reads_in_one_line_with_the_numbers() -> None:
    text = render(
        Event(
            type=EventType.SCAN_SIGNAL,
            data={
                "symbol": "ETH/BTC",
                "timeframe": "5m",
                "signal": "buy",
                "score": 0.8712,
                "strategy": "rsi_reversion",
                "last_close": 0.0958,
                "rsi": 28.4,
            },
        )
    )
    assert text == (
        "🟢 <b>Buy signal</b> ETH/BTC 5m · score +0.87 (rsi_reversion)\nlast 0.0958 · RSI 28"
    )


def test_dynamic_values_are_escaped_and_missing_numbers_left_out() -> None:
    text = render(
        Event(
            type=EventType.SCAN_SIGNAL,
            data={"symbol": "<B&D>", "signal": "sell", "strategy": "a<b", "score": "nan"},
        )
    )
    assert text == "🔴 <b>Sell signal</b> &lt;B&amp;D&gt; (a&lt;b)"


def test_scan_signals_are_their_own_group_on_for_traders_off_for_viewers() -> None:
    assert GROUP_BY_EVENT[EventType.SCAN_SIGNAL] == "scan"
    assert effective_levels(Role.TRADER, {})["scan"] == "on"
    assert effective_levels(Role.ADMIN, {})["scan"] == "on"
    assert effective_levels(Role.VIEWER, {})["scan"] == "off"
    assert effective_levels(Role.VIEWER, {"scan": "silent"})["scan"] == "silent"
    assert effective_levels(Role.VIEWER, {})["fills"] == "on"
