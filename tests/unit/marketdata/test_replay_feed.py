import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradedeck.domain.candles import Candle
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.marketdata.replay import ReplayFeed

START = datetime(2022, 1, 1, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
STEP_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_series(symbol: str, n: int, timeframe: str = "1m", *, gap_after: int = -1) -> CandleSeries:
    """Candle i closes at 100 + i; an optional missing candle after index ``gap_after``."""
    offsets = np.arange(n, dtype=np.int64)
    if gap_after >= 0:
        offsets[gap_after + 1 :] += 1
    prices = np.arange(n, dtype=np.float64) + 100
    return CandleSeries(
        ts=START_MS + offsets * STEP_MS[timeframe],
        open=prices,
        high=prices,
        low=prices,
        close=prices,
        volume=np.ones(n),
        symbol=symbol,
        timeframe=timeframe,
    )


def closes(candles: list[Candle], symbol: str | None = None) -> list[Decimal]:
    return [c.close for c in candles if symbol is None or c.symbol == symbol]


def test_nothing_before_the_first_close() -> None:
    clock = FakeClock()
    feed = ReplayFeed([make_series("A/B", 10)], speed=60, clock=clock)

    assert feed.advance() == []
    clock.now += 0.99  # 59.4 replay seconds: the first 1m candle is still open
    assert feed.advance() == []
    assert feed.current("A/B") is None


def test_emits_each_closed_candle_once_in_order() -> None:
    clock = FakeClock()
    feed = ReplayFeed([make_series("A/B", 10)], speed=60, clock=clock)

    clock.now += 1  # one candle closed
    first = feed.advance()
    clock.now += 2.5  # two more closed, a third half-way
    second = feed.advance()

    assert closes(first) == [Decimal(100)]
    assert first[0].opened_at == START
    assert closes(second) == [Decimal(101), Decimal(102)]
    assert feed.advance() == []
    assert feed.current("A/B") == second[-1]


def test_markets_advance_on_their_own_timeframes() -> None:
    clock = FakeClock()
    feed = ReplayFeed(
        [make_series("ONE/M", 50, "1m"), make_series("FIVE/M", 50, "5m")], speed=300, clock=clock
    )

    clock.now += 2  # ten minutes of market time
    candles = feed.advance()

    assert len(closes(candles, "ONE/M")) == 10
    assert closes(candles, "FIVE/M") == [Decimal(100), Decimal(101)]
    assert [c.symbol for c in candles] == ["ONE/M"] * 10 + ["FIVE/M"] * 2  # grouped per market


def test_loops_with_ever_increasing_times() -> None:
    clock = FakeClock()
    feed = ReplayFeed([make_series("A/B", 3)], speed=60, clock=clock)
    emitted: list[Candle] = []

    for _ in range(10):
        clock.now += 1
        emitted += feed.advance()

    assert closes(emitted) == [Decimal(100 + i % 3) for i in range(10)]
    times = [c.opened_at for c in emitted]
    assert times == [START + timedelta(minutes=i) for i in range(10)]


def test_lap_length_includes_gaps_and_the_last_candle() -> None:
    clock = FakeClock()
    # Candles at minutes 0, 1, 3 (minute 2 missing): one lap lasts four minutes.
    feed = ReplayFeed([make_series("A/B", 3, gap_after=1)], speed=60, clock=clock)

    clock.now += 8
    emitted = feed.advance()

    minutes = [int((c.opened_at - START).total_seconds() // 60) for c in emitted]
    assert minutes == [0, 1, 3, 4, 5, 7]


def test_each_series_loops_independently() -> None:
    clock = FakeClock()
    feed = ReplayFeed(
        [make_series("SHORT/X", 2), make_series("LONG/X", 100)], speed=60, clock=clock
    )

    clock.now += 5
    candles = feed.advance()

    assert closes(candles, "SHORT/X") == [Decimal(v) for v in (100, 101, 100, 101, 100)]
    assert closes(candles, "LONG/X") == [Decimal(v) for v in range(100, 105)]


def test_long_pause_is_capped_to_the_newest_candles() -> None:
    clock = FakeClock()
    feed = ReplayFeed([make_series("A/B", 50)], speed=60, clock=clock, max_per_advance=7)

    clock.now += 100  # 100 candles closed: two full laps
    burst = feed.advance()
    clock.now += 1
    after = feed.advance()

    assert len(burst) == 7
    assert burst[-1].opened_at == START + timedelta(minutes=99)  # caught up with the clock
    assert np.all(np.diff([c.opened_at.timestamp() for c in burst]) == 60)
    assert [c.opened_at for c in after] == [START + timedelta(minutes=100)]


def test_default_cap_is_a_thousand() -> None:
    clock = FakeClock()
    feed = ReplayFeed([make_series("A/B", 10)], speed=60, clock=clock)

    clock.now += 86_400  # a day away: 86,400 candles closed

    assert len(feed.advance()) == 1000


def test_prime_gives_every_market_a_price_at_once() -> None:
    clock = FakeClock()
    feed = ReplayFeed([make_series("A/B", 5), make_series("C/D", 5, "5m")], speed=60, clock=clock)

    primed = feed.prime()

    assert [(c.symbol, c.close) for c in primed] == [("A/B", Decimal(100)), ("C/D", Decimal(100))]
    assert feed.current("C/D") == primed[1]
    assert feed.prime() == []  # already priced
    clock.now += 2
    assert closes(feed.advance(), "A/B") == [Decimal(101)]  # candle 0 is not repeated


def test_start_offset_skips_history_and_prime_shows_the_latest_close() -> None:
    clock = FakeClock()
    feed = ReplayFeed([make_series("A/B", 10)], speed=60, clock=clock, start_offset=4 * 60 + 30)

    assert feed.advance() == []  # candles closed before the offset are history
    assert closes(feed.prime()) == [Decimal(103)]
    clock.now += 0.5
    assert closes(feed.advance()) == [Decimal(104)]
    assert feed.replay_seconds() == pytest.approx(300)


def test_history_matches_what_a_resumed_feed_continues_from() -> None:
    series = make_series("A/B", 4)
    offset = 9 * 60.0  # two laps and one candle

    history = ReplayFeed.history(series, offset, 3)
    clock = FakeClock()
    feed = ReplayFeed([series], speed=60, clock=clock, start_offset=offset)
    clock.now += 1

    assert [c.opened_at for c in history] == [START + timedelta(minutes=m) for m in (6, 7, 8)]
    assert closes(history) == [Decimal(102), Decimal(103), Decimal(100)]
    assert feed.advance()[0].opened_at == START + timedelta(minutes=9)
    assert ReplayFeed.history(series, 30, 5) == []


def test_current_of_an_unknown_symbol_is_none() -> None:
    feed = ReplayFeed([make_series("A/B", 3)], clock=FakeClock())

    assert feed.current("X/Y") is None
    assert feed.symbols == ["A/B"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"speed": 0}, "speed"),
        ({"speed": float("nan")}, "speed"),
        ({"start_offset": float("inf")}, "start_offset"),
        ({"max_per_advance": 0}, "max_per_advance"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplayFeed([make_series("A/B", 3)], clock=FakeClock(), **kwargs)  # type: ignore[arg-type]


def test_bad_series_are_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        ReplayFeed([make_series("A/B", 3), make_series("A/B", 4)], clock=FakeClock())
    with pytest.raises(ValueError, match="no candles"):
        ReplayFeed([make_series("A/B", 3).slice(0, 0)], clock=FakeClock())


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=40),
    lengths=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=3),
)
def test_times_never_go_backwards_and_no_candle_is_lost(
    steps: list[float], lengths: list[int]
) -> None:
    clock = FakeClock()
    series = [make_series(f"S{i}/X", n) for i, n in enumerate(lengths)]
    feed = ReplayFeed(series, speed=60, clock=clock)
    emitted: list[Candle] = []
    for step in steps:
        clock.now += step
        emitted += feed.advance()

    for one in series:
        mine = [c for c in emitted if c.symbol == one.symbol]
        minutes = [(c.opened_at - START) / timedelta(minutes=1) for c in mine]
        assert minutes == list(range(len(mine)))  # contiguous, strictly increasing
        assert closes(mine) == [Decimal(100 + i % len(one)) for i in range(len(mine))]


