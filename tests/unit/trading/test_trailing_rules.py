"""Reading ``/trail`` arguments and moving a trailing stop through candles, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput
from tradedeck.trading.trailing_rules import (
    Extremes,
    Guards,
    Step,
    TrailingStop,
    TrailSpec,
    best,
    follow,
    improves,
    new_extremes,
    parse_command,
    parse_trail,
    stop_level,
)

OPEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USAGE_TEXT = (
    "usage: /trail SYMBOL PERCENT [AMOUNT], e.g. /trail ETH/BTC 3% or /trail ETH/BTC 3% 0.5"
)


def candle(close: str, low: str, high: str, minutes: int = 0) -> Candle:
    return Candle(
        "ETH/BTC",
        "1m",
        OPEN + timedelta(minutes=minutes),
        Decimal(close),
        Decimal(high),
        Decimal(low),
        Decimal(close),
        Decimal(1),
    )


@pytest.mark.parametrize(
    ("text", "percent"),
    [("3%", "3"), ("3", "3"), (" 2.5 % ", "2.5"), (".5", "0.5"), ("49.99", "49.99")],
)
def test_a_trail_is_a_percentage(text: str, percent: str) -> None:
    assert parse_trail(text) == Decimal(percent)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("abc", "the trail must be a percentage such as 3% or 2.5, got 'abc'"),
        ("-3%", "the trail must be a percentage such as 3% or 2.5, got '-3%'"),
        ("3%%", "the trail must be a percentage such as 3% or 2.5, got '3%%'"),
        ("1e1", "the trail must be a percentage such as 3% or 2.5, got '1e1'"),
        ("%", "the trail must be a percentage such as 3% or 2.5, got '%'"),
        ("0", "the trail must be more than 0% and less than 50%, got 0%"),
        ("50%", "the trail must be more than 0% and less than 50%, got 50%"),
        ("75.5", "the trail must be more than 0% and less than 50%, got 75.5%"),
    ],
)
def test_a_bad_trail_is_refused_with_a_reason(text: str, detail: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_trail(text)
    assert (refused.value.code, refused.value.detail) == ("invalid_trail", detail)


def test_the_command_takes_a_symbol_a_trail_and_maybe_an_amount() -> None:
    assert parse_command("eth/btc 3%") == TrailSpec("ETH/BTC", Decimal(3))
    assert parse_command(" ETH/BTC  2.5  0.5 ") == TrailSpec(
        "ETH/BTC", Decimal("2.5"), Decimal("0.5")
    )


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        ("", "invalid_trailing_stop", USAGE_TEXT),
        ("ETH/BTC", "invalid_trailing_stop", USAGE_TEXT),
        ("ETH/BTC 3% 0.5 more", "invalid_trailing_stop", USAGE_TEXT),
        ("ETH/BTC 3% -1", "invalid_amount", "the amount must be a positive number, got '-1'"),
        ("ETH/BTC 3% 0", "invalid_amount", "the amount must be greater than zero"),
        ("ETHBTC 3%", "invalid_symbol", "symbol must look like ETH/BTC, got 'ETHBTC'"),
    ],
)
def test_a_bad_command_is_refused_with_a_reason(text: str, code: str, detail: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_command(text)
    assert (refused.value.code, refused.value.detail) == (code, detail)


def test_the_level_is_the_trail_below_the_peak_in_exact_decimals() -> None:
    assert stop_level(Decimal("0.05"), Decimal(3)) == Decimal("0.0485")
    assert stop_level(Decimal("0.1"), Decimal("0.1")) == Decimal("0.0999")
    stop = TrailingStop(1, 7, "ETH/BTC", Decimal(10), None, Decimal("30000"), OPEN)
    assert (stop.level, stop.status.value) == (Decimal("27000"), "active")
    fired = TrailingStop(1, 7, "ETH/BTC", Decimal(10), None, Decimal("1"), OPEN, triggered_at=OPEN)
    assert fired.status.value == "triggered"


def test_the_peak_rises_with_highs_and_the_stop_holds_above_the_level() -> None:
    trail = Decimal(10)
    step = follow(Decimal(100), trail, Decimal(104), Extremes(Decimal(110), Decimal(99)))
    assert step == Step(Decimal(110))  # 99 is above 90, the level of the peak before
    step = follow(step.peak, trail, Decimal(100), Extremes(Decimal(105), Decimal("99.1")))
    assert step == Step(Decimal(110))  # the level of 110 is 99: not reached


def test_a_low_through_the_level_triggers_at_the_low_and_a_close_at_the_close() -> None:
    trail = Decimal(10)
    assert follow(Decimal(110), trail, Decimal(100), Extremes(None, Decimal(99))) == Step(
        Decimal(110), Decimal(99)
    )
    assert follow(Decimal(110), trail, Decimal("98.5"), Extremes(None, Decimal(97))) == Step(
        Decimal(110), Decimal("98.5")
    )


def test_a_candle_that_rose_then_closed_below_the_new_level_triggers() -> None:
    # The high comes before the close, so the close is judged against the risen peak;
    # the low is not (it may have come before the high).
    step = follow(Decimal(100), Decimal(10), Decimal(108), Extremes(Decimal(125), Decimal(95)))
    assert step == Step(Decimal(125), Decimal(108))


def test_a_candle_seen_again_only_tells_what_moved_since() -> None:
    first = candle("100", low="95", high="101")
    assert new_extremes(first, candle("99", low="95", high="101")) == Extremes(None, None)
    assert new_extremes(first, candle("99", low="94", high="102")) == Extremes(
        Decimal(102), Decimal(94)
    )
    assert new_extremes(first, candle("99", low="90", high="99", minutes=1)) == Extremes(
        Decimal(99), Decimal(90)
    )
    assert new_extremes(candle("99", low="90", high="99", minutes=1), first) is None
    assert new_extremes(None, first) == Extremes(None, None)  # just loaded: the close only


def test_a_stop_set_mid_candle_ignores_the_low_from_before() -> None:
    seen = candle("100", low="80", high="120")  # the stop is set at 100
    fresh = new_extremes(seen, candle("101", low="80", high="120"))
    assert fresh is not None
    assert follow(Decimal(100), Decimal(10), Decimal(101), fresh) == Step(Decimal(101))


# -- a perpetual short's stop: the mirror ------------------------------------------------
def test_a_shorts_level_is_the_trail_above_its_low() -> None:
    assert stop_level(Decimal(100), Decimal(10), Guards.SHORT) == Decimal(110)
    stop = TrailingStop(
        1, 7, "BTC/USDT", Decimal(2), None, Decimal(30000), OPEN, guards=Guards.SHORT
    )
    assert stop.level == Decimal(30600)
    assert improves(Guards.SHORT, Decimal(99), Decimal(100))
    assert not improves(Guards.SHORT, Decimal(101), Decimal(100))
    assert best(Guards.SHORT, Decimal(100), Decimal(99)) == Decimal(99)
    assert best(Guards.LONG, Decimal(100), Decimal(99)) == Decimal(100)


def test_a_shorts_low_falls_with_lows_and_a_high_through_the_level_buys_back() -> None:
    trail, short = Decimal(10), Guards.SHORT
    step = follow(Decimal(100), trail, Decimal(96), Extremes(Decimal(109), Decimal(90)), short)
    assert step == Step(Decimal(90))  # 109 is below 110, the level of the low before
    assert follow(step.peak, trail, Decimal(95), Extremes(Decimal(99), None), short) == Step(
        Decimal(90),
        Decimal(99),  # the level of 90 is 99: the high reached it
    )
    assert follow(Decimal(90), trail, Decimal(100), Extremes(None, None), short) == Step(
        Decimal(90),
        Decimal(100),  # the close went through: it buys at the close
    )


def test_a_candle_that_fell_then_closed_above_the_new_level_buys_back() -> None:
    # The low comes before the close: the close is judged against the lowered level.
    step = follow(
        Decimal(100), Decimal(10), Decimal(90), Extremes(Decimal(105), Decimal(80)), Guards.SHORT
    )
    assert step == Step(Decimal(80), Decimal(90))
