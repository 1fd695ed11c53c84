"""The two ways a sandbox call can fail: the Bot API refuses it, or a test asked for the impossible.

They are kept apart on purpose. ``BotApiError`` becomes an HTTP answer the bot must cope with,
exactly as from api.telegram.org; ``UserActionError`` is raised into the test itself, because a
simulated user pressing a button that does not exist is a bug in the test or the bot, and must
not be reported to the bot as if Telegram had said something.
"""

from __future__ import annotations

from typing import Any


class BotApiError(Exception):
    """A Bot API refusal, carrying the status and the description Telegram would send."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class UserActionError(Exception):
    """A simulated user was asked to do something no Telegram client lets a person do."""


def bad_request(reason: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> BotApiError:
    return BotApiError(403, f"Forbidden: {reason}")


def conflict(reason: str) -> BotApiError:
    return BotApiError(409, f"Conflict: {reason}")


def too_many_requests(retry_after: int) -> BotApiError:
    return BotApiError(
        429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
    )


def unauthorized() -> BotApiError:
    return BotApiError(401, "Unauthorized")


def not_found() -> BotApiError:
    return BotApiError(404, "Not Found")
