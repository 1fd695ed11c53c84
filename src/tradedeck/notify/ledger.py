"""Which chats already got which event, so a redelivered event skips them.

A durable bus redelivers an event whose acknowledgement never came (the notifier was
killed mid-batch). Without a record, every chat that did get it would get it again. The
record is written the moment Telegram answered 200, one key per (event id, chat id),
with SET NX and a TTL longer than any redelivery can take.

What no record can settle: a process killed after Telegram accepted a message and before
its answer reached us. Telegram has no idempotency key, so that one message (at most one
per chat in flight) may repeat; losing it instead would be worse for a fill notice.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

DEFAULT_TTL = 2 * 24 * 3600.0


class DeliveryLedger(Protocol):
    async def delivered(self, event_id: str, chat_id: int) -> bool:
        """Did ``chat_id`` already receive event ``event_id``?"""
        ...

    async def mark(self, event_id: str, chat_id: int) -> None:
        """Record that ``chat_id`` received event ``event_id``."""
        ...


class MemoryDeliveryLedger:
    """One process's record (tests; a bus that cannot redeliver needs none)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, int]] = set()

    async def delivered(self, event_id: str, chat_id: int) -> bool:
        return (event_id, chat_id) in self._seen

    async def mark(self, event_id: str, chat_id: int) -> None:
        self._seen.add((event_id, chat_id))

    def __len__(self) -> int:
        return len(self._seen)


class RedisDeliveryLedger:
    """The record in Redis, shared by every notifier reading the same stream."""

    def __init__(
        self, client: Any, *, prefix: str = "tradedeck:notify:sent:", ttl: float = DEFAULT_TTL
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1, math.ceil(ttl * 1000))

    def key(self, event_id: str, chat_id: int) -> str:
        return f"{self._prefix}{event_id}:{chat_id}"

    async def delivered(self, event_id: str, chat_id: int) -> bool:
        return bool(await self._client.exists(self.key(event_id, chat_id)))

    async def mark(self, event_id: str, chat_id: int) -> None:
        await self._client.set(self.key(event_id, chat_id), b"1", nx=True, px=self._ttl_ms)
