"""Fail-closed confirmation of dangerous actions (trades, closes, kill, risk changes).

The bot shows a preview with Confirm/Cancel buttons; the action itself stays server-side
under a short random id, and the buttons carry only that id and an HMAC binding it to the
Telegram user and the kind of action. Pressing Confirm pops the action from the store, so:

* a forged or tampered button never reaches an action (``forged``);
* someone else pressing the button in a group chat is refused *without* destroying the
  owner's pending action (``foreign``);
* a second tap, a replay of an old callback, or a press after the TTL finds nothing
  (``expired``): single use comes from the store's atomic ``pop``, not from a flag that
  two concurrent taps could both read as unset.

Every doubt ends in refusal; nothing here ever falls back to executing.

The HMAC covers the action's kind, which lives only in the store, so the signature is
checked against the stored action; the store is only *read* before the check passes, and
the destructive ``pop`` happens only for the owner with a valid signature.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tradedeck.domain.errors import DomainError
from tradedeck.storage.kv import KeyValueStore

Verb = Literal["ok", "no"]
ErrorCode = Literal["forged", "expired", "foreign"]

CALLBACK_PREFIX = "cf"
MAX_CALLBACK_BYTES = 64  # Telegram's limit on callback_data
MIN_SECRET_BYTES = 16
_ID_BYTES = 6  # 8 url-safe base64 characters, 48 random bits
_SIG_CHARS = 16  # 64 bits of HMAC: far beyond guessing within a 30-second window
_STORE_PREFIX = "confirm:"
_CALLBACK = re.compile(r"cf:(ok|no):([A-Za-z0-9_-]{8}):([0-9a-f]{16})")
_ID = re.compile(r"[A-Za-z0-9_-]{8}")
_SIG = re.compile(r"[0-9a-f]{16}")


class PendingAction(BaseModel):
    """What the user is asked to confirm, exactly as it will be executed.

    ``params`` are strings so the stored copy round-trips without float or Decimal drift;
    the handler that executes re-parses them with its own validation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    user_id: int
    params: dict[str, str] = Field(default_factory=dict)
    summary: str
    created_at: float = Field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ConfirmationToken:
    """What the buttons carry: the action's id and its HMAC, nothing a user could edit."""

    id: str
    signature: str
    expires_at: float


class ConfirmationError(DomainError):
    """A refused confirmation; ``code`` is one of ``forged``, ``expired``, ``foreign``."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(code, detail)
        self.code: ErrorCode = code


class _Envelope(BaseModel):
    """Stored form: the action plus the service's own deadline.

    The deadline is checked as well as the store's TTL, so expiry holds even on a store
    whose TTL rounds up or sweeps lazily.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: PendingAction
    expires_at: float


class ConfirmationService:
    """Issues and redeems single-use, user-bound confirmation tokens.

    The store is shared with other components, so keys are prefixed; with a Redis or
    database store, a confirmation survives a restart and works across workers.
    """

    def __init__(
        self,
        store: KeyValueStore,
        secret: bytes,
        *,
        ttl_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes")
        if not ttl_seconds > 0 or not math.isfinite(ttl_seconds):
            raise ValueError(f"ttl_seconds must be positive and finite, got {ttl_seconds!r}")
        self._store = store
        self._secret = secret
        self._ttl = ttl_seconds
        self._clock = clock

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    async def create(self, action: PendingAction) -> ConfirmationToken:
        """Park ``action`` under a fresh id for the TTL and return the token for the buttons."""
        action_id = secrets.token_urlsafe(_ID_BYTES)
        expires_at = self._clock() + self._ttl
        envelope = _Envelope(action=action, expires_at=expires_at)
        await self._store.set(self._key(action_id), envelope.model_dump_json(), self._ttl)
        signature = self._sign(action_id, action.user_id, action.kind)
        return ConfirmationToken(id=action_id, signature=signature, expires_at=expires_at)

    @staticmethod
    def callback_data(token: ConfirmationToken, verb: Verb) -> str:
        """``cf:<verb>:<id>:<sig>``: 31 bytes, well under Telegram's 64."""
        if verb not in ("ok", "no"):
            raise ValueError(f"verb must be 'ok' or 'no', got {verb!r}")
        data = f"{CALLBACK_PREFIX}:{verb}:{token.id}:{token.signature}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:  # only a hand-built token can get here
            raise ValueError("callback data would exceed Telegram's 64 bytes")
        return data

    @staticmethod
    def parse_callback(data: str) -> tuple[Verb, str, str] | None:
        """Split callback data, or None when it is not exactly ours (never guess)."""
        match = _CALLBACK.fullmatch(data)
        if match is None:
            return None
        verb: Verb = "ok" if match.group(1) == "ok" else "no"
        return verb, match.group(2), match.group(3)

    async def consume(self, user_id: int, action_id: str, signature: str) -> PendingAction:
        """Redeem the token once: the action to execute, or :class:`ConfirmationError`."""
        return await self._redeem(user_id, action_id, signature)

    async def cancel(self, user_id: int, action_id: str, signature: str) -> PendingAction:
        """Discard the action, with the same checks: nobody else can cancel it for its owner."""
        return await self._redeem(user_id, action_id, signature)

    async def _redeem(self, user_id: int, action_id: str, signature: str) -> PendingAction:
        if _ID.fullmatch(action_id) is None or _SIG.fullmatch(signature) is None:
            raise ConfirmationError("forged", "This button was not issued by this bot.")
        key = self._key(action_id)
        self._check(user_id, action_id, signature, self._load(await self._store.get(key)))
        # Only the owner with a valid signature gets here; the pop makes it single use.
        popped = self._load(await self._store.pop(key))
        self._check(user_id, action_id, signature, popped)
        return popped.action

    def _check(self, user_id: int, action_id: str, signature: str, found: _Envelope) -> None:
        action = found.action
        if not self._verify(signature, action_id, user_id, action.kind):
            if action.user_id != user_id and self._verify(
                signature, action_id, action.user_id, action.kind
            ):
                raise ConfirmationError("foreign", "This confirmation belongs to someone else.")
            raise ConfirmationError("forged", "This button was not issued by this bot.")
        if action.user_id != user_id:  # a valid MAC for this user on another's action
            raise ConfirmationError("foreign", "This confirmation belongs to someone else.")
        if found.expires_at <= self._clock():
            raise ConfirmationError("expired", "This confirmation has expired; start again.")

    def _load(self, raw: str | None) -> _Envelope:
        if raw is None:
            raise ConfirmationError("expired", "This confirmation has expired or was used.")
        try:
            return _Envelope.model_validate_json(raw)
        except ValidationError:
            # Unreadable means untrusted; refusing is the only safe reading.
            raise ConfirmationError("expired", "This confirmation is no longer valid.") from None

    def _sign(self, action_id: str, user_id: int, kind: str) -> str:
        message = f"{action_id}:{user_id}:{kind}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:_SIG_CHARS]

    def _verify(self, signature: str, action_id: str, user_id: int, kind: str) -> bool:
        return hmac.compare_digest(signature, self._sign(action_id, user_id, kind))

    @staticmethod
    def _key(action_id: str) -> str:
        return _STORE_PREFIX + action_id
