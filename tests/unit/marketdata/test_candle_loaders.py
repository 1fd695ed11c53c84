import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tradedeck.marketdata
from tradedeck.marketdata.loaders import (
    CandleSeries,
    MarketDataError,
    load_candles,
    snap_float_noise,
)

DATA = Path(tradedeck.marketdata.__file__).parent / "data"
FEATHERS = sorted((DATA / "binance-5m-2018").glob("*.feather"))
CDD_BANNER = "Timestamps are UTC timezone,https://www.CryptoDataDownload.com"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(utc(year, month, day, hour, minute).timestamp() * 1000)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_clean_series(series: CandleSeries) -> None:
    assert np.all(np.diff(series.ts) > 0)
    assert np.all(series.high >= series.low)
    assert all(a.dtype == np.float64 for a in (series.open, series.close, series.volume))
    assert series.ts.dtype == np.int64


# --- bundled files ------------------------------------------------------------------------


def test_ftx_1m_csv_loads_every_row() -> None:
    series = load_candles(DATA / "ftx-btc-perp-1m.csv")

    assert len(series) == 45_031
    assert series.timeframe == "1m"
    assert series.candle(0).opened_at == utc(2021, 12, 31, 23, 1)
    assert series.candle(-1).opened_at == utc(2022, 2, 1, 5, 31)
    first = series.candle(0)
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("46319"),
        Decimal("46385"),
        Decimal("46319"),
        Decimal("46377"),
    )
    assert first.volume == Decimal("2300413.7295")
    assert_clean_series(series)


def test_ftx_csv_loads_fast() -> None:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        load_candles(DATA / "ftx-btc-perp-1m.csv")
        best = min(best, time.perf_counter() - started)
    assert best < 0.5


def test_cryptodatadownload_csv_is_reversed_and_uses_base_volume() -> None:
    series = load_candles(DATA / "btcusd-1h.csv", symbol="BTC/USD")

    assert len(series) == 20_111
    assert series.timeframe == "1h"
    assert series.symbol == "BTC/USD"
    first, last = series.candle(0), series.candle(-1)
    assert first.opened_at == utc(2017, 7, 1, 11)
    assert (first.open, first.close, first.volume) == (
        Decimal("2505.56"),
        Decimal("2509.17"),
        Decimal("114.6"),  # volume_btc, not the USD volume 287000.32
    )
    assert last.opened_at == utc(2019, 10, 17, 9)
    assert last.volume == Decimal("61.25")
    assert_clean_series(series)


@pytest.mark.parametrize("path", FEATHERS, ids=lambda p: p.stem)
def test_binance_feathers_load(path: Path) -> None:
    series = load_candles(path)

    base = path.stem.split("_")[0]
    assert series.symbol == f"{base}/BTC"  # read from the freqtrade file name
    assert series.timeframe == "5m"
    assert 5_700 <= len(series) <= 5_800
    assert series.candle(0).opened_at == utc(2018, 1, 10, 4, 55)
    assert series.candle(0).opened_at.tzinfo is UTC
    assert_clean_series(series)


def test_ten_feathers_are_bundled() -> None:
    assert len(FEATHERS) == 10


def test_feather_float_noise_is_removed() -> None:
    # The file stores 5.330000000000001e-05; the exchange price was 0.0000533.
    raw = feather.read_table(DATA / "binance-5m-2018" / "ADA_BTC-5m.feather")
    assert repr(raw.column("open")[0].as_py()) == "5.330000000000001e-05"

    candle = load_candles(DATA / "binance-5m-2018" / "ADA_BTC-5m.feather").candle(0)

    assert candle.open == Decimal("0.0000533")
    assert candle.low == Decimal("0.00005288")


# --- CryptoDataDownload hours -------------------------------------------------------------


