"""Users, roles and API tokens: who may call tradedeck and as what.

A token is shown once, when it is made; only its hash is stored. Revoking a user
disables them and every token they hold at once. Authenticated tokens are remembered
for a few seconds so a busy client costs one lookup, not one per request; a revocation
made in this process applies at once, one made by another process (the CLI) within
that time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tradedeck.domain.errors import InvalidInput, NotFound
from tradedeck.domain.roles import Actor, Permission, Role
from tradedeck.security.tokens import hash_token, new_token, token_prefix
from tradedeck.storage.repository import Repository, User

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
AUTH_CACHE_SECONDS = 5.0
_AUTH_CACHE_MAX = 10_000


class UserService:
    def __init__(
        self, repository: Repository, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._repo = repository
        self._monotonic = monotonic
        self._known: dict[str, tuple[Actor, float]] = {}

    async def create(
        self, actor: Actor, name: str, role: Role | str, telegram_id: int | None = None
    ) -> tuple[User, str]:
        """Create a user with a first API token; returns the user and the token (once)."""
        actor.require(Permission.MANAGE_USERS)
        if not _NAME.match(name):
            raise InvalidInput(
                "invalid_name", "name must be 1-64 letters, digits, dots, dashes or underscores"
            )
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInput(
                "invalid_role", f"role must be one of {', '.join(r.value for r in Role)}"
            ) from None
        if telegram_id is not None and telegram_id <= 0:
            raise InvalidInput("invalid_telegram_id", "a Telegram user id is a positive number")
        token = new_token()
        user = await self._repo.create_user(
            name, role, telegram_id, hash_token(token), token_prefix(token)
        )
        await self._repo.audit(actor.name, actor.channel, "users.add", "ok", f"{name} ({role})")
        return user, token

    async def list(self, actor: Actor) -> list[User]:
        actor.require(Permission.MANAGE_USERS)
        return await self._repo.list_users()

    async def revoke(self, actor: Actor, name: str) -> None:
        actor.require(Permission.MANAGE_USERS)
        if not await self._repo.revoke_user(name):
            raise NotFound("user_not_found", f"no user named {name!r}")
        self._known.clear()
        await self._repo.audit(actor.name, actor.channel, "users.revoke", "ok", name)

    async def authenticate(self, token: str, channel: str = "api") -> Actor | None:
        """The actor behind a bearer token, or None for an unknown or revoked one."""
        if not token or len(token) > 256:
            return None
        key = hash_token(token)
        now = self._monotonic()
        cached = self._known.get(key)
        if cached is not None and cached[1] > now and cached[0].channel == channel:
            return cached[0]
        user = await self._repo.user_by_token_hash(key)
        if user is None:
            self._known.pop(key, None)
            return None
        actor = Actor(name=user.name, role=user.role, channel=channel, user_id=user.id)
        if len(self._known) >= _AUTH_CACHE_MAX:
            self._known.clear()
        self._known[key] = (actor, now + AUTH_CACHE_SECONDS)
        return actor