async def test_run_delivers_batches_until_stopped() -> None:
    ticks = iter(range(1000))
    feed = ReplayFeed([make_series("A/B", 5)], speed=60, clock=lambda: float(next(ticks)))
    stop = asyncio.Event()
    batches: list[list[Candle]] = []

    async def on_candles(candles: list[Candle]) -> None:
        batches.append(candles)
        if len(batches) == 3:
            stop.set()

    await asyncio.wait_for(feed.run(on_candles, interval=0.001, stop=stop), timeout=5)

    assert [closes(b) for b in batches] == [[Decimal(100)], [Decimal(101)], [Decimal(102)]]


async def test_run_returns_at_once_when_already_stopped() -> None:
    feed = ReplayFeed([make_series("A/B", 5)], clock=FakeClock())
    stop = asyncio.Event()
    stop.set()

    async def on_candles(candles: list[Candle]) -> None:
        raise AssertionError("not called")

    await asyncio.wait_for(feed.run(on_candles, stop=stop), timeout=1)


def test_replays_the_bundled_markets() -> None:
    catalog = load_bundled_catalog()
    clock = FakeClock()
    feed = ReplayFeed([load_bundled_series(bm) for bm in catalog], clock=clock)

    primed = feed.prime()
    clock.now += 1  # 300 s of market time
    candles = feed.advance()

    assert len(primed) == 12
    per_symbol = {bm.symbol: len(closes(candles, bm.symbol)) for bm in catalog}
    assert per_symbol["BTC/USDT"] == 4  # 5 closed, the first was primed
    assert per_symbol["BTC/USD"] == 0
    assert all(per_symbol[s] == 0 for s in per_symbol if s.endswith("/BTC"))
    clock.now += 1
    assert all(n == 1 for s, n in _count(feed.advance()).items() if s.endswith("/BTC"))


