"""Replay recorded candles as if the markets were live, so the platform runs fully offline.

Several markets play at once on one accelerated clock. Each series loops forever, and each
lap is shifted forward by the series' length, so consumers (charts, stop triggers, PnL)
see time only ever moving forward and never need to know the data is a recording.
Everything hangs off an injectable clock, which makes the feed deterministic in tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Final

import numpy as np

from tradedeck.domain.candles import Candle
from tradedeck.marketdata.loaders import CandleSeries, IntArray
from tradedeck.ops.waiting import wait_or_stop

DEFAULT_MAX_PER_ADVANCE: Final = 1000


class _Track:
    """One market's position in its looping series.

    Candles are numbered across laps (``n = lap * len + i``) so "how far along" is a single
    integer: the cursor is the number of candles already emitted or skipped.
    """

    __slots__ = ("close_offsets", "cursor", "lap_ms", "last", "series")

    def __init__(self, series: CandleSeries) -> None:
        self.series = series
        # When each candle closes, in ms after the start of a lap.
        self.close_offsets: IntArray = series.ts - series.ts[0] + series.timeframe_ms
        # A lap ends when its last candle closes, so the next lap starts one candle later.
        self.lap_ms = int(self.close_offsets[-1])
        self.cursor = 0
        self.last: Candle | None = None

    def closed_by(self, replay_ms: int) -> int:
        """How many candles, counted over all laps, have closed by ``replay_ms``."""
        laps, into_lap = divmod(max(replay_ms, 0), self.lap_ms)
        in_lap = int(np.searchsorted(self.close_offsets, into_lap, side="right"))
        return laps * len(self.series) + in_lap

    def candle_at(self, n: int) -> Candle:
        lap, i = divmod(n, len(self.series))
        candle = self.series.candle(i)
        if lap == 0:
            return candle
        shift = timedelta(milliseconds=lap * self.lap_ms)
        return dataclasses.replace(candle, opened_at=candle.opened_at + shift)

    def take(self, upto: int, cap: int) -> list[Candle]:
        """Emit candles up to number ``upto``; beyond ``cap``, only the newest are kept.

        Skipping rather than queueing keeps the feed on its clock after a long pause, as a
        live exchange would: the prices are current at once instead of many calls later.
        """
        start = max(self.cursor, upto - cap)
        emitted = [self.candle_at(n) for n in range(start, upto)]
        self.cursor = max(self.cursor, upto)
        if emitted:
            self.last = emitted[-1]
        return emitted

    def emit(self, n: int) -> Candle:
        self.last = self.candle_at(n)
        self.cursor = max(self.cursor, n + 1)
        return self.last


class ReplayFeed:
    """Plays several candle series at once, ``speed`` market seconds per clock second.

    At replay time ``t`` seconds (``(clock() - start) * speed + start_offset``) each series is
    at ``t`` modulo its own duration. Candles that closed before ``start_offset`` count as
    history and are never emitted; use :meth:`prime` to get a price for every market at once.
    """

    def __init__(
        self,
        series: Sequence[CandleSeries],
        *,
        speed: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        start_offset: float = 0.0,
        max_per_advance: int = DEFAULT_MAX_PER_ADVANCE,
    ) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        if not math.isfinite(start_offset):
            raise ValueError(f"start_offset must be finite, got {start_offset!r}")
        if max_per_advance < 1:
            raise ValueError(f"max_per_advance must be at least 1, got {max_per_advance!r}")
        self._tracks = _make_tracks(series)
        self._speed = speed
        self._clock = clock
        self._start_offset = start_offset
        self._max_per_advance = max_per_advance
        self._started = clock()
        history_ms = round(start_offset * 1000)
        for track in self._tracks.values():
            track.cursor = track.closed_by(history_ms)

    @staticmethod
    def history(series: CandleSeries, replay_seconds: float, count: int) -> list[Candle]:
        """The last ``count`` candles closed by ``replay_seconds``, oldest first.

        Times are lap-shifted exactly as a feed started at ``start_offset=replay_seconds``
        emits them, so charts can be back-filled seamlessly before the first live candle.
        """
        if len(series) == 0 or count <= 0:
            return []
        track = _Track(series)
        upto = track.closed_by(round(replay_seconds * 1000))
        return [track.candle_at(n) for n in range(max(upto - count, 0), upto)]

    @staticmethod
    def warm_start(series: Sequence[CandleSeries], count: int) -> float:
        """The earliest replay time, in seconds, by which every series has closed ``count``
        candles (all of its first lap, if it has fewer).

        Started there, a fresh replay looks like a market that has been running: the
        :meth:`history` of every market is ``count`` candles long at once, whatever its
        timeframe, because the clock is shared and the longest timeframe sets the pace.
        """
        if count <= 0:
            return 0.0
        offsets = [
            int(_Track(one).close_offsets[min(count, len(one)) - 1]) for one in series if len(one)
        ]
        return max(offsets, default=0) / 1000

    @property
    def symbols(self) -> list[str]:
        return list(self._tracks)

    def replay_seconds(self) -> float:
        """Seconds of market time played so far, ``start_offset`` included."""
        return (self._clock() - self._started) * self._speed + self._start_offset

    def advance(self) -> list[Candle]:
        """Candles that closed since the previous call, market by market, oldest first."""
        now = self._replay_ms()
        emitted: list[Candle] = []
        for track in self._tracks.values():
            emitted.extend(track.take(track.closed_by(now), self._max_per_advance))
        return emitted

    def prime(self) -> list[Candle]:
        """One candle per market not yet seen, so every market has a price right away.

        That is the newest closed candle, or the first candle when none has closed yet
        (emitted early; :meth:`advance` will not repeat it).
        """
        primed: list[Candle] = []
        for track in self._tracks.values():
            if track.last is None:
                primed.append(track.emit(max(track.cursor - 1, 0)))
        return primed

    def current(self, symbol: str) -> Candle | None:
        """The last candle emitted for ``symbol``; None before the first or if unknown."""
        track = self._tracks.get(symbol)
        return track.last if track is not None else None

    async def run(
        self,
        on_candles: Callable[[list[Candle]], Awaitable[None]],
        *,
        interval: float = 0.25,
        stop: asyncio.Event,
    ) -> None:
        """Poll :meth:`advance` every ``interval`` seconds until ``stop`` is set.

        The callback is awaited before the next poll, so a slow consumer slows the polling
        instead of piling up; it is never called with an empty list. Its exceptions end the
        loop: a consumer that cannot keep up must not fail silently.
        """
        while not stop.is_set():
            candles = self.advance()
            if candles:
                await on_candles(candles)
            await wait_or_stop(stop, interval)

    def _replay_ms(self) -> int:
        return round(self.replay_seconds() * 1000)


def _make_tracks(series: Sequence[CandleSeries]) -> dict[str, _Track]:
    tracks: dict[str, _Track] = {}
    for one in series:
        if len(one) == 0:
            raise ValueError(f"series {one.symbol!r} has no candles")
        if one.symbol in tracks:
            raise ValueError(f"series {one.symbol!r} is given twice")
        tracks[one.symbol] = _Track(one)
    return tracks
