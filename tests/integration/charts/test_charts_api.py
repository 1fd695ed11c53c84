"""GET /api/v1/charts/{symbol}.png over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import struct

import pytest

from tests.conftest import LiveApp
from tests.integration.charts.history import seed_history
from tests.integration.scanner.history import clear_candles

pytestmark = pytest.mark.asyncio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
async def charted(live: LiveApp) -> LiveApp:
    await seed_history(live.services, ["ETH/BTC", "BTC/USDT"])
    return live


async def test_chart_png_with_cache_headers(charted: LiveApp) -> None:
    token = await charted.token("vic", "viewer")
    async with charted.client(token) as api:
        response = await api.get("/api/v1/charts/ETH-BTC.png")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert response.headers["cache-control"] == "private, max-age=10"
        width, height = png_size(response.content)
        assert 1200 <= width <= 1500 and 700 <= height <= 900
        assert int(response.headers["content-length"]) == len(response.content)

        etag = response.headers["etag"]
        again = await api.get("/api/v1/charts/ETH-BTC.png", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""


async def test_resampled_timeframe_and_limit(charted: LiveApp) -> None:
    token = await charted.token("vic", "viewer")
    async with charted.client(token) as api:
        native = await api.get("/api/v1/charts/eth_btc.png", params={"limit": 50})
        hourly = await api.get("/api/v1/charts/ETH-BTC.png", params={"timeframe": "1h"})
        assert native.status_code == 200 and hourly.status_code == 200, hourly.text
        assert hourly.headers["content-type"] == "image/png"
        png_size(hourly.content)
        assert hourly.content != native.content
        same_as_native = await api.get(
            "/api/v1/charts/ETH-BTC.png", params={"timeframe": "5m", "limit": 50}
        )
        assert same_as_native.content == native.content


async def test_token_required(charted: LiveApp) -> None:
    async with charted.client() as anonymous:
        response = await anonymous.get("/api/v1/charts/ETH-BTC.png")
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
    async with charted.client("not-a-token") as forged:
        response = await forged.get("/api/v1/charts/ETH-BTC.png")
        assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "code", "words"),
    [
        ("/api/v1/charts/NOPE-BTC.png", {}, "unknown_symbol", "NOPE/BTC"),
        ("/api/v1/charts/not a symbol.png", {}, "invalid_symbol", "ETH/BTC"),
        ("/api/v1/charts/ETH-BTC.png", {"timeframe": "7m"}, "invalid_timeframe", "'7m'"),
        ("/api/v1/charts/ETH-BTC.png", {"timeframe": "1m"}, "unsupported_timeframe", "5m"),
        ("/api/v1/charts/ETH-BTC.png", {"limit": 5000}, "invalid_request", "limit"),
    ],
)
async def test_bad_requests_are_json_errors(
    charted: LiveApp, path: str, params: dict[str, object], code: str, words: str
) -> None:
    token = await charted.token("vic", "viewer")
    async with charted.client(token) as api:
        response = await api.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["error"] == code and words in body["detail"], body


async def test_market_without_history_is_not_found(live: LiveApp) -> None:
    """A market with no stored candles (its history pruned away): no chart, said plainly."""
    await clear_candles(live.services.repository, ["LTC/BTC"])
    token = await live.token("vic", "viewer")
    async with live.client(token) as api:
        response = await api.get("/api/v1/charts/LTC-BTC.png")
        assert response.status_code == 404
        assert response.json() == {
            "error": "no_candles",
            "detail": "no 5m candles of LTC/BTC are stored yet",
        }
