"""Binance's spot WebSocket API (``/ws-api/v3``), as far as the user-data stream goes.

Why the WebSocket API. Binance retired the spot listenKey; the installed ccxt.pro
subscribes to a spot account's events by sending ``userDataStream.subscribe.signature``
(the API key, a timestamp and an HMAC over the sorted parameters) on a WebSocket API
connection, and then reads the events on that same connection, each wrapped as
``{"subscriptionId": n, "event": {...}}``. So that is what is served: the request, its
signature checked like a REST call (the same -2014, -2015, -1022 and -1021 refusals, as
``{"id", "status", "error"}`` replies), and the account's events from then on.

One account, one subscription per connection (so its id is always 0, the first of a
session): subscribing again on a connection answers the subscription it already has.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from tradedeck.exchanges.emulator.auth import check_api_key, check_signed
from tradedeck.exchanges.emulator.errors import BinanceError, bad_parameter
from tradedeck.exchanges.emulator.ws_stream import Stream, UserStreams, serve

SUBSCRIBE = "userDataStream.subscribe.signature"


class SpotWsApi:
    """The ``/ws-api/v3`` route over the emulator's streams and API keys."""

    def __init__(
        self, streams: UserStreams, api_keys: Mapping[str, str], clock: Callable[[], int]
    ) -> None:
        self.streams = streams
        self.api_keys = api_keys
        self.clock = clock

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute("/ws-api/v3", self._session)]

    async def _session(self, websocket: WebSocket) -> None:
        await websocket.accept()
        stream = Stream()

        def on_text(text: str) -> None:
            stream.reply(self._answer(stream, text))

        await serve(websocket, stream, self.streams, on_text)

    def _answer(self, stream: Stream, text: str) -> dict[str, Any]:
        request_id: Any = None
        try:
            request = json.loads(text)
            if not isinstance(request, dict):
                raise bad_parameter("method")
            request_id = request.get("id")
            if request.get("method") != SUBSCRIBE:
                raise bad_parameter("method")
            params = request.get("params")
            if not isinstance(params, dict):
                raise bad_parameter("params")
            self._check_signature(params)
        except BinanceError as error:
            return {"id": request_id, "status": error.status, "error": error.payload()}
        except ValueError:
            return {"id": None, "status": 400, "error": bad_parameter("method").payload()}
        if stream.subscription_id is None:
            stream.api_key = str(params["apiKey"])
            stream.subscription_id = 0
            self.streams.join("spot", stream)
        result = {"subscriptionId": stream.subscription_id}
        return {"id": request_id, "status": 200, "result": result}

    def _check_signature(self, params: dict[str, Any]) -> None:
        """The signed text is every parameter but ``signature``, sorted by name."""
        api_key = params.get("apiKey")
        secret = check_api_key(None if api_key is None else str(api_key), self.api_keys)
        signed = "&".join(f"{name}={params[name]}" for name in sorted(params))
        check_signed(signed, "", secret, self.clock())
