"""Charts as PNG bytes: candles with overlays, and a backtest's equity with its drawdown.

These are pure functions of their inputs, sized for a phone: 10×6 in at 150 dpi, fonts of
14 pt or more, a dark high-contrast style and a tight bounding box. Everything happens in
memory, on an Agg canvas of each figure's own: figures are built as plain
``matplotlib.figure.Figure`` objects, never registered with pyplot, so there is no global
backend to select and no figure registry to leak into; a figure is released (its canvas
and renderer buffers dropped) before the function returns.

mplfinance draws the candles (in its "external axes" mode, onto our axes); the overlays,
volume and RSI are drawn here, which is several times faster than mplfinance's own
panels. Matplotlib is still not thread-safe (``rcParams`` are process state, and mplfinance
saves and restores them around every call), so rendering is serialised by the lock below:
the one module-level object here, because the state it guards is module-level too. Async
code goes through :class:`tradedeck.charts.service.ChartService`, which renders in one
worker thread off the event loop.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, cast

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.image as mimage
import mplfinance as mpf
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from tradedeck.charts import overlays as ind
from tradedeck.charts.overlays import Overlays

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
Times = Sequence[datetime] | npt.NDArray[np.int64] | pd.DatetimeIndex

SIZE_INCHES: Final = (10.0, 6.0)
DPI: Final = 150
MAX_CANDLES: Final = 1000
MIN_FONT_PT: Final = 14
TITLE_PT: Final = 18
# zlib level 1: a third of the encoding time of the default for a PNG ~1.4x larger.
PNG_COMPRESS_LEVEL: Final = 1
PAD_PX: Final = round(0.15 * DPI)

BACKGROUND: Final = "#131722"
PANEL: Final = "#161a25"
GRID: Final = "#2a2e39"
TEXT: Final = "#e6e6e6"
UP: Final = "#26a69a"
DOWN: Final = "#ef5350"
LINE_COLORS: Final = ("#ffd54f", "#42a5f5", "#ff8a65", "#ce93d8", "#80cbc4", "#f48fb1")
BAND: Final = "#90a4ae"
RSI_COLOR: Final = "#b388ff"
EQUITY: Final = "#42a5f5"

_RC: Final[dict[str, Any]] = {
    "font.size": MIN_FONT_PT,
    "axes.labelsize": MIN_FONT_PT,
    "axes.titlesize": TITLE_PT,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "axes.facecolor": PANEL,
    "axes.edgecolor": GRID,
    "axes.labelcolor": TEXT,
    "axes.titlecolor": TEXT,
    "axes.grid": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
    "text.color": TEXT,
    "figure.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "legend.facecolor": PANEL,
    "legend.edgecolor": GRID,
    "legend.framealpha": 0.85,
    "lines.linewidth": 2.0,
    "axes.formatter.useoffset": False,
}
_STYLE: Final = mpf.make_mpf_style(
    base_mpf_style="nightclouds",
    marketcolors=mpf.make_marketcolors(
        up=UP, down=DOWN, edge="inherit", wick="inherit", volume="in", alpha=1.0
    ),
    facecolor=PANEL,
    figcolor=BACKGROUND,
    gridcolor=GRID,
    rc=_RC,
)
# The background as one RGBA pixel read as a 32-bit word, to find the margins in one pass.
_BACKGROUND_PIXEL: Final = np.array(
    [round(c * 255) for c in mcolors.to_rgba(BACKGROUND)], dtype=np.uint8
).view(np.uint32)[0]
_MATPLOTLIB: Final = threading.Lock()


@contextmanager
def _figure(height_ratios: Sequence[float]) -> Iterator[tuple[Figure, list[Axes]]]:
    """A phone-sized figure on its own Agg canvas, with stacked panels sharing the x axis,
    used under the matplotlib lock and released afterwards."""
    with _MATPLOTLIB, mpl.rc_context(cast(Any, _RC)):
        fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
        FigureCanvasAgg(fig)
        try:
            grid = fig.add_gridspec(len(height_ratios), 1, height_ratios=height_ratios, hspace=0.06)
            axes: list[Axes] = []
            for row in range(len(height_ratios)):
                ax = fig.add_subplot(grid[row], sharex=axes[0] if axes else None)
                ax.set_axisbelow(True)
                axes.append(ax)
            for ax in axes[:-1]:
                ax.tick_params(labelbottom=False)
            yield fig, axes
        finally:
            # The canvas holds the rendered RGBA buffer (~5 MB); drop it now rather than
            # whenever the garbage collector gets to the figure's reference cycles.
            fig.canvas = None  # type: ignore[assignment]


def _png(fig: Figure) -> bytes:
    """Draw once and cut the tight bounding box from the pixels: everything that is not
    background, plus a margin. (``savefig(bbox_inches="tight")`` draws the whole figure
    twice to measure it first; this is the same crop at half the cost.)"""
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    content = rgba.view(np.uint32)[:, :, 0] != _BACKGROUND_PIXEL
    rgb = rgba[:, :, :3]
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size and cols.size:
        height, width = content.shape
        rgb = rgb[
            max(int(rows[0]) - PAD_PX, 0) : min(int(rows[-1]) + 1 + PAD_PX, height),
            max(int(cols[0]) - PAD_PX, 0) : min(int(cols[-1]) + 1 + PAD_PX, width),
        ]
    buffer = io.BytesIO()
    try:
        mimage.imsave(
            buffer,
            np.ascontiguousarray(rgb),
            format="png",
            pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL},
        )
        return buffer.getvalue()
    finally:
        buffer.close()


def check_frame(frame: pd.DataFrame) -> None:
    """Refuse what cannot be charted, with the reason (a programming error, not user input)."""
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in frame.columns]
    if missing:
        raise ValueError(f"a candle frame needs columns {', '.join(missing)}")
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValueError("a candle frame needs a UTC DatetimeIndex")
    if len(frame) < 2:
        raise ValueError(f"a chart needs at least 2 candles, got {len(frame)}")
    if len(frame) > MAX_CANDLES:
        raise ValueError(f"a chart shows at most {MAX_CANDLES} candles, got {len(frame)}")


def _flags(flags: BoolArray | None, length: int) -> BoolArray | None:
    if flags is None:
        return None
    array = np.asarray(flags, dtype=np.bool_)
    if array.shape != (length,):
        raise ValueError(f"markers need one flag per candle ({length}), got {array.shape}")
    return array if array.any() else None


def candle_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    overlays: Overlays | None = None,
    entries: BoolArray | None = None,
    exits: BoolArray | None = None,
) -> bytes:
    """A candlestick chart of ``frame`` (the shape of ``strategies.base.candle_frame``).

    ``entries``/``exits`` (one flag per candle, like ``Signals.entry``/``Signals.exit``)
    mark buys under the candle and sells above it. Returns PNG bytes.
    """
    check_frame(frame)
    layers = overlays if overlays is not None else Overlays()
    for column in layers.columns:
        if column not in frame.columns:
            raise ValueError(f"no column {column!r} in the frame to draw")
    buys = _flags(entries, len(frame))
    sells = _flags(exits, len(frame))
    # mplfinance wants a naive index; the axis labels read UTC.
    data = frame[["open", "high", "low", "close", "volume"]].copy()
    data.index = pd.DatetimeIndex(frame.index).tz_convert("UTC").tz_localize(None).rename("time")
    close = ind.closes(frame)
    rsi = ind.rsi(close, layers.rsi) if layers.rsi is not None else None
    show_rsi = rsi is not None and ind.has_values(rsi)
    ratios = [4.0] + [1.0] * layers.volume + [1.3] * show_rsi
    x = np.arange(len(data), dtype=np.float64)

    with _figure(ratios) as (fig, axes):
        price = axes[0]
        mpf.plot(
            data,
            ax=price,
            type="candle",
            style=_STYLE,
            datetime_format=_date_format(data.index),
            xrotation=0,
            ylabel="",
            warn_too_much_data=MAX_CANDLES + 1,
            update_width_config={"candle_width": 0.7, "candle_linewidth": 1.0},
        )
        colors = iter(LINE_COLORS * 3)
        for period in layers.sma:
            _line(price, x, ind.sma(close, period), f"SMA {period}", next(colors))
        for period in layers.ema:
            _line(price, x, ind.ema(close, period), f"EMA {period}", next(colors), "--")
        for column in layers.columns:
            values = np.asarray(frame[column].to_numpy(dtype=np.float64), dtype=np.float64)
            _line(price, x, values, column, next(colors))
        if layers.bollinger is not None:
            upper, _, lower = ind.bollinger(close, layers.bollinger)
            if ind.has_values(upper):
                _line(price, x, upper, f"BB {layers.bollinger} 2σ", BAND, ":")
                _line(price, x, lower, "", BAND, ":")
                price.fill_between(
                    x, upper, lower, where=np.isfinite(upper), color=BAND, alpha=0.10, lw=0
                )
        if buys is not None:
            low = data["low"].to_numpy(dtype=np.float64)
            price.scatter(x[buys], low[buys] * 0.998, marker="^", s=160, color=UP, zorder=5)
        if sells is not None:
            high = data["high"].to_numpy(dtype=np.float64)
            price.scatter(x[sells], high[sells] * 1.002, marker="v", s=160, color=DOWN, zorder=5)
        price.set_title(title, loc="left", fontsize=TITLE_PT, pad=10)
        price.yaxis.set_major_locator(MaxNLocator(nbins=6))
        handles = [h for h in price.get_lines() if not str(h.get_label()).startswith("_")]
        if handles:
            price.legend(
                handles=handles,
                loc="lower right",
                bbox_to_anchor=(1.0, 1.0),
                ncols=min(len(handles), 4),
                frameon=False,
                borderaxespad=0.1,
                handlelength=1.5,
                columnspacing=1.0,
            )
        panel = 1
        if layers.volume:
            _volume(axes[panel], x, data)
            panel += 1
        if show_rsi and rsi is not None:
            ax = axes[panel]
            ax.plot(x, rsi, color=RSI_COLOR, lw=2.0)
            for level in (ind.RSI_OVERSOLD, ind.RSI_OVERBOUGHT):
                ax.axhline(level, color=BAND, lw=1.2, ls="--")
            ax.set_ylim(0, 100)
            ax.set_yticks([ind.RSI_OVERSOLD, ind.RSI_OVERBOUGHT])
            ax.set_ylabel(f"RSI {layers.rsi}")
        price.set_xlim(-0.8, len(data) - 0.2)
        axes[-1].xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        return _png(fig)


def _line(
    ax: Axes, x: FloatArray, values: FloatArray, label: str, color: str, style: str = "-"
) -> None:
    """A line, unless the data is too short for the indicator to have any value."""
    if ind.has_values(values):
        ax.plot(x, values, color=color, ls=style, lw=2.0, label=label or "_nolegend_")


def _volume(ax: Axes, x: FloatArray, data: pd.DataFrame) -> None:
    """Volume bars coloured like their candles: one collection, not a patch per bar."""
    volume = data["volume"].to_numpy(dtype=np.float64)
    rising = data["close"].to_numpy() >= data["open"].to_numpy()
    half = 0.35
    verts = np.empty((len(x), 4, 2))
    verts[:, :, 0] = np.stack([x - half, x - half, x + half, x + half], axis=1)
    verts[:, :, 1] = np.stack([np.zeros_like(volume), volume, volume, np.zeros_like(volume)], 1)
    colors = np.where(rising, UP, DOWN)
    ax.add_collection(PolyCollection(list(verts), facecolors=colors, edgecolors="none"))
    top = float(np.nanmax(volume)) if volume.size else 0.0
    ax.set_ylim(0, top * 1.1 if top > 0 else 1.0)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=2))
    ax.yaxis.set_major_formatter(FuncFormatter(_short_number))
    ax.set_ylabel("Vol")


def _short_number(value: float, _: int | None = None) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _date_format(index: pd.DatetimeIndex) -> str:
    span = index[-1] - index[0]
    if span <= pd.Timedelta(days=1):
        return "%H:%M"
    if span <= pd.Timedelta(days=20):
        return "%d %b %H:%M"
    return "%d %b %Y"


def _times(times: Times, length: int) -> pd.DatetimeIndex:
    if isinstance(times, np.ndarray):
        if times.dtype.kind not in "iu":
            raise ValueError(f"times as an array must be int64 epoch ms, got {times.dtype}")
        index = pd.DatetimeIndex(pd.to_datetime(times.astype(np.int64), unit="ms", utc=True))
    else:
        stamps = list(times)
        if any(isinstance(t, datetime) and t.tzinfo is None for t in stamps):
            raise ValueError("times must be timezone-aware (UTC)")
        index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True))
    if len(index) != length:
        raise ValueError(f"{len(index)} times for {length} equity values")
    return index


def drawdown(equity: FloatArray) -> FloatArray:
    """Drawdown from the running peak, as a percentage (0 at a peak, negative below)."""
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(peak > 0, (equity / peak - 1.0) * 100.0, 0.0)
    return np.asarray(result, dtype=np.float64)


def equity_chart(
    times: Times, equity: Sequence[Decimal | float] | FloatArray, *, title: str
) -> bytes:
    """A backtest's equity curve over its drawdown panel. Returns PNG bytes.

    ``times`` are UTC datetimes or int64 epoch milliseconds, one per equity value.
    """
    values = np.asarray([float(v) for v in equity], dtype=np.float64)
    if values.shape[0] < 2:
        raise ValueError(f"an equity chart needs at least 2 points, got {values.shape[0]}")
    if not np.isfinite(values).all():
        raise ValueError("equity values must be finite numbers")
    index = _times(times, values.shape[0]).tz_convert("UTC").tz_localize(None)
    x = mdates.date2num(index.to_pydatetime())  # type: ignore[no-untyped-call]
    dd = drawdown(values)
    total = (values[-1] / values[0] - 1.0) * 100.0 if values[0] else 0.0
    with _figure((3.0, 1.0)) as (fig, (top, bottom)):
        top.plot(x, values, color=EQUITY, lw=2.2, label=f"Equity {total:+.2f} %")
        low, high = float(values.min()), float(values.max())
        floor = low - (high - low) * 0.05 if high > low else low * 0.99
        top.set_ylim(floor, high + (high - low) * 0.05 if high > low else high * 1.01)
        top.fill_between(x, values, floor, color=EQUITY, alpha=0.12, lw=0)
        top.set_title(title, loc="left", fontsize=TITLE_PT, pad=10)
        top.legend(loc="upper left")
        top.yaxis.set_major_locator(MaxNLocator(nbins=6))
        bottom.fill_between(x, dd, 0.0, color=DOWN, alpha=0.45, lw=0)
        bottom.plot(x, dd, color=DOWN, lw=1.6, label=f"Drawdown, max {dd.min():.2f} %")
        bottom.set_ylabel("DD %")
        bottom.legend(loc="lower left")
        bottom.yaxis.set_major_locator(MaxNLocator(nbins=3))
        bottom.set_xlim(x[0], x[-1])
        locator = mdates.AutoDateLocator(minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
        bottom.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        bottom.xaxis.set_major_formatter(formatter)
        return _png(fig)
