"""The emulator's user-data streams on the wire: Binance's requests, replies and refusals."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import Served
from tests.integration.exchange_emulator.conftest import API_KEY, SECRET
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.exchanges.emulator.auth import sign


def ws_url(served: Served, path: str) -> str:
    return f"ws://127.0.0.1:{served.port}{path}"


def subscribe_request(
    *, api_key: str = API_KEY, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "apiKey": api_key,
        "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
    }
    signed = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = sign(secret, signed)
    return {"id": "req-1", "method": "userDataStream.subscribe.signature", "params": params}


async def reply(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await socket.recv())
    return message


@pytest.fixture
def served(emulator: tuple[BinanceEmulator, Served]) -> Served:
    return emulator[1]


@pytest.fixture
async def ws_api(served: Served) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(served, "/ws-api/v3")) as socket:
        yield socket


async def test_a_signed_subscription_then_the_accounts_events(
    ws_api: ClientConnection, emu: BinanceEmulator
) -> None:
    await ws_api.send(json.dumps(subscribe_request()))
    assert await reply(ws_api) == {"id": "req-1", "status": 200, "result": {"subscriptionId": 0}}
    emu.deposit("ETH", "2")
    event = await reply(ws_api)
    assert event["subscriptionId"] == 0
    assert (event["event"]["e"], event["event"]["a"], event["event"]["d"]) == (
        "balanceUpdate",
        "ETH",
        "2.00000000",
    )


@pytest.mark.parametrize(
    ("refused", "status", "code"),
    [
        ({"secret": "wrongSecret"}, 400, -1022),
        ({"api_key": "unknownKey"}, 401, -2015),
        ({"api_key": "bad key!"}, 401, -2014),
        ({"timestamp": 1}, 400, -1021),
        (None, 400, -1102),
    ],
    ids=["bad-signature", "unknown-key", "malformed-key", "stale", "unknown-method"],
)
async def test_refusals_answer_like_binance(
    ws_api: ClientConnection, emu: BinanceEmulator, refused: Any, status: int, code: int
) -> None:
    """``refused``: what is wrong with the subscription (None: not a subscription at all)."""
    if refused is None:
        request = {"id": "req-1", "method": "session.status"}
    else:
        request = subscribe_request(**refused)  # signed now: its timestamp is fresh
    await ws_api.send(json.dumps(request))
    answer = await reply(ws_api)
    assert (answer["id"], answer["status"], answer["error"]["code"]) == ("req-1", status, code)
    assert emu.streams.count("spot") == 0


async def test_futures_listen_key_lifecycle_and_its_stream(
    served: Served, emu: BinanceEmulator
) -> None:
    headers = {"X-MBX-APIKEY": API_KEY}
    async with httpx.AsyncClient(base_url=served.url) as http:
        refused = await http.post("/fapi/v1/listenKey")
        assert (refused.status_code, refused.json()["code"]) == (401, -2014)
        assert (await http.put("/fapi/v1/listenKey", headers=headers)).json()["code"] == -1125

        key = (await http.post("/fapi/v1/listenKey", headers=headers)).json()["listenKey"]
        assert (await http.post("/fapi/v1/listenKey", headers=headers)).json() == {"listenKey": key}
        assert (await http.put("/fapi/v1/listenKey", headers=headers)).json() == {"listenKey": key}

        url = ws_url(served, f"/fstream/private/ws?listenKey={key}")
        async with connect(url) as socket:
            emu.deposit_futures("5")
            event = await reply(socket)
            assert (event["e"], event["a"]["m"], event["a"]["B"][0]["bc"]) == (
                "ACCOUNT_UPDATE",
                "DEPOSIT",
                "5.00000000",
            )
            assert (await http.delete("/fapi/v1/listenKey", headers=headers)).json() == {}
            with pytest.raises(ConnectionClosed):
                await socket.recv()

        with pytest.raises(InvalidStatus):
            async with connect(url):
                pass


async def test_dropping_the_streams_over_control_closes_them(
    ws_api: ClientConnection, served: Served
) -> None:
    await ws_api.send(json.dumps(subscribe_request()))
    await reply(ws_api)
    async with httpx.AsyncClient(base_url=served.url) as http:
        assert (await http.post("/_control/drop-streams")).json() == {"streams": 1}
    with pytest.raises(ConnectionClosed) as closed:
        await ws_api.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
