"""Candle files in, one checked in-memory shape out.

Candle files come from many sources (freqtrade feather dumps, exchange CSV exports,
CryptoDataDownload, ccxt JSON), each with its own quirks. Everything past this module sees
only a :class:`CandleSeries` that is sorted, free of duplicates and sane, so a bad file fails
here, naming the file and row, instead of turning into a wrong price somewhere later.

Values stay in numpy arrays (a 45k-row file loads in tens of milliseconds); Decimals are
made only for the candles someone actually looks at.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.feather as feather

from tradedeck.domain.candles import TIMEFRAME_SECONDS, Candle, ms_to_datetime
from tradedeck.domain.money import from_float

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Locate = Callable[[int], str]

VALUE_COLUMNS: Final = ("open", "high", "low", "close", "volume")
# First match wins: an explicit epoch column is more exact than a formatted date.
_TIME_COLUMNS: Final = ("timestamp", "unix", "open_time", "date", "datetime", "time", "ts")
_PRICE_COLUMNS: Final = ("open", "high", "low", "close")
_HEADER_SCAN_LINES: Final = 5
_SNIFF_BYTES: Final = 4096
_ARROW_MAGIC: Final = (b"ARROW1", b"FEA1")
_ARROW_SUFFIXES: Final = frozenset({".feather", ".arrow", ".ipc", ".fea"})
_CSV_SUFFIXES: Final = frozenset({".csv", ".txt"})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # noqa: DTZ001 - naive text times are UTC
_ONE_MS: Final = timedelta(milliseconds=1)
_TIMEFRAME_BY_MS: Final = {seconds * 1000: name for name, seconds in TIMEFRAME_SECONDS.items()}
_ARROW_UNIT_TO_MS: Final = {"s": (1000, 1), "ms": (1, 1), "us": (1, 1000), "ns": (1, 1_000_000)}
# CryptoDataDownload writes hours as "2019-10-17 09-AM".
_CDD_HOUR: Final = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2})-([AP]M)", re.IGNORECASE)
_NAIVE_ISO: Final = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?")
_EPOCH_NUMBER: Final = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")
# freqtrade names its files BASE_QUOTE-<timeframe>.
_SYMBOL_IN_NAME: Final = re.compile(r"([A-Z0-9]{2,16})_([A-Z0-9]{2,16})(?:-.*)?")
# Exact powers of ten as floats (10**22 is the largest one a float holds exactly).
_POW10: Final = np.array([float(10**k) for k in range(23)])
_SIGNIFICANT_DIGITS: Final = 15


class MarketDataError(ValueError):
    """A candle file cannot be trusted; the message names the file and, when known, the row."""


class _Problem(Exception):
    """What is wrong inside a file; :func:`load_candles` prefixes the file name."""


@dataclass(frozen=True, eq=False)
class CandleSeries:
    """One market's candles as columns, so indicators and replays never loop over objects.

    Construction enforces what every consumer assumes (equal lengths, ascending open times
    without duplicates, a known timeframe) and makes the arrays read-only, so a series can
    be cached and shared between tasks without defensive copies.
    """

    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    symbol: str
    timeframe: str

    def __post_init__(self) -> None:
        if self.timeframe not in TIMEFRAME_SECONDS:
            raise ValueError(
                f"unknown timeframe {self.timeframe!r}; expected one of "
                + ", ".join(TIMEFRAME_SECONDS)
            )
        ts = np.asarray(self.ts, dtype=np.int64)
        values = [np.asarray(getattr(self, name), dtype=np.float64) for name in VALUE_COLUMNS]
        if ts.ndim != 1 or any(v.shape != ts.shape for v in values):
            raise ValueError("ts, open, high, low, close and volume must be 1-D and equally long")
        order = _ascending_unique_order(ts)
        if order is not None:
            ts = ts[order]
            values = [v[order] for v in values]
        for name, array in zip(("ts", *VALUE_COLUMNS), (ts, *values), strict=True):
            view = array.view()  # read-only view: the caller's own array stays writable
            view.setflags(write=False)
            object.__setattr__(self, name, view)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @property
    def timeframe_ms(self) -> int:
        return TIMEFRAME_SECONDS[self.timeframe] * 1000

    def candle(self, i: int) -> Candle:
        """Materialize one row as a domain candle; Decimals are made here, on demand only."""
        return Candle(
            symbol=self.symbol,
            timeframe=self.timeframe,
            opened_at=ms_to_datetime(int(self.ts[i])),
            open=from_float(float(self.open[i])),
            high=from_float(float(self.high[i])),
            low=from_float(float(self.low[i])),
            close=from_float(float(self.close[i])),
            volume=from_float(float(self.volume[i])),
        )

    def slice(self, start: int | None, stop: int | None) -> CandleSeries:
        """Rows ``start:stop`` (Python slice rules) sharing memory with this series."""
        window = slice(start, stop)
        return CandleSeries(
            ts=self.ts[window],
            open=self.open[window],
            high=self.high[window],
            low=self.low[window],
            close=self.close[window],
            volume=self.volume[window],
            symbol=self.symbol,
            timeframe=self.timeframe,
        )


def load_candles(
    path: str | PathLike[str], *, symbol: str = "", timeframe: str = ""
) -> CandleSeries:
    """Load a feather, CSV (plain or CryptoDataDownload) or ccxt JSON candle file.

    The format is taken from the content first (Arrow magic bytes, a leading ``[``) and the
    extension second, so a mislabelled file is still read or refused for the right reason.
    ``symbol`` defaults to ``BASE/QUOTE`` read from a freqtrade-style name (``ETH_BTC-5m``)
    and ``timeframe`` to the median spacing of the candles. Missing files raise the usual
    ``OSError``; anything wrong with the content raises :class:`MarketDataError`.
    """
    file = Path(path)
    symbol = symbol or _symbol_from_name(file)
    try:
        reader = _reader_for(file)
        columns = reader(file, _base_asset(symbol))
        return _to_series(columns, symbol, timeframe)
    except _Problem as problem:
        raise MarketDataError(f"{file}: {problem}") from None


# --- format detection -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Columns:
    """Raw parsed columns in file order, with a way to name a row in error messages."""

    ts: IntArray
    values: dict[str, FloatArray]
    locate: Locate


_Reader = Callable[[Path, str], _Columns]


def _reader_for(file: Path) -> _Reader:
    with file.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    suffix = file.suffix.lower()
    if head.startswith(_ARROW_MAGIC):
        return _read_feather
    if suffix in _ARROW_SUFFIXES:
        raise _Problem(f"unknown format: a {suffix} file must be Arrow/feather but has no magic")
    if not head.strip():
        raise _Problem("empty file")
    if b"\x00" in head:
        raise _Problem("unknown format: binary content that is not Arrow/feather")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[") or suffix == ".json":
        return _read_json
    if suffix in _CSV_SUFFIXES:
        return _read_csv
    raise _Problem(f"unknown format: expected .feather, .csv or .json, got {suffix or 'none'!r}")


def _symbol_from_name(file: Path) -> str:
    match = _SYMBOL_IN_NAME.fullmatch(file.stem)
    return f"{match.group(1)}/{match.group(2)}" if match else ""


def _base_asset(symbol: str) -> str:
    return symbol.partition("/")[0].strip().lower()


def _normalize_name(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


# --- CSV --------------------------------------------------------------------------------


def _read_csv(file: Path, base: str) -> _Columns:
    """Plain CSV and the CryptoDataDownload variant (banner line, base-asset volume column)."""
    text = _read_text(file)
    rows = csv.reader(io.StringIO(text))
    try:
        header, header_line = _find_header(rows)
        names = _pick_columns(header, base, f"the header on line {header_line}")
        data = [row for row in rows if not _is_blank(row)]
    except csv.Error as exc:
        raise _Problem(f"line {rows.line_num}: broken CSV: {exc}") from None
    index = [header.index(name) for name in names]
    if not data:
        raise _Problem(f"no data rows after the header on line {header_line}")
    locate = _csv_line_locator(text, header_line)
    _require_width(data, max(index) + 1, locate)
    cells = [[row[i] for row in data] for i in index]
    return _Columns(
        ts=_times_from_strings(cells[0], names[0], locate),
        values={
            column: _floats_from_strings(strings, source, locate)
            for column, source, strings in zip(VALUE_COLUMNS, names[1:], cells[1:], strict=True)
        },
        locate=locate,
    )


def _read_text(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Problem(f"unknown format: not UTF-8 text (byte {exc.start})") from None


def _find_header(rows: CsvReader) -> tuple[list[str], int]:
    """Skip banner lines (CryptoDataDownload puts a URL above the header)."""
    for _ in range(_HEADER_SCAN_LINES):
        row = next(rows, None)
        if row is None:
            break
        names = [_normalize_name(cell) for cell in row]
        if set(names) & {*VALUE_COLUMNS, *_TIME_COLUMNS}:
            return names, rows.line_num
    raise _Problem(
        f"missing header: none of the first {rows.line_num} lines names the columns "
        "timestamp/date, open, high, low, close, volume"
    )


def _pick_columns(names: Sequence[str], base: str, where: str) -> list[str]:
    """Return the source column names for time, open, high, low, close and volume."""
    time_column = next((c for c in _TIME_COLUMNS if c in names), None)
    if time_column is None:
        raise _Problem(f"missing column: no timestamp/date/time column in {where}")
    for column in _PRICE_COLUMNS:
        if column not in names:
            raise _Problem(f"missing column {column!r} in {where}")
    return [time_column, *_PRICE_COLUMNS, _volume_column(names, base, where)]


def _volume_column(names: Sequence[str], base: str, where: str) -> str:
    """Prefer base-asset volume: CryptoDataDownload's plain ``volume`` is the quote volume."""
    if base and f"volume_{base}" in names:
        return f"volume_{base}"
    suffixed = [name for name in names if name.startswith("volume_")]
    if suffixed:
        return suffixed[0]  # CryptoDataDownload lists the base-asset volume first
    if "volume" in names:
        return "volume"
    raise _Problem(f"missing column 'volume' in {where}")


def _is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _require_width(data: list[list[str]], width: int, locate: Locate) -> None:
    short = next((k for k, row in enumerate(data) if len(row) < width), None)
    if short is not None:
        found = len(data[short])
        raise _Problem(f"{locate(short)}: expected at least {width} fields, got {found}")


def _csv_line_locator(text: str, header_line: int) -> Locate:
    """Find a data row's line only when an error needs it, keeping the happy path lean."""

    def locate(k: int) -> str:
        rows = csv.reader(io.StringIO(text))
        seen = -1
        for row in rows:
            if rows.line_num <= header_line or _is_blank(row):
                continue
            seen += 1
            if seen == k:
                return f"line {rows.line_num}"
        return f"data row {k + 1}"

    return locate


def _floats_from_strings(strings: list[str], column: str, locate: Locate) -> FloatArray:
    try:
        return np.array(strings, dtype=np.float64)
    except ValueError:
        pass
    for k, text in enumerate(strings):
        try:
            float(text)
        except ValueError:
            raise _Problem(
                f"{locate(k)}: unparsable number {text!r} in column {column!r}"
            ) from None
    raise _Problem(f"unparsable numbers in column {column!r}")


def _times_from_strings(strings: list[str], column: str, locate: Locate) -> IntArray:
    """Epoch numbers (s/ms/us/ns) or date strings (ISO, or CryptoDataDownload hours)."""
    if _EPOCH_NUMBER.fullmatch(strings[0].strip()):
        return _epoch_strings_to_ms(strings, column, locate)
    if all(map(_NAIVE_ISO.fullmatch, strings)):
        # numpy parses naive ISO text in C, ~30x faster than a Python loop; on an invalid
        # date (month 13) the loop below finds the row to name.
        with contextlib.suppress(ValueError):
            return np.array(strings, dtype="datetime64[ms]").astype(np.int64)
    result = np.empty(len(strings), dtype=np.int64)
    for k, text in enumerate(strings):
        try:
            result[k] = _parse_datetime_ms(text)
        except ValueError:
            raise _Problem(f"{locate(k)}: unparsable date {text!r} in column {column!r}") from None
    return result


def _epoch_strings_to_ms(strings: list[str], column: str, locate: Locate) -> IntArray:
    try:
        return _epoch_to_ms(np.array(strings, dtype=np.int64))
    except (ValueError, OverflowError):
        pass
    numbers = _floats_from_strings(strings, column, locate)
    _require_finite(numbers, column, locate)
    return _epoch_to_ms(numbers)


def _parse_datetime_ms(text: str) -> int:
    """Milliseconds since the epoch; a date without an offset is taken as UTC."""
    stripped = text.strip()
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        moment = _parse_cdd_hour(stripped)
    if moment.tzinfo is None:
        return (moment - _NAIVE_EPOCH) // _ONE_MS
    return (moment - _EPOCH) // _ONE_MS


def _parse_cdd_hour(text: str) -> datetime:
    """``2019-10-17 12-AM`` is midnight and ``12-PM`` noon, as on a 12-hour clock."""
    match = _CDD_HOUR.fullmatch(text)
    if match is None:
        raise ValueError(text)
    hour = int(match.group(2))
    if not 1 <= hour <= 12:
        raise ValueError(text)
    hour %= 12
    if match.group(3).upper() == "PM":
        hour += 12
    return datetime.fromisoformat(match.group(1)).replace(hour=hour)


# --- JSON -------------------------------------------------------------------------------


def _read_json(file: Path, base: str) -> _Columns:
    """ccxt ``fetch_ohlcv`` output: ``[[ms, open, high, low, close, volume], ...]``."""
    del base  # ccxt rows carry one volume, always in the base asset
    try:
        document = json.loads(file.read_bytes())
    except json.JSONDecodeError as exc:
        raise _Problem(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError:
        raise _Problem("unknown format: not UTF-8 text") from None
    if not isinstance(document, list):
        raise _Problem("expected a JSON array of [ms, open, high, low, close, volume] rows")
    if not document:
        raise _Problem("no candles: the JSON array is empty")

    def locate(k: int) -> str:
        return f"item {k}"

    for k, item in enumerate(document):
        _check_json_row(item, locate(k))
    try:
        values = {
            name: np.array([item[j] for item in document], dtype=np.float64)
            for j, name in enumerate(VALUE_COLUMNS, start=1)
        }
    except OverflowError:
        raise _Problem("a number is too large for a float") from None
    return _Columns(
        ts=_json_times([item[0] for item in document], locate), values=values, locate=locate
    )


def _json_times(stamps: list[int | float], locate: Locate) -> IntArray:
    """Integers stay integers: ns epochs do not fit a float's 53 bits."""
    if all(isinstance(stamp, int) for stamp in stamps):
        try:
            return _epoch_to_ms(np.array(stamps, dtype=np.int64))
        except OverflowError:
            raise _Problem("timestamp out of range") from None
    numbers = np.array(stamps, dtype=np.float64)
    _require_finite(numbers, "timestamp", locate)
    return _epoch_to_ms(numbers)


def _check_json_row(item: object, where: str) -> None:
    if not isinstance(item, list) or len(item) < 6:
        raise _Problem(f"{where}: expected [ms, open, high, low, close, volume], got {item!r:.80}")
    for name, value in zip(("timestamp", *VALUE_COLUMNS), item, strict=False):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Problem(f"{where}: {name} is not a number: {value!r:.40}")


# --- Arrow / feather --------------------------------------------------------------------


def _read_feather(file: Path, base: str) -> _Columns:
    try:
        table = feather.read_table(str(file))
    except (pa.ArrowException, OSError) as exc:
        raise _Problem(f"unreadable Arrow/feather file: {exc}") from None
    header = [_normalize_name(name) for name in table.column_names]
    names = _pick_columns(header, base, "the Arrow schema")
    if table.num_rows == 0:
        raise _Problem("no candles: the table has no rows")

    def locate(k: int) -> str:
        return f"row {k + 1}"

    arrays = [table.column(header.index(name)) for name in names]
    return _Columns(
        ts=_arrow_times(arrays[0], names[0], locate),
        values={
            column: _arrow_floats(array, source, locate)
            for column, source, array in zip(VALUE_COLUMNS, names[1:], arrays[1:], strict=True)
        },
        locate=locate,
    )


def _arrow_times(array: pa.ChunkedArray, column: str, locate: Locate) -> IntArray:
    _reject_nulls(array, column, locate)
    kind = array.type
    if pa.types.is_date(kind):
        array = array.cast(pa.timestamp("ms"))
        kind = array.type
    if pa.types.is_timestamp(kind):
        # Arrow stores instants as UTC whatever the zone; a naive column is taken as UTC.
        multiply, divide = _ARROW_UNIT_TO_MS[kind.unit]
        raw = np.asarray(array.cast(pa.int64()).to_numpy(), dtype=np.int64)
        return raw * multiply // divide
    if pa.types.is_integer(kind):
        return _epoch_to_ms(np.asarray(array.to_numpy(), dtype=np.int64))
    if pa.types.is_floating(kind):
        numbers = np.asarray(array.to_numpy(), dtype=np.float64)
        _require_finite(numbers, column, locate)
        return _epoch_to_ms(numbers)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _times_from_strings(array.to_pylist(), column, locate)
    raise _Problem(f"column {column!r} has unsupported type {kind} for a time")


def _arrow_floats(array: pa.ChunkedArray, column: str, locate: Locate) -> FloatArray:
    _reject_nulls(array, column, locate)
    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return np.asarray(array.cast(pa.float64()).to_numpy(), dtype=np.float64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _floats_from_strings(array.to_pylist(), column, locate)
    raise _Problem(f"column {column!r} has unsupported type {kind} for a number")


def _reject_nulls(array: pa.ChunkedArray, column: str, locate: Locate) -> None:
    if array.null_count:
        nulls = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        raise _Problem(f"{locate(int(np.argmax(nulls)))}: {column} is missing (null)")


# --- shared checks ----------------------------------------------------------------------


def _epoch_to_ms(raw: npt.NDArray[np.int64] | npt.NDArray[np.float64]) -> IntArray:
    """Guess the unit from the magnitude: 1e11 s is the year 5138, 1e11 ms is 1973."""
    magnitude = float(np.abs(raw).max()) if raw.size else 0.0
    if magnitude < 1e11:
        scaled = raw * 1000
    elif magnitude < 1e14:
        scaled = raw
    elif magnitude < 1e17:
        scaled = raw // 1000
    else:
        scaled = raw // 1_000_000
    if scaled.dtype.kind == "f":
        return np.rint(scaled).astype(np.int64)
    return np.asarray(scaled, dtype=np.int64)


def _require_finite(values: FloatArray, column: str, locate: Locate) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.argmax(bad))
        raise _Problem(f"{locate(k)}: {column} is not a finite number ({float(values[k])!r})")


def _check_candles(columns: _Columns) -> None:
    for name, values in columns.values.items():
        _require_finite(values, name, columns.locate)
    high, low = columns.values["high"], columns.values["low"]
    inverted = high < low
    if inverted.any():
        k = int(np.argmax(inverted))
        raise _Problem(
            f"{columns.locate(k)}: high {float(high[k])!r} is below low {float(low[k])!r}"
        )


def _to_series(columns: _Columns, symbol: str, timeframe: str) -> CandleSeries:
    _check_candles(columns)
    if timeframe and timeframe not in TIMEFRAME_SECONDS:
        raise _Problem(
            f"unknown timeframe {timeframe!r}; expected one of " + ", ".join(TIMEFRAME_SECONDS)
        )
    ts = columns.ts
    order = _ascending_unique_order(ts)
    if order is None:
        values = columns.values
    else:
        ts = ts[order]
        values = {name: array[order] for name, array in columns.values.items()}
    return CandleSeries(
        ts=ts,
        **{name: snap_float_noise(values[name]) for name in VALUE_COLUMNS},
        symbol=symbol,
        timeframe=timeframe or _infer_timeframe(ts),
    )


def _ascending_unique_order(ts: IntArray) -> IntArray | None:
    """Indices that sort ``ts`` keeping each time's first row, or None if already so."""
    if ts.shape[0] < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return None
    _, first = np.unique(ts, return_index=True)
    return np.asarray(first, dtype=np.int64)


def _infer_timeframe(ts: IntArray) -> str:
    if ts.shape[0] < 2:
        raise _Problem("cannot infer the timeframe from a single candle; pass timeframe=")
    step_ms = int(np.median(np.diff(ts)))
    name = _TIMEFRAME_BY_MS.get(step_ms)
    if name is None:
        raise _Problem(
            f"cannot infer the timeframe: candles are {step_ms / 1000:g} s apart, which is none "
            f"of {', '.join(TIMEFRAME_SECONDS)}; pass timeframe="
        )
    return name


def snap_float_noise(values: FloatArray) -> FloatArray:
    """Round to 15 significant digits, the most a float64 carries faithfully.

    Files written through float arithmetic hold prices like ``5.330000000000001e-05``; as
    Decimals those are off the exchange's tick and fail every precision check. Rounding at
    the 15th digit removes only that binary noise: a value with 15 digits or fewer comes
    back bit for bit.
    """
    result = np.array(values, dtype=np.float64, copy=True)
    index = np.flatnonzero(np.isfinite(result) & (result != 0))
    magnitude = np.floor(np.log10(np.abs(result[index]))).astype(np.int64)
    decimals = _SIGNIFICANT_DIGITS - 1 - magnitude
    exact = (decimals >= 0) & (decimals < _POW10.shape[0])  # 10**d is an exact float
    fast, fast_decimals = index[exact], decimals[exact]
    scale = _POW10[fast_decimals]
    result[fast] = np.rint(result[fast] * scale) / scale
    for i in index[decimals >= _POW10.shape[0]]:  # below 1e-8: rare, let Python round
        result[i] = float(f"{result[i]:.{_SIGNIFICANT_DIGITS}g}")
    return result
