"""The USDⓈ-M futures user-data stream: listen keys over REST, events over a WebSocket.

What the installed ccxt.pro does for a linear account: ``POST /fapi/v1/listenKey`` (the
API key header, no signature) for a listen key, then a connection to
``<linear ws base>/private/ws?listenKey=<key>`` that carries the account's events bare
(no wrapper); every 20 minutes ``PUT /fapi/v1/listenKey`` keeps the key alive. As on
Binance, a POST while a key is active answers that key and extends it, a key lives 60
minutes from its last POST or PUT, a PUT or DELETE without an active key is -1125, and a
connection with an unknown or expired key is refused at the handshake.

The linear base is ``/fstream/ws`` on the emulator's port (``aim_ccxt``), so the stream
is served at ``/fstream/private/ws``. What a client sends on it is ignored: ccxt sends
nothing, and the events flow regardless.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from tradedeck.exchanges.emulator.auth import check_api_key
from tradedeck.exchanges.emulator.routing import Wrap
from tradedeck.exchanges.emulator.ws_stream import POLICY_VIOLATION, Stream, UserStreams, serve

STREAM_PATH = "/fstream/private/ws"


class FuturesStreamApi:
    """The listen-key routes and the stream route over the emulator's streams."""

    def __init__(self, streams: UserStreams, api_keys: Mapping[str, str]) -> None:
        self.streams = streams
        self.api_keys = api_keys

    def routes(self, public: Wrap) -> list[BaseRoute]:
        """``public``: the key is checked here, since these calls carry no signature."""
        return [
            Route(
                "/fapi/v1/listenKey", public(self._listen_key), methods=["POST", "PUT", "DELETE"]
            ),
            WebSocketRoute(STREAM_PATH, self._stream),
        ]

    async def _listen_key(self, request: Request, params: dict[str, str]) -> Any:
        api_key = request.headers.get("X-MBX-APIKEY", "")
        check_api_key(api_key, self.api_keys)
        if request.method == "POST":
            return {"listenKey": self.streams.open_listen_key(api_key)}
        if request.method == "PUT":
            return {"listenKey": self.streams.keep_alive(api_key)}
        self.streams.close_listen_key(api_key)
        return {}

    async def _stream(self, websocket: WebSocket) -> None:
        found = self.streams.listen_key(websocket.query_params.get("listenKey"))
        if found is None or found.api_key not in self.api_keys:
            await websocket.close(code=POLICY_VIOLATION)  # before accept: the handshake fails
            return
        await websocket.accept()
        stream = Stream(found.api_key, found.key)
        self.streams.join("future", stream)
        await serve(websocket, stream, self.streams, lambda text: None)
