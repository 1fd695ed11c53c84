"""Claim-once stores: the first caller to claim a key within its TTL wins, everyone else loses.

Webhook replay protection is the main user (claim the signature nonce after
:func:`tradedeck.security.signatures.verify`), but anything that must happen at most once per
window, such as a duplicate signal or a notification, can use the same primitive.

The memory store suits a single process and tests; with more than one worker the claims must be
shared, which is what the Redis store is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Protocol, runtime_checkable

from tradedeck.storage.redis_client import RedisBacked


@runtime_checkable
class OneShotStore(Protocol):
    """Claims keys for a time; a claim is atomic, so concurrent callers get one winner."""

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """Return True if this call claimed ``key``, False if a live claim already exists."""
        ...

    async def close(self) -> None:
        """Release what the store owns; claims already made are not reported again."""
        ...


@runtime_checkable
class BulkOneShotStore(OneShotStore, Protocol):
    """A store that can claim many keys in one round trip (see :class:`GroupClaimer`)."""

    async def claim_many(self, keys: Sequence[str], ttl_seconds: float) -> set[str]:
        """Claim distinct ``keys`` at once; returns the ones this call claimed."""
        ...


def _check_ttl(ttl_seconds: float) -> None:
    # A zero or negative TTL would make every claim succeed, silently disabling protection.
    if not ttl_seconds > 0 or not math.isfinite(ttl_seconds):
        raise ValueError(f"ttl_seconds must be a positive finite number, got {ttl_seconds!r}")


class MemoryOneShotStore:
    """In-process claims with lazily pruned expiry times.

    Expired entries are only swept when the store is full, which keeps ``claim`` O(1) in the
    common case. If the sweep leaves less than a tenth of capacity free, the oldest claims are
    evicted to make that room, so a flood does not cost a full scan on every call. Eviction
    re-opens a replay window for those keys, but reaching it takes ``max_entries`` live
    claims; callers that claim only after verifying a signature make that cost a forger
    the secret, and bounded memory is worth more than perfect recall under such a flood.

    The clock is injectable so tests can expire claims without sleeping; it must be monotonic
    so a wall-clock step does not resurrect or extend claims.
    """

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        # Insertion order is claim order, which eviction relies on to drop the oldest first.
        self._expiry: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._expiry)

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """Claim ``key`` for ``ttl_seconds``; no await inside, so it is atomic on the loop."""
        _check_ttl(ttl_seconds)
        now = self._clock()
        expires = self._expiry.get(key)
        if expires is not None:
            if expires > now:
                return False
            # Re-inserted below at the end, so claim order stays accurate for eviction.
            del self._expiry[key]
        if len(self._expiry) >= self._max_entries:
            self._make_room(now)
        self._expiry[key] = now + ttl_seconds
        return True

    async def claim_many(self, keys: Sequence[str], ttl_seconds: float) -> set[str]:
        return {key for key in keys if await self.claim(key, ttl_seconds)}

    def _make_room(self, now: float) -> None:
        self._expiry = {k: exp for k, exp in self._expiry.items() if exp > now}
        # Leave a tenth of capacity free, so the next claims do not each pay for a full sweep.
        target = self._max_entries - max(1, self._max_entries // 10)
        excess = len(self._expiry) - target
        if excess > 0:
            for old in list(islice(self._expiry, excess)):
                del self._expiry[old]

    async def close(self) -> None:
        """Forget every claim; nothing else is held."""
        self._expiry.clear()


class RedisOneShotStore(RedisBacked):
    """Claims shared by every process through ``SET key 1 NX PX ttl``.

    One command both tests and sets the key, so two workers racing on the same nonce cannot
    both win, and Redis expires the key itself, so nothing needs sweeping.
    """

    DEFAULT_PREFIX = "td:once:"

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """Claim ``key`` for ``ttl_seconds``, rounded up to whole milliseconds.

        Rounding up, never down, so a claim never lapses before the window it protects.
        Redis errors propagate: a caller guarding against replays should fail closed rather
        than treat an unreachable store as "not claimed yet".
        """
        _check_ttl(ttl_seconds)
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        result = await self._redis.set(self._prefix + key, b"1", nx=True, px=ttl_ms)
        return bool(result)

    async def claim_many(self, keys: Sequence[str], ttl_seconds: float) -> set[str]:
        """One pipelined round trip of ``SET NX PX``; each key is still claimed atomically."""
        _check_ttl(ttl_seconds)
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(self._prefix + key, b"1", nx=True, px=ttl_ms)
            results = await pipe.execute()
        return {key for key, won in zip(keys, results, strict=True) if won}


@dataclass(slots=True)
class _Claim:
    key: str
    result: asyncio.Future[bool]


class GroupClaimer:
    """Group commit for claims: the claims made while one round trip is in flight share the
    next one. An idle claimer answers a lone claim at once; under load, a hundred updates
    cost one database transaction or one Redis pipeline instead of a hundred.

    A key claimed twice in the same batch is won by the first caller. A failed round trip
    fails every claim of its batch (callers fail closed), and the next batch tries again.
    """

    def __init__(self, store: BulkOneShotStore, ttl_seconds: float, *, max_batch: int = 512):
        _check_ttl(ttl_seconds)
        self._store = store
        self._ttl = ttl_seconds
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Claim] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def claim(self, key: str) -> bool:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="group-claims")
        claim = _Claim(key, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(claim)
        return await claim.result

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            first: dict[str, _Claim] = {}
            for claim in batch:
                if claim.key in first:
                    claim.result.set_result(False)
                else:
                    first[claim.key] = claim
            try:
                won = await self._store.claim_many(list(first), self._ttl)
            except Exception as failure:
                for claim in first.values():
                    if not claim.result.done():
                        claim.result.set_exception(failure)
                continue
            for key, claim in first.items():
                if not claim.result.done():
                    claim.result.set_result(key in won)

    async def close(self) -> None:
        """Stop the worker (pending claims are failed) and close the store."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.result.done():
                pending.result.set_exception(RuntimeError("claimer closed"))
        await self._store.close()