def test_cdd_twelve_hour_clock(tmp_path: Path) -> None:
    hours = ["12-AM", "01-AM", "11-AM", "12-PM", "01-PM", "11-PM"]
    rows = [f"2019-10-17 {h},BTCUSD,1,2,1,2,3,6" for h in reversed(hours)]
    path = write(
        tmp_path,
        "cdd.csv",
        "\n".join([CDD_BANNER, "date,symbol,open,high,low,close,volume_btc,volume", *rows]),
    )

    series = load_candles(path, timeframe="1h")

    assert [series.candle(i).opened_at.hour for i in range(len(series))] == [0, 1, 11, 12, 13, 23]


def test_cdd_volume_column_follows_the_symbol(tmp_path: Path) -> None:
    header = "date,symbol,open,high,low,close,volume_usd,volume_eth"
    rows = ["2019-10-17 02-AM,ETHUSD,1,2,1,2,300,150", "2019-10-17 01-AM,ETHUSD,1,2,1,2,200,100"]
    path = write(tmp_path, "eth.csv", "\n".join([CDD_BANNER, header, *rows]))

    series = load_candles(path, symbol="ETH/USD")

    assert list(series.volume) == [100.0, 150.0]


# --- other formats ------------------------------------------------------------------------


def test_ccxt_json(tmp_path: Path) -> None:
    rows = [
        [ms(2022, 1, 1, 0, 1), 2.0, 3.0, 1.0, 2.5, 10],
        [ms(2022, 1, 1, 0, 0), 1, 2, 0.5, 2, 5.5],
        [ms(2022, 1, 1, 0, 2), 2.5, 2.5, 2.5, 2.5, 0],
    ]
    path = write(tmp_path, "ohlcv.json", json.dumps(rows))

    series = load_candles(path, symbol="BTC/USDT")

    assert len(series) == 3
    assert series.timeframe == "1m"
    assert series.candle(0).opened_at == utc(2022, 1, 1)
    assert series.candle(0).low == Decimal("0.5")
    assert series.candle(1).volume == Decimal("10")
    assert series.symbol == "BTC/USDT"


def test_json_is_recognised_by_content(tmp_path: Path) -> None:
    rows = [[1_600_000_000, 1, 1, 1, 1, 1], [1_600_000_300, 1, 1, 1, 1, 1]]
    path = write(tmp_path, "export.txt", json.dumps(rows))

    series = load_candles(path)

    assert series.timeframe == "5m"
    assert series.ts[0] == 1_600_000_000_000  # seconds were recognised as seconds


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("1640995200", "1640995260"),  # seconds
        ("1640995200000", "1640995260000"),  # milliseconds
        ("1640995200000000", "1640995260000000"),  # microseconds
        ("1640995200000000000", "1640995260000000000"),  # nanoseconds
        ("2022-01-01 00:00:00", "2022-01-01T00:01:00.000000"),
        ("2022-01-01T00:00:00Z", "2022-01-01T02:01:00+02:00"),
    ],
)
def test_plain_csv_time_formats(tmp_path: Path, first: str, second: str) -> None:
    text = f"timestamp,open,high,low,close,volume\n{first},1,2,1,2,3\n{second},2,3,2,3,4\n"
    path = write(tmp_path, "plain.csv", text)

    series = load_candles(path)

    assert list(series.ts) == [ms(2022, 1, 1), ms(2022, 1, 1, 0, 1)]
    assert series.timeframe == "1m"


def test_csv_header_names_are_forgiving(tmp_path: Path) -> None:
    text = "\ufeffDate , Open,High,Low,Close,Volume\n2022-01-01,1,2,1,2,3\n2022-01-02,1,2,1,2,3\n\n"
    path = write(tmp_path, "daily.csv", text)

    series = load_candles(path)

    assert series.timeframe == "1d"
    assert len(series) == 2


def test_rows_are_sorted_and_duplicates_dropped(tmp_path: Path) -> None:
    text = (
        "time,open,high,low,close,volume\n"
        "1640995320000,3,3,3,3,3\n"
        "1640995200000,1,1,1,1,1\n"
        "1640995260000,2,2,2,2,2\n"
        "1640995200000,9,9,9,9,9\n"
    )
    series = load_candles(write(tmp_path, "dups.csv", text))

    assert list(series.close) == [1.0, 2.0, 3.0]  # the first row of a duplicated time wins


