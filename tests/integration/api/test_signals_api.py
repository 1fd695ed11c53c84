"""The signal webhook over real HTTP: only fresh, signed, never-seen signals trade."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import LiveApp, make_settings, serve
from tradedeck.security.signatures import sign

SECRET = "test-signal-secret"


@pytest.fixture
async def live(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, database_url, signal_secret=SECRET)
    live_app = await serve(settings)
    try:
        yield live_app
    finally:
        await live_app.stop()


def signed(
    body: dict[str, object], *, age: float = 0, nonce: str | None = None, secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = int(time.time() - age)
    nonce = nonce or uuid.uuid4().hex
    return raw, {
        "Content-Type": "application/json",
        "X-Signal-Timestamp": str(ts),
        "X-Signal-Nonce": nonce,
        "X-Signal-Signature": sign(secret.encode(), ts, nonce, raw),
    }


async def test_a_signed_signal_places_an_order_through_risk(live: LiveApp) -> None:
    reader = await live.token("reader", "viewer")
    async with live.client(reader) as api:
        raw, headers = signed(
            {"symbol": "ETH/BTC", "side": "buy", "amount": "0.2", "strategy": "tv-breakout"}
        )
        accepted = await api.post("/api/v1/signals", content=raw, headers=headers)
        assert accepted.status_code == 202, accepted.text
        await live.services.signals.join()
        record = (await api.get(f"/api/v1/signals/{accepted.json()['id']}")).json()
        assert record["status"] == "executed"
        order = (await api.get(f"/api/v1/orders/{record['order_id']}")).json()
        assert order["status"] == "filled" and order["source"] == "signal"

        replay = await api.post("/api/v1/signals", content=raw, headers=headers)
        assert replay.status_code == 409 and replay.json()["error"] == "replayed_nonce"
        assert len((await api.get("/api/v1/orders")).json()) == 1


async def test_risk_percent_signals_are_sized_and_refusals_recorded(live: LiveApp) -> None:
    reader = await live.token("reader", "viewer")
    async with live.client(reader) as api:
        equity = float((await api.get("/api/v1/balance")).json()["equity"])
        raw, headers = signed({"symbol": "ETH/BTC", "side": "buy", "risk_percent": "5"})
        accepted = (await api.post("/api/v1/signals", content=raw, headers=headers)).json()
        raw, headers = signed({"symbol": "ETH/BTC", "side": "buy", "risk_percent": "100"})
        too_big = (await api.post("/api/v1/signals", content=raw, headers=headers)).json()
        await live.services.signals.join()
        ok = (await api.get(f"/api/v1/signals/{accepted['id']}")).json()
        assert ok["status"] == "executed"
        order = (await api.get(f"/api/v1/orders/{ok['order_id']}")).json()
        value = float(order["filled"]) * float(order["average_price"])
        assert equity * 0.0499 < value <= equity * 0.05  # 5% of equity, rounded down a step
        refused = (await api.get(f"/api/v1/signals/{too_big['id']}")).json()
        assert refused["status"] == "rejected" and refused["reason"].startswith("max_notional")


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda raw, h: (raw, {**h, "X-Signal-Signature": "0" * 64}), "bad_signature"),
        (lambda raw, h: (raw.replace(b"0.2", b"9.9"), h), "bad_signature"),
        (
            lambda raw, h: (raw, {k: v for k, v in h.items() if k != "X-Signal-Signature"}),
            "missing_signature",
        ),
    ],
)
async def test_forged_or_tampered_signals_are_refused(live: LiveApp, mutate, code) -> None:  # type: ignore[no-untyped-def]
    raw, headers = signed({"symbol": "ETH/BTC", "side": "buy", "amount": "0.2"})
    raw, headers = mutate(raw, headers)
    async with live.client() as api:
        response = await api.post("/api/v1/signals", content=raw, headers=headers)
    assert response.status_code == 401 and response.json()["error"] == code
    assert await live.services.repository.list_orders() == []


async def test_stale_and_malformed_signals(live: LiveApp) -> None:
    async with live.client() as api:
        raw, headers = signed({"symbol": "ETH/BTC", "side": "buy", "amount": "0.2"}, age=31)
        stale = await api.post("/api/v1/signals", content=raw, headers=headers)
        assert stale.status_code == 401 and stale.json()["error"] == "stale_signature"
        raw, headers = signed({"symbol": "ETH/BTC", "side": "buy"})
        invalid = await api.post("/api/v1/signals", content=raw, headers=headers)
        assert invalid.status_code == 422 and invalid.json()["error"] == "invalid_signal"
        raw, headers = signed({"symbol": "NOPE/BTC", "side": "buy", "amount": "1"})
        unknown = await api.post("/api/v1/signals", content=raw, headers=headers)
        assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_symbol"
    assert await live.services.repository.list_orders() == []


@pytest.mark.redis
async def test_replay_protection_is_shared_through_redis(tmp_path: Path, redis_url: str) -> None:
    """Two app instances on one Redis (as behind a load balancer): a nonce used on one is
    refused on the other, and the claim lives in Redis with an expiry."""
    import redis.asyncio as aioredis

    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    servers = [
        await serve(make_settings(d, None, signal_secret=SECRET, redis_url=redis_url))
        for d in (first_dir, second_dir)
    ]
    try:
        raw, headers = signed({"symbol": "ETH/BTC", "side": "buy", "amount": "0.2"})
        async with servers[0].client() as api:
            assert (
                await api.post("/api/v1/signals", content=raw, headers=headers)
            ).status_code == 202
        async with servers[1].client() as api:
            replay = await api.post("/api/v1/signals", content=raw, headers=headers)
        assert replay.status_code == 409 and replay.json()["error"] == "replayed_nonce"
        client = aioredis.from_url(redis_url)
        ttl = await client.pttl(f"td:once:signal:{headers['X-Signal-Nonce']}")
        await client.aclose()
        assert 0 < ttl <= 35_000
    finally:
        for server in servers:
            await server.stop()
