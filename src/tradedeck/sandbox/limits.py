"""Telegram's flood control for one bot, so a bot that would be throttled live is throttled here.

Telegram documents three limits: about one message per second in a chat (short bursts are
tolerated, which a token bucket models), twenty per minute in a group, and thirty per second
overall. Exceeding any answers 429 with ``retry_after``; a refused message is not counted, so a
bot that waits as told gets through. The clock is injectable so tests can step time instead of
sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# Float noise must not turn an exact one-second wait into two.
_EPSILON = 1e-9


@dataclass(frozen=True)
class FloodLimits:
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    per_group_per_minute: int = 20
    global_per_second: int = 30
    enabled: bool = True


@dataclass
class _Bucket:
    tokens: float
    updated: float


class _Window:
    """At most ``limit`` events in any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.events: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.events and self.events[0] <= now - self.seconds:
            self.events.popleft()
        if len(self.events) < self.limit:
            return 0.0
        return self.events[0] + self.seconds - now

    def record(self, now: float) -> None:
        self.events.append(now)


class FloodControl:
    """Admits or refuses one sending call at a time for a single bot."""

    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._groups: dict[int, _Window] = {}
        self._global = _Window(limits.global_per_second, 1.0)

    def try_acquire(self, chat_id: int) -> int | None:
        """Count a message to ``chat_id`` and return None, or return seconds to wait."""
        if not self._limits.enabled:
            return None
        now = self._clock()
        bucket = self._refilled(chat_id, now)
        group = self._group(chat_id)
        waits = [self._global.wait(now), self._bucket_wait(bucket)]
        if group is not None:
            waits.append(group.wait(now))
        longest = max(waits)
        if longest > 0:
            return max(1, math.ceil(longest - _EPSILON))
        bucket.tokens -= 1
        self._global.record(now)
        if group is not None:
            group.record(now)
        return None

    def _refilled(self, chat_id: int, now: float) -> _Bucket:
        capacity = float(max(1, self._limits.per_chat_burst))
        bucket = self._buckets.setdefault(chat_id, _Bucket(capacity, now))
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(capacity, bucket.tokens + elapsed * self._limits.per_chat_per_second)
        bucket.updated = now
        return bucket

    def _bucket_wait(self, bucket: _Bucket) -> float:
        if bucket.tokens >= 1 - _EPSILON:
            return 0.0
        return (1 - bucket.tokens) / self._limits.per_chat_per_second

    def _group(self, chat_id: int) -> _Window | None:
        if chat_id >= 0:
            return None
        return self._groups.setdefault(chat_id, _Window(self._limits.per_group_per_minute, 60.0))
