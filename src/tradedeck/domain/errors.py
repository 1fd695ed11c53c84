"""Domain errors carry a stable machine code and a sentence a trader can read.

Faces map the class to their own idiom (HTTP status, a short bot reply); the code and the
sentence travel unchanged, so a refusal reads the same everywhere.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the core makes on purpose."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class InvalidInput(DomainError):
    """The request itself is wrong (unknown symbol, bad precision, negative amount)."""


class NotFound(DomainError):
    """The thing asked for does not exist (or is not the caller's)."""


class PermissionDenied(DomainError):
    """The actor's role does not allow this action."""


class RiskRefused(DomainError):
    """The risk engine refused an otherwise valid order."""


class OrderRejected(DomainError):
    """The exchange refused the order (insufficient funds, below minimums)."""


class Conflict(DomainError):
    """The action clashes with current state (cancel a filled order, duplicate id)."""


class Unavailable(DomainError):
    """A dependency (an exchange, an external API) is down; trying again later may work."""
