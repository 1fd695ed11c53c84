"""Circuit breakers: stop calling a dependency that keeps failing, answer reads from cache.

An exchange or an external API that is down must not turn every request into a slow
timeout, nor be hammered while it recovers. After ``failure_threshold`` failures in a row
the breaker opens: writes are refused at once with a clear "temporarily unavailable", and
reads answer with the last value they got, saying how old it is. After ``reset_timeout``
one trial call is let through (half-open); its success closes the breaker, its failure
opens it for another period.

Only transient errors count and are retried (network trouble, timeouts, rate limits): a
rejected order or a bad request says nothing about the dependency's health. Writes are
never retried here: a placement that timed out may have been accepted, so whoever places
orders must look it up (by client order id) before trying again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import structlog

from tradedeck.domain.errors import Unavailable

log = structlog.get_logger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
IsTransient = Callable[[BaseException], bool]


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def network_trouble(error: BaseException) -> bool:
    """The default notion of transient: timeouts and connection errors."""
    return isinstance(error, TimeoutError | ConnectionError | OSError)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        is_transient: IsTransient = network_trouble,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.is_transient = is_transient
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.reset_timeout:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    @property
    def failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until a trial call is allowed (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` unless the breaker is open; its transient failures count."""
        state = self.state
        if state is CircuitState.OPEN:
            raise self.refusal()
        trial = state is CircuitState.HALF_OPEN
        if trial:
            if self._trial:  # one trial at a time; the others are refused meanwhile
                raise self.refusal()
            self._trial = True
        try:
            result = await fn()
        except Exception as error:
            if self.is_transient(error):
                self._failed(trial)
            raise
        finally:
            if trial:
                self._trial = False
        self._succeeded()
        return result

    def refusal(self) -> Unavailable:
        return Unavailable(
            "temporarily_unavailable",
            f"{self.name} temporarily unavailable: {self._failures} failures in a row; "
            f"next try in {self.retry_in():.0f} s",
        )

    def _failed(self, trial: bool) -> None:
        self._failures += 1
        if trial or self._failures >= self.failure_threshold:
            if self._opened_at is None or trial:
                log.warning("circuit_opened", circuit=self.name, failures=self._failures)
            self._opened_at = self._clock()

    def _succeeded(self) -> None:
        if self._opened_at is not None:
            log.info("circuit_closed", circuit=self.name)
        self._failures = 0
        self._opened_at = None


@dataclass(frozen=True, slots=True)
class Cached(Generic[T]):
    """A read's answer; ``age`` is 0 for a fresh one, else seconds since it was fresh."""

    value: T
    age: float

    @property
    def stale(self) -> bool:
        return self.age > 0


class GuardedCalls:
    """Reads with retries and a cache, writes without either, through one breaker."""

    def __init__(
        self,
        breaker: CircuitBreaker,
        *,
        attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.breaker = breaker
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._cache: dict[str, tuple[float, object]] = {}

    async def read(self, key: str, fn: Callable[[], Awaitable[T]]) -> Cached[T]:
        """A fresh answer, or the cached one (with its age) while the dependency is down."""
        try:
            value = await self._with_retries(fn)
        except Exception as error:
            if not (isinstance(error, Unavailable) or self.breaker.is_transient(error)):
                raise
            hit = self._cache.get(key)
            if hit is None:
                raise self.breaker.refusal() from error
            at, cached = hit
            return Cached(cached, max(self._clock() - at, 1e-9))  # type: ignore[arg-type]
        self._cache[key] = (self._clock(), value)
        return Cached(value, 0.0)

    async def write(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Once, through the breaker: an open breaker refuses with a clear reason."""
        try:
            return await self.breaker.call(fn)
        except Unavailable:
            raise
        except Exception as error:
            if self.breaker.is_transient(error):
                raise self.breaker.refusal() from error
            raise

    async def _with_retries(self, fn: Callable[[], Awaitable[T]]) -> T:
        delay = self.base_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return await self.breaker.call(fn)
            except Unavailable:
                raise
            except Exception as error:
                if not self.breaker.is_transient(error) or attempt == self.attempts:
                    raise
                await self._sleep(delay)
                delay = min(delay * 2, self.max_delay)
        raise AssertionError("unreachable")
