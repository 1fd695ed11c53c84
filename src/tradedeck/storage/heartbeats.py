"""Heartbeats, the watchdog's lease, and the few reads the watchdog judges the platform by.

The trading process and every watchdog prove they are alive by writing a beat every few
seconds: a row of the ``heartbeats`` table, or a Redis key when Redis is configured (a
beat every few seconds from each process is exactly what a key with an expiry is for).
The lease is how two watchdogs share one job: only its holder kills and cancels, the other
stands by and takes over when the lease runs out. Taking or renewing it is one conditional
statement, so two watchdogs can never both hold it.

The kill switch itself stays where the order manager re-checks it inside every write (the
``kill_switch`` table); :meth:`WatchdogQueries.activate_kill_switch` sets it only if it was
off, in one statement, so exactly one caller learns it was the one that halted trading.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from redis.commands.core import AsyncScript
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.domain.money import from_float
from tradedeck.domain.orders import OrderStatus
from tradedeck.storage import models as m
from tradedeck.storage.records import REJECTION_AUDIT
from tradedeck.storage.redis_client import RedisBacked

MAIN = "main"
"""The name the trading process (``tradedeck run``) beats under."""
WATCHDOG_PREFIX = "watchdog:"
"""Each watchdog beats under ``watchdog:<its id>``."""
LEASE = "watchdog.lease"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Beat:
    name: str
    owner: str
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)

    def age(self, now: datetime | None = None) -> float:
        """Seconds since the beat (never negative: clocks of two hosts may disagree)."""
        return max(0.0, ((now or _utcnow()) - self.at).total_seconds())


class HeartbeatStore(Protocol):
    async def beat(self, name: str, owner: str, detail: Mapping[str, Any] | None = None) -> None:
        """Record that ``name`` (run by ``owner``) is alive now."""

    async def read(self, name: str) -> Beat | None: ...

    async def watchdogs(self) -> list[Beat]:
        """Every watchdog's last beat, newest first."""

    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds; False when another holds it."""

    async def close(self) -> None: ...


def _dump(detail: Mapping[str, Any] | None) -> str | None:
    return None if not detail else json.dumps(dict(detail), separators=(",", ":"), default=str)


def _load(text: str | bytes | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class DatabaseHeartbeats:
    """Beats and the lease as rows; the default, and always right for the watchdog's lease
    when the database is the state the watchdog acts on."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def beat(self, name: str, owner: str, detail: Mapping[str, Any] | None = None) -> None:
        values = {"owner": owner, "beat_at": _utcnow(), "detail": _dump(detail)}
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(m.heartbeats).where(m.heartbeats.c.name == name).values(**values)
            )
            if not done.rowcount:
                try:
                    async with conn.begin_nested():
                        await conn.execute(insert(m.heartbeats).values(name=name, **values))
                except IntegrityError:  # another writer inserted it first: ours is newer
                    await conn.execute(
                        update(m.heartbeats).where(m.heartbeats.c.name == name).values(**values)
                    )

    async def read(self, name: str) -> Beat | None:
        query = select(m.heartbeats).where(m.heartbeats.c.name == name)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _beat(row)

    async def watchdogs(self) -> list[Beat]:
        query = (
            select(m.heartbeats)
            .where(m.heartbeats.c.name.startswith(WATCHDOG_PREFIX))
            .order_by(m.heartbeats.c.beat_at.desc())
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_beat(r) for r in rows]

    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        now = _utcnow()
        values = {"owner": owner, "beat_at": now, "expires_at": now + timedelta(seconds=ttl)}
        c = m.heartbeats.c
        async with self._engine.begin() as conn:
            renewed = await conn.execute(
                update(m.heartbeats)
                .where(c.name == name, or_(c.owner == owner, c.expires_at < now))
                .values(**values)
            )
            if renewed.rowcount:
                return True
            try:
                async with conn.begin_nested():
                    await conn.execute(insert(m.heartbeats).values(name=name, **values))
            except IntegrityError:  # held by someone else, and not expired
                return False
        return True

    async def close(self) -> None:
        return None


def _beat(row: Any) -> Beat:
    return Beat(row["name"], row["owner"], row["beat_at"], _load(row["detail"]))


