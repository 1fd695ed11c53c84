"""The emulator's signature check refuses what Binance refuses, with Binance's codes."""

from __future__ import annotations

import pytest

from tradedeck.exchanges.emulator.auth import check_api_key, check_signed, sign
from tradedeck.exchanges.emulator.errors import BinanceError

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
NOW = 1_700_000_000_000


def test_known_vector_from_binance_docs() -> None:
    query = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert sign(SECRET, query) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def _code(error: pytest.ExceptionInfo[BinanceError]) -> tuple[int, int]:
    return error.value.status, error.value.code


def test_valid_query_and_body_signatures_pass() -> None:
    query = f"symbol=BTCUSDT&timestamp={NOW}"
    check_signed(f"{query}&signature={sign(SECRET, query)}", "", SECRET, NOW + 10)
    body = f"symbol=BTCUSDT&side=BUY&timestamp={NOW}"
    check_signed("", f"{body}&signature={sign(SECRET, body)}", SECRET, NOW)


def test_query_plus_body_is_what_gets_signed() -> None:
    query, body = "symbol=BTCUSDT", f"side=BUY&timestamp={NOW}"
    check_signed(query, f"{body}&signature={sign(SECRET, query + body)}", SECRET, NOW)
    with pytest.raises(BinanceError) as error:
        check_signed(query, f"{body}&signature={sign(SECRET, body)}", SECRET, NOW)
    assert _code(error) == (400, -1022)


def test_wrong_secret_or_tampered_query_is_minus_1022() -> None:
    query = f"symbol=BTCUSDT&timestamp={NOW}"
    with pytest.raises(BinanceError) as error:
        check_signed(f"{query}&signature={sign('other', query)}", "", SECRET, NOW)
    assert _code(error) == (400, -1022)
    with pytest.raises(BinanceError) as tampered:
        check_signed(
            f"symbol=ETHUSDT&timestamp={NOW}&signature={sign(SECRET, query)}", "", SECRET, NOW
        )
    assert _code(tampered) == (400, -1022)


def test_stale_or_future_timestamp_is_minus_1021() -> None:
    query = f"timestamp={NOW}"
    signed = f"{query}&signature={sign(SECRET, query)}"
    for now in (NOW + 5001, NOW - 1001):
        with pytest.raises(BinanceError) as error:
            check_signed(signed, "", SECRET, now)
        assert _code(error) == (400, -1021)
    wide = f"timestamp={NOW}&recvWindow=20000"
    check_signed(f"{wide}&signature={sign(SECRET, wide)}", "", SECRET, NOW + 19000)


def test_missing_signature_or_timestamp_is_minus_1102() -> None:
    for query in (f"timestamp={NOW}", f"symbol=BTCUSDT&signature={sign(SECRET, 'symbol=BTCUSDT')}"):
        with pytest.raises(BinanceError) as error:
            check_signed(query, "", SECRET, NOW)
        assert _code(error) == (400, -1102)


def test_api_key_errors() -> None:
    keys = {"goodKey": SECRET}
    assert check_api_key("goodKey", keys) == SECRET
    for bad in (None, "", "bad key!"):
        with pytest.raises(BinanceError) as malformed:
            check_api_key(bad, keys)
        assert _code(malformed) == (401, -2014)
    with pytest.raises(BinanceError) as unknown:
        check_api_key("otherKey", keys)
    assert _code(unknown) == (401, -2015)
