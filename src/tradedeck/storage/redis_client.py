"""What every Redis-backed store shares: a key prefix and a client it may or may not own.

A store closes the client only if it created it (`from_url`): a client passed in usually
serves other components too, and closing it under them would break them.
"""

from __future__ import annotations

from typing import ClassVar, Self

import redis.asyncio as aioredis


class RedisBacked:
    DEFAULT_PREFIX: ClassVar[str] = "td:"

    def __init__(
        self, redis: aioredis.Redis, prefix: str | None = None, *, owns_client: bool = False
    ) -> None:
        self._redis = redis
        self._prefix = self.DEFAULT_PREFIX if prefix is None else prefix
        self._owns_client = owns_client

    @classmethod
    def from_url(cls, url: str, prefix: str | None = None) -> Self:
        """A store with a client of its own, which :meth:`close` then closes."""
        return cls(aioredis.Redis.from_url(url), prefix, owns_client=True)

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()
