"""The emulator's user-data streams: who is connected, and Binance's message for each change.

Why a hub. An engine announces a change once (``events``); every open user-data
connection of that account must get Binance's message for it, in order, including those
that connected through different routes (spot through the WebSocket API, USDⓈ-M futures
through a listenKey stream). The hub owns those connections and the futures listen keys,
turns each announcement into its message at once (the order it describes moves on with
the next fill), and queues it on every connection of the account.

Why a queue per connection. Engines run synchronously inside a request or a test's call;
a socket write is a coroutine. Each connection has one writer task draining its queue,
so messages leave in the order the engine produced them and replies never interleave
with events mid-frame.

Faults. ``drop`` closes every stream as a network cut would look to the client (the
listen keys stay valid, as they would on Binance); ``revoke`` closes the streams of a
revoked API key and forgets its listen keys, so a reconnect has to authenticate again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.websockets import WebSocket

from tradedeck.exchanges.emulator import ws_futures_wire, ws_spot_wire
from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError
from tradedeck.exchanges.emulator.events import FuturesEvent, SpotEvent
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine

Account = Literal["spot", "future"]
Message = dict[str, Any]

LISTEN_KEY_VALIDITY_MS = 60 * 60 * 1000  # Binance: 60 minutes unless kept alive
GOING_AWAY = 1001  # the close code of a dropped stream
POLICY_VIOLATION = 1008  # the close code of a stream whose key was revoked


class Stream:
    """One open user-data connection: the API key it belongs to and its outgoing queue.

    ``subscription_id`` is set for a WebSocket API subscription, whose events Binance wraps
    as ``{"subscriptionId": n, "event": {...}}``; a listenKey stream sends them bare.
    """

    def __init__(self, api_key: str | None = None, listen_key: str | None = None) -> None:
        self.api_key = api_key
        self.listen_key = listen_key
        self.subscription_id: int | None = None
        self.close_code = GOING_AWAY
        self._outbox: asyncio.Queue[Message | None] = asyncio.Queue()

    def reply(self, message: Message) -> None:
        self._outbox.put_nowait(message)

    def push(self, event: Message) -> None:
        if self.subscription_id is None:
            self._outbox.put_nowait(event)
        else:
            self._outbox.put_nowait({"subscriptionId": self.subscription_id, "event": event})

    def close(self, code: int) -> None:
        self.close_code = code
        self._outbox.put_nowait(None)

    async def next(self) -> Message | None:
        """The next message to send, or None once the stream is to close."""
        return await self._outbox.get()


@dataclass(slots=True)
class ListenKey:
    key: str
    api_key: str
    expires_at: int


class UserStreams:
    """Every user-data connection of one emulator, and its futures listen keys."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._streams: dict[Account, list[Stream]] = {"spot": [], "future": []}
        self._listen_keys: dict[str, ListenKey] = {}
        self._execution_ids = itertools.count(1)

    def observe(self, spot: SpotEngine, futures: FuturesEngine) -> None:
        """Have both engines announce their changes to the streams."""

        def on_spot(event: SpotEvent) -> None:
            if self._streams["spot"]:
                now = self._clock()
                self._push("spot", ws_spot_wire.event(event, spot, now, next(self._execution_ids)))

        def on_futures(event: FuturesEvent) -> None:
            if self._streams["future"]:
                self._push("future", ws_futures_wire.event(event, futures, self._clock()))

        spot.observer = on_spot
        futures.observer = futures.algo.observer = on_futures

    def count(self, account: Account) -> int:
        """How many streams of the account are open (a test waits for its client to connect)."""
        return len(self._streams[account])

    def join(self, account: Account, stream: Stream) -> None:
        self._streams[account].append(stream)

    def leave(self, stream: Stream) -> None:
        for streams in self._streams.values():
            if stream in streams:
                streams.remove(stream)

    def _push(self, account: Account, event: Message) -> None:
        for stream in self._streams[account]:
            stream.push(event)

    # -- listen keys (USDⓈ-M futures) -------------------------------------------------------

    def open_listen_key(self, api_key: str) -> str:
        """The key's active listen key, kept alive, else a new one (Binance's POST)."""
        found = self._active_of(api_key)
        if found is None:
            found = ListenKey(secrets.token_hex(32), api_key, 0)
            self._listen_keys[found.key] = found
        found.expires_at = self._clock() + LISTEN_KEY_VALIDITY_MS
        return found.key

    def keep_alive(self, api_key: str) -> str:
        found = self._active_of(api_key)
        if found is None:
            raise BinanceError(400, -1125, "This listenKey does not exist.")
        found.expires_at = self._clock() + LISTEN_KEY_VALIDITY_MS
        return found.key

    def close_listen_key(self, api_key: str) -> None:
        """End the key's listen key and the streams reading it."""
        found = self._active_of(api_key)
        if found is None:
            raise BinanceError(400, -1125, "This listenKey does not exist.")
        self._forget(found.key)

    def listen_key(self, key: str | None) -> ListenKey | None:
        """The listen key a stream connects with, if it is still valid."""
        found = self._listen_keys.get(key or "")
        return found if found is not None and found.expires_at > self._clock() else None

    def _active_of(self, api_key: str) -> ListenKey | None:
        for found in self._listen_keys.values():
            if found.api_key == api_key and self.listen_key(found.key):
                return found
        return None

    def _forget(self, key: str) -> None:
        self._listen_keys.pop(key, None)
        self._end(lambda stream: stream.listen_key == key, GOING_AWAY)

    # -- faults ------------------------------------------------------------------------------

    def drop(self) -> int:
        """Close every open stream; returns how many were open."""
        return self._end(lambda stream: True, GOING_AWAY)

    def revoke(self, api_key: str | None) -> None:
        """Close the streams of ``api_key`` (every key, if None) and forget its listen keys."""
        for key in [k.key for k in self._listen_keys.values() if api_key in (None, k.api_key)]:
            self._listen_keys.pop(key)
        self._end(lambda stream: api_key in (None, stream.api_key), POLICY_VIOLATION)

    def _end(self, which: Callable[[Stream], bool], code: int) -> int:
        """Close the streams ``which`` selects; they get no event from now on."""
        ended = 0
        for account, streams in self._streams.items():
            self._streams[account] = [s for s in streams if not which(s)]
            for stream in streams:
                if which(stream):
                    stream.close(code)
                    ended += 1
        return ended


async def serve(
    websocket: WebSocket, stream: Stream, streams: UserStreams, on_text: Callable[[str], None]
) -> None:
    """Run an accepted connection until either side closes it: the stream's queue goes out
    through one writer, what the client sends goes to ``on_text``."""
    writer = asyncio.create_task(_write(websocket, stream))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                on_text(message["text"])
    finally:
        streams.leave(stream)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


async def _write(websocket: WebSocket, stream: Stream) -> None:
    while (message := await stream.next()) is not None:
        await websocket.send_text(json.dumps(message))
    await websocket.close(code=stream.close_code)
