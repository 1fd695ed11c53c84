"""Roles, permissions and the actor every service call carries.

Services check permissions themselves, so the REST API, the bot and the CLI cannot
drift apart; faces may check first, never instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tradedeck.domain.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    TRADER = "trader"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"
    TRADE = "trade"
    KILL_ACTIVATE = "kill_activate"
    KILL_RESUME = "kill_resume"
    MANAGE_RISK = "manage_risk"
    MANAGE_USERS = "manage_users"
    MANAGE_JOBS = "manage_jobs"  # run a scheduled job (scan, revalidation, ...) by hand
    VIEW_SYSTEM = "view_system"  # resources, logs and errors: they name users and hosts


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    # A trader may pull the kill switch (a panic button must never be out of reach)
    # but only an admin may resume trading.
    Role.TRADER: frozenset({Permission.READ, Permission.TRADE, Permission.KILL_ACTIVATE}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a user (or the system itself), their role, and the face they came through."""

    name: str
    role: Role
    channel: str
    user_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied(
                "forbidden",
                f"role {self.role.value} may not {permission.value.replace('_', ' ')}",
            )


SYSTEM = Actor(name="system", role=Role.ADMIN, channel="system")