def test_explicit_timeframe_wins_over_inference(tmp_path: Path) -> None:
    text = "timestamp,open,high,low,close,volume\n0,1,1,1,1,1\n"
    series = load_candles(write(tmp_path, "one.csv", text), timeframe="4h", symbol="X/Y")

    assert (series.timeframe, series.symbol, len(series)) == ("4h", "X/Y", 1)


@pytest.mark.parametrize(
    "date_column",
    [
        pa.array([ms(2022, 1, 1), ms(2022, 1, 1, 0, 5)], pa.int64()),
        pa.array([ms(2022, 1, 1), ms(2022, 1, 1, 0, 5)], pa.timestamp("ms")),
        pa.array([ms(2022, 1, 1) * 1000, ms(2022, 1, 1, 0, 5) * 1000], pa.timestamp("us", "UTC")),
        pa.array(["2022-01-01 00:00", "2022-01-01 00:05"]),
    ],
    ids=["ms-ints", "naive-timestamp", "tz-timestamp", "strings"],
)
def test_feather_date_types(tmp_path: Path, date_column: pa.Array) -> None:
    table = pa.table(
        {
            "date": date_column,
            "open": [1.0, 2.0],
            "high": [2, 3],
            "low": [1.0, 2.0],
            "close": [2.0, 3.0],
            "volume": [5.0, 6.0],
        }
    )
    path = tmp_path / "SOL_USDT-5m.feather"
    feather.write_feather(table, path)

    series = load_candles(path)

    assert list(series.ts) == [ms(2022, 1, 1), ms(2022, 1, 1, 0, 5)]
    assert series.symbol == "SOL/USDT"
    assert series.timeframe == "5m"
    assert series.candle(1).high == Decimal("3")


# --- CandleSeries -------------------------------------------------------------------------


def make_series(n: int = 5) -> CandleSeries:
    ts = np.arange(n, dtype=np.int64) * 60_000
    prices = np.arange(n, dtype=np.float64) + 100.5
    return CandleSeries(
        ts=ts,
        open=prices,
        high=prices + 1,
        low=prices - 1,
        close=prices,
        volume=np.ones(n),
        symbol="BTC/USDT",
        timeframe="1m",
    )


def test_candle_is_a_domain_candle() -> None:
    candle = make_series().candle(2)

    assert candle.symbol == "BTC/USDT"
    assert candle.timeframe == "1m"
    assert candle.opened_at == utc(1970, 1, 1, 0, 2)
    assert candle.close == Decimal("102.5")
    assert candle.high == Decimal("103.5")


def test_slice_shares_the_rules_and_symbol() -> None:
    part = make_series(10).slice(3, 6)

    assert len(part) == 3
    assert part.candle(0).close == Decimal("103.5")
    assert (part.symbol, part.timeframe) == ("BTC/USDT", "1m")


def test_series_arrays_are_read_only() -> None:
    series = make_series()

    with pytest.raises(ValueError, match="read-only"):
        series.close[0] = 1.0


def test_series_sorts_what_it_is_given() -> None:
    series = CandleSeries(
        ts=np.array([120_000, 0, 60_000, 0]),
        open=np.array([3.0, 1.0, 2.0, 9.0]),
        high=np.array([3.0, 1.0, 2.0, 9.0]),
        low=np.array([3.0, 1.0, 2.0, 9.0]),
        close=np.array([3.0, 1.0, 2.0, 9.0]),
        volume=np.array([3.0, 1.0, 2.0, 9.0]),
        symbol="A/B",
        timeframe="1m",
    )

    assert list(series.ts) == [0, 60_000, 120_000]
    assert list(series.close) == [1.0, 2.0, 3.0]


