"""What goes wrong next, on the spot and futures routes alike.

Why faults are explicit. A test says what should go wrong next: ``rate_limited`` answers
429 with ``Retry-After`` (418 once a client keeps going), ``latency`` delays everything,
``hang_orders`` accepts an order and then withholds the answer until the client gives up
(the order exists; only the reply is lost), and ``drop`` cuts the connection after the
handler ran. Nothing is random, so a test that sees a fault asked for it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

BAN_AFTER = 2  # 429s answered in a row before the emulator bans with 418


@dataclass
class Faults:
    """What goes wrong next; every field is set by a test."""

    latency: float = 0.0
    rate_limited: int = 0
    retry_after: int = 1
    hang_orders: int = 0
    hang_seconds: float = 30.0
    drop: int = 0
    consecutive_429: int = 0

    def throttle(self, now_ms: int) -> Response | None:
        """The 429 (or, after ``BAN_AFTER`` of them, 418) to answer instead, if any."""
        if not self.rate_limited:
            self.consecutive_429 = 0
            return None
        self.rate_limited -= 1
        self.consecutive_429 += 1
        headers = {"Retry-After": str(self.retry_after)}
        if self.consecutive_429 > BAN_AFTER:
            until = now_ms + self.retry_after * 1000
            payload = {
                "code": -1003,
                "msg": f"Way too much request weight used; IP banned until {until}.",
            }
            return JSONResponse(payload, status_code=418, headers=headers)
        payload = {
            "code": -1003,
            "msg": "Too much request weight used; please use WebSocket Streams.",
        }
        return JSONResponse(payload, status_code=429, headers=headers)

    async def after_order_accepted(self, request: Request) -> None:
        """Hold the reply of an accepted order when a hang was asked for."""
        if self.hang_orders:
            self.hang_orders -= 1
            await _hold(request, self.hang_seconds)

    def dropped(self) -> Response | None:
        if not self.drop:
            return None
        self.drop -= 1
        return _Dropped()


class DropConnection(Exception):
    """Raised after the response head so the server closes the socket mid-response."""


class _Dropped(Response):
    """Sends a response head promising a body, then fails so the server closes the socket."""

    def __init__(self) -> None:
        super().__init__(
            status_code=200, headers={"content-length": "1000"}, media_type="application/json"
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b'{"symbol', "more_body": True})
        raise DropConnection("connection dropped by fault injection")


async def _hold(request: Request, seconds: float) -> None:
    """Wait until the client disconnects (it timed out) or ``seconds`` pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(request.receive(), remaining)
        except TimeoutError:
            return
        if message["type"] == "http.disconnect":
            return