class RedisHeartbeats(RedisBacked):
    """Beats as Redis keys that expire on their own (a day: a dead process's last beat stays
    readable long enough to say how long it has been dead); the lease is ``SET NX PX``."""

    BEAT_TTL_MS = 86_400_000
    _renew: AsyncScript | None = None

    async def beat(self, name: str, owner: str, detail: Mapping[str, Any] | None = None) -> None:
        payload = {"owner": owner, "at": _utcnow().isoformat(), "detail": dict(detail or {})}
        await self._redis.set(
            f"{self._prefix}hb:{name}", json.dumps(payload, default=str), px=self.BEAT_TTL_MS
        )

    async def read(self, name: str) -> Beat | None:
        return _redis_beat(name, await self._redis.get(f"{self._prefix}hb:{name}"))

    async def watchdogs(self) -> list[Beat]:
        pattern = f"{self._prefix}hb:{WATCHDOG_PREFIX}*"
        keys = [key async for key in self._redis.scan_iter(match=pattern, count=100)]
        beats: list[Beat] = []
        for key, raw in zip(keys, await self._redis.mget(keys) if keys else [], strict=True):
            text = key.decode() if isinstance(key, bytes) else str(key)
            beat = _redis_beat(text.removeprefix(f"{self._prefix}hb:"), raw)
            if beat is not None:
                beats.append(beat)
        return sorted(beats, key=lambda b: b.at, reverse=True)

    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        key = f"{self._prefix}lease:{name}"
        ms = max(1, int(ttl * 1000))
        if await self._redis.set(key, owner, nx=True, px=ms):
            return True
        # Renew only our own lease: compare and extend in one server-side step. The script
        # is a constant registered once (EVALSHA); the key and owner travel as KEYS/ARGV
        # data, never as script text.
        if self._renew is None:
            self._renew = self._redis.register_script(_RENEW)
        renewed = await self._renew(keys=[key], args=[owner, ms])
        return bool(renewed)


_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def _redis_beat(name: str, raw: bytes | str | None) -> Beat | None:
    payload = _load(raw)
    try:
        at = datetime.fromisoformat(str(payload["at"]))
    except (KeyError, ValueError):
        return None
    detail = payload.get("detail")
    return Beat(name, str(payload.get("owner", "")), at, detail if isinstance(detail, dict) else {})


def make_heartbeats(engine: AsyncEngine, redis_url: str | None) -> HeartbeatStore:
    """Redis when configured (its own client, closed by ``close``), else the database."""
    if redis_url:
        return RedisHeartbeats.from_url(redis_url)
    return DatabaseHeartbeats(engine)


class WatchdogQueries:
    """What the watchdog reads to judge the platform, and its one conditional write."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def activate_kill_switch(self, reason: str, actor: str) -> bool:
        """Turn the stored kill switch on; True only for the caller that turned it on."""
        now = _utcnow()
        values = {"active": True, "reason": reason, "actor": actor, "changed_at": now}
        c = m.kill_switch.c
        async with self._engine.begin() as conn:
            flipped = await conn.execute(
                update(m.kill_switch).where(c.id == 1, c.active.is_(False)).values(**values)
            )
            if flipped.rowcount:
                return True
            try:
                async with conn.begin_nested():
                    await conn.execute(insert(m.kill_switch).values(id=1, **values))
            except IntegrityError:  # the row exists, so the switch was already on
                return False
        return True

    async def rejections_since(self, since: datetime) -> int:
        """Orders rejected since ``since``: those stored as rejected (an order the exchange
        refused after accepting it) and those refused at placement, which leave only their
        audit record (insufficient funds, the exchange's own refusals): the same signal of
        something going wrong."""
        e, a = m.order_events.c, m.audit_log.c
        ended = (
            select(func.count())
            .select_from(m.order_events)
            .where(e.status == OrderStatus.REJECTED.value, e.at >= since)
        )
        refused = (
            select(func.count())
            .select_from(m.audit_log)
            .where(a.action == REJECTION_AUDIT, a.at >= since)
        )
        async with self._engine.connect() as conn:
            return int((await conn.execute(ended)).scalar() or 0) + int(
                (await conn.execute(refused)).scalar() or 0
            )

    async def last_prices(self) -> dict[str, Decimal]:
        """Each stored market's latest close (the candles the trading process recorded)."""
        c = m.candles.c
        latest = (
            select(c.symbol, func.max(c.opened_at).label("opened_at")).group_by(c.symbol).subquery()
        )
        query = select(c.symbol, c.close).join(
            latest, (latest.c.symbol == c.symbol) & (latest.c.opened_at == c.opened_at)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {symbol: from_float(close) for symbol, close in rows}