def test_series_rejects_unknown_timeframe_and_ragged_columns() -> None:
    good = make_series()
    with pytest.raises(ValueError, match="unknown timeframe"):
        CandleSeries(
            ts=good.ts,
            open=good.open,
            high=good.high,
            low=good.low,
            close=good.close,
            volume=good.volume,
            symbol="A/B",
            timeframe="7m",
        )
    with pytest.raises(ValueError, match="equally long"):
        CandleSeries(
            ts=good.ts,
            open=good.open[:2],
            high=good.high,
            low=good.low,
            close=good.close,
            volume=good.volume,
            symbol="A/B",
            timeframe="1m",
        )


# --- float noise --------------------------------------------------------------------------


def test_snap_float_noise_examples() -> None:
    noisy = np.array([5.330000000000001e-05, 0.1 + 0.2, 0.0034934999999999996, 0.0, -1.5, 2e20])

    snapped = snap_float_noise(noisy)

    assert [repr(float(x)) for x in snapped] == [
        "5.33e-05",
        "0.3",
        "0.0034935",
        "0.0",
        "-1.5",
        "2e+20",
    ]


@given(
    st.decimals(
        min_value=Decimal("1e-9"), max_value=Decimal("1e12"), allow_nan=False, places=None
    ).filter(lambda d: len(d.normalize().as_tuple().digits) <= 15)
)
def test_snap_keeps_values_of_fifteen_digits_bit_for_bit(value: Decimal) -> None:
    as_float = float(value)

    assert snap_float_noise(np.array([as_float]))[0] == as_float


# --- malformed input ----------------------------------------------------------------------

HEADER = "timestamp,open,high,low,close,volume\n"
ROW1 = "2022-01-01 00:00:00,1,2,1,2,3\n"
ROW2 = "2022-01-01 00:01:00,1,2,1,2,3\n"

MALFORMED: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("empty", "empty.csv", "", ("empty file",)),
    ("blank", "blank.csv", "\n\n  \n", ("empty file",)),
    ("header only", "head.csv", HEADER, ("no data rows after the header on line 1",)),
    ("no header", "nohead.csv", ROW1 + ROW2, ("missing header",)),
    (
        "missing close",
        "noclose.csv",
        "timestamp,open,high,low,volume\n0,1,1,1,1\n",
        ("missing column 'close'",),
    ),
    (
        "missing time",
        "notime.csv",
        "open,high,low,close,volume\n1,1,1,1,1\n",
        ("missing column", "timestamp"),
    ),
    (
        "missing volume",
        "novol.csv",
        "timestamp,open,high,low,close\n0,1,1,1,1\n",
        ("missing column 'volume'",),
    ),
    (
        "bad number",
        "num.csv",
        HEADER + ROW1 + "2022-01-01 00:01:00,1,abc,1,2,3\n",
        ("line 3", "unparsable number 'abc'", "'high'"),
    ),
    (
        "empty number",
        "emptynum.csv",
        HEADER + "2022-01-01 00:00:00,1,2,1,,3\n",
        ("line 2", "unparsable number ''", "'close'"),
    ),
    (
        "bad date",
        "date.csv",
        HEADER + ROW1 + "2022-13-45 00:01:00,1,2,1,2,3\n",
        ("line 3", "unparsable date '2022-13-45 00:01:00'"),
    ),
    (
        "bad epoch",
        "epoch.csv",
        HEADER + "1640995200,1,2,1,2,3\nsoon,1,2,1,2,3\n",
        ("line 3", "'soon'"),
    ),
    (
        "high below low",
        "hilo.csv",
        HEADER + ROW1 + "2022-01-01 00:01:00,1,0.5,1,0.7,3\n",
        ("line 3", "high 0.5 is below low 1.0"),
    ),
    ("short row", "short.csv", HEADER + ROW1 + "2022-01-01 00:01:00,1,2\n", ("line 3", "fields")),
    (
        "nan",
        "nan.csv",
        HEADER + ROW1 + "2022-01-01 00:01:00,1,2,nan,2,3\n",
        ("line 3", "low is not a finite number"),
    ),
    (
        "cdd bad hour",
        "cdd.csv",
        CDD_BANNER
        + "\ndate,symbol,open,high,low,close,volume_btc,volume\n"
        + "2019-10-17 13-PM,BTCUSD,1,2,1,2,3,4\n",
        ("line 3", "unparsable date '2019-10-17 13-PM'"),
    ),
    (
        "line numbers skip blank lines",
        "gaps.csv",
        HEADER + ROW1 + "\n\n" + "2022-01-01 00:01:00,1,x,1,2,3\n",
        ("line 5",),
    ),
    ("one candle", "single.csv", HEADER + ROW1, ("cannot infer the timeframe", "timeframe=")),
    (
        "odd spacing",
        "odd.csv",
        HEADER + "0,1,1,1,1,1\n420,1,1,1,1,1\n840,1,1,1,1,1\n",
        ("cannot infer the timeframe", "420 s"),
    ),
    ("unknown extension", "candles.xyz", HEADER + ROW1, ("unknown format",)),
    ("feather that is not", "fake.feather", HEADER + ROW1, ("unknown format", "Arrow")),
    ("not json", "bad.json", "[[1, 2,", ("invalid JSON",)),
    ("json object", "obj.json", '{"ohlcv": []}', ("expected a JSON array",)),
    ("json empty", "none.json", "[]", ("empty",)),
    ("json short item", "item.json", "[[0,1,1,1,1,1],[60000,1,1]]", ("item 1", "expected [ms")),
    ("json string", "str.json", '[[0,"1",1,1,1,1]]', ("item 0", "open is not a number")),
    ("json huge", "huge.json", "[[0,1,1,1,1,1" + "0" * 400 + "]]", ("too large",)),
    ("json null", "null.json", "[[0,1,1,1,1,null]]", ("item 0", "volume is not a number")),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_input_is_explained(
    tmp_path: Path, name: str, content: str, expected: tuple[str, ...]
) -> None:
    path = write(tmp_path, name, content)

    with pytest.raises(MarketDataError) as caught:
        load_candles(path)

    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_market_data_error_is_a_value_error() -> None:
    assert issubclass(MarketDataError, ValueError)


