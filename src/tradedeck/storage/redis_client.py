"""What every Redis-backed store shares: a key prefix and a client it may or may not own.

A store closes the client only if it created it (`from_url`): a client passed in usually
serves other components too, and closing it under them would break them.

Clients made here queue for a connection when all of theirs are busy: redis-py's default
pool raises "Too many connections" instead, which under a burst of updates turned into
failed handlers rather than a few milliseconds of waiting.
"""

from __future__ import annotations

from typing import ClassVar, Self

import redis.asyncio as aioredis

POOL_SIZE = 32
POOL_WAIT_SECONDS = 10.0


def make_redis(url: str, *, max_connections: int = POOL_SIZE) -> aioredis.Redis:
    """A client whose callers wait (up to ``POOL_WAIT_SECONDS``) for a free connection."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=POOL_WAIT_SECONDS
    )
    return aioredis.Redis(connection_pool=pool)


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
        return cls(make_redis(url), prefix, owns_client=True)

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose(close_connection_pool=True)
