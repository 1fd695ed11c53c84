"""Per-key rate limits, such as 5 trades and 30 commands per user per minute.

A limit protects the platform from a stuck client or a compromised account firing orders
in a loop; it is not a risk control (the risk engine caps exposure whatever the rate).
Callers name the key (``"trade:<user>"``), so one limiter serves every limit.

The memory limiter suits one process; with several workers the counts must be shared,
which is what the Redis limiter is for.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Protocol, runtime_checkable

from tradedeck.storage.redis_client import RedisBacked

Clock = Callable[[], float]

TRADES_PER_MINUTE = 5
COMMANDS_PER_MINUTE = 30


@dataclass(frozen=True, slots=True)
class RateDecision:
    """``retry_after`` is 0 when allowed, else seconds until a hit would be allowed again."""

    allowed: bool
    retry_after: float = 0.0


ALLOWED = RateDecision(allowed=True)


@runtime_checkable
class RateLimiter(Protocol):
    """Counts hits per key; a refused hit tells the caller how long to wait."""

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Record one hit on ``key`` if fewer than ``limit`` fell in the last window."""
        ...

    async def close(self) -> None:
        """Release what the limiter owns."""
        ...


def _check_limit(limit: int, window_seconds: float) -> None:
    # A zero limit or window would refuse or allow everything; neither is what a caller meant.
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
    if not window_seconds > 0 or not math.isfinite(window_seconds):
        raise ValueError(f"window_seconds must be positive and finite, got {window_seconds!r}")


class MemoryRateLimiter:
    """Sliding-window log: the exact timestamps of the last ``limit`` allowed hits per key.

    Exact, unlike a fixed window, so a burst straddling a window edge cannot double the
    rate. Refused hits are not logged, so hammering does not push the retry time further
    out. Memory is bounded twice: a key keeps at most ``limit`` timestamps, and at most
    ``max_keys`` keys are kept; when full, keys idle for a whole window are dropped first
    (forgetting them changes nothing), then the least recently used. Dropping an active key
    resets its count, which takes ``max_keys`` distinct keys hitting within one window.

    The clock must be monotonic (the default) so a wall-clock step cannot open or extend a
    window; tests inject a fake one.
    """

    def __init__(self, *, max_keys: int = 100_000, clock: Clock = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._clock = clock
        # Insertion order is recency order (hits move a key to the end), for LRU eviction.
        self._logs: dict[str, tuple[deque[float], float]] = {}

    def __len__(self) -> int:
        return len(self._logs)

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """No await inside, so concurrent hits on one loop are counted exactly."""
        _check_limit(limit, window_seconds)
        now = self._clock()
        log = self._take(key, now, window_seconds)
        while log and log[0] <= now - window_seconds:
            log.popleft()
        if len(log) >= limit:
            return RateDecision(False, log[-limit] + window_seconds - now)
        log.append(now)
        while len(log) > limit:  # a lowered limit: older entries can no longer matter
            log.popleft()
        return ALLOWED

    def _take(self, key: str, now: float, window_seconds: float) -> deque[float]:
        entry = self._logs.pop(key, None)
        if entry is None and len(self._logs) >= self._max_keys:
            self._make_room(now)
        log = entry[0] if entry is not None else deque()
        self._logs[key] = (log, window_seconds)
        return log

    def _make_room(self, now: float) -> None:
        self._logs = {k: e for k, e in self._logs.items() if e[0] and e[0][-1] > now - e[1]}
        # Leave a tenth free so the next new keys do not each pay for a full scan.
        excess = len(self._logs) - (self._max_keys - max(1, self._max_keys // 10))
        for old in list(islice(self._logs, max(0, excess))):
            del self._logs[old]

    async def close(self) -> None:
        """Forget every count; nothing else is held."""
        self._logs.clear()


class RedisRateLimiter(RedisBacked):
    """Fixed window shared by every process: ``INCR`` + ``PEXPIRE NX`` + ``PTTL`` in MULTI.

    ``PEXPIRE NX`` needs Redis 7.0 or later.

    The first hit of a window creates the counter and starts its expiry; later hits only
    count, and the remaining PTTL is the retry time. A fixed window may let up to twice
    the limit through around a window edge, which is the price of needing neither Lua nor
    a sorted set per key. Refused hits still count but never extend the window, so a
    hammering client is not locked out beyond the window it started.

    Redis errors propagate: a limiter that cannot count should refuse, not wave through.
    """

    DEFAULT_PREFIX = "td:rl:"

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        _check_limit(limit, window_seconds)
        window_ms = max(1, math.ceil(window_seconds * 1000))
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.pexpire(name, window_ms, nx=True)
            pipe.pttl(name)
            count, _, pttl = await pipe.execute()
        if int(count) <= limit:
            return ALLOWED
        return RateDecision(False, await self._retry_after(name, int(pttl), window_ms))

    async def _retry_after(self, name: str, pttl: int, window_ms: int) -> float:
        if pttl >= 0:
            return pttl / 1000
        # No expiry on a counter means someone else wrote the key; without repair it
        # would refuse forever, so give it a window.
        await self._redis.pexpire(name, window_ms)
        return window_ms / 1000


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis when configured (its own client, closed by ``close``), else in memory."""
    if redis_url:
        return RedisRateLimiter.from_url(redis_url)
    return MemoryRateLimiter()