def test_binary_garbage_is_an_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"\x00\x01\x02\xff" * 100)

    with pytest.raises(MarketDataError, match="unknown format"):
        load_candles(path)


def test_broken_csv_quoting_is_a_market_data_error(tmp_path: Path) -> None:
    huge = "9" * 200_000  # beyond the csv module's field size limit
    path = write(tmp_path, "huge.csv", HEADER + ROW1 + f'2022-01-01 00:01:00,"{huge}",2,1,2,3\n')

    with pytest.raises(MarketDataError) as caught:
        load_candles(path)

    assert str(caught.value).startswith(f"{path}: line 3: broken CSV")


def test_unknown_timeframe_argument(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.csv", HEADER + ROW1 + ROW2)

    with pytest.raises(MarketDataError, match="unknown timeframe '7m'"):
        load_candles(path, timeframe="7m")


def test_feather_missing_column_and_nulls(tmp_path: Path) -> None:
    no_volume = tmp_path / "novol.feather"
    feather.write_feather(
        pa.table(
            {
                "date": [0, 60_000],
                "open": [1.0] * 2,
                "high": [1.0] * 2,
                "low": [1.0] * 2,
                "close": [1.0] * 2,
            }
        ),
        no_volume,
    )
    with_null = tmp_path / "null.feather"
    feather.write_feather(
        pa.table(
            {
                "date": [0, 60_000],
                "open": [1.0, None],
                "high": [1.0] * 2,
                "low": [1.0] * 2,
                "close": [1.0] * 2,
                "volume": [1.0] * 2,
            }
        ),
        with_null,
    )

    with pytest.raises(MarketDataError, match="missing column 'volume'"):
        load_candles(no_volume)
    with pytest.raises(MarketDataError, match=r"row 2: open is missing \(null\)"):
        load_candles(with_null)


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_candles(tmp_path / "absent.csv")