def _count(candles: list[Candle]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for candle in candles:
        counts[candle.symbol] = counts.get(candle.symbol, 0) + 1
    return counts


def test_a_warm_start_gives_every_timeframe_its_history_at_once() -> None:
    # The longest timeframe sets the pace: 3 hourly candles close at 3 h replay time.
    series = [make_series("M/1", 500, "1m"), make_series("H/1", 10, "1h")]
    offset = ReplayFeed.warm_start(series, 3)
    assert offset == 3 * 3600

    clock = FakeClock()
    feed = ReplayFeed(series, speed=60, clock=clock, start_offset=offset)
    minutes, hours = (ReplayFeed.history(one, offset, 3) for one in series)
    assert closes(hours) == [Decimal(100), Decimal(101), Decimal(102)]
    assert closes(minutes) == [Decimal(277), Decimal(278), Decimal(279)]  # 180 closed
    primed = feed.prime()
    assert primed == [minutes[-1], hours[-1]]  # the newest history candle, not a new one
    clock.now += 1
    assert closes(feed.advance()) == [Decimal(280)]  # and on live from there


def test_a_warm_start_counts_candles_not_time_and_stops_at_a_short_series() -> None:
    gapped = make_series("G/1", 10, "1m", gap_after=1)  # candle 2 closes at minute 4
    assert ReplayFeed.warm_start([gapped], 3) == 4 * 60
    assert len(ReplayFeed.history(gapped, 4 * 60, 3)) == 3
    short = make_series("S/1", 2, "5m")
    assert ReplayFeed.warm_start([short], 3) == 10 * 60  # its whole first lap
    assert ReplayFeed.warm_start([short], 0) == 0.0
    assert ReplayFeed.warm_start([], 3) == 0.0


def test_a_warm_start_on_the_bundled_markets_keeps_every_lap_whole() -> None:
    series = [load_bundled_series(bm) for bm in load_bundled_catalog()]
    offset = ReplayFeed.warm_start(series, 400)

    assert offset == 400 * 3600  # BTC/USD's 1h candles set the pace
    for one in series:
        history = ReplayFeed.history(one, offset, 400)
        assert len(history) == 400, one.symbol
        # Still in the first lap: real, consecutive recorded candles, no seam of a loop.
        first = int(np.searchsorted(one.ts, int(history[0].opened_at.timestamp() * 1000)))
        assert [c.close for c in history] == [one.candle(first + k).close for k in range(400)]
