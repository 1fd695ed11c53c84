"""A local Telegram Bot API for a bot that cannot reach Telegram, and people to talk to it.

``BotApiEmulator`` answers Bot API calls over HTTP with Telegram's own rules and errors;
``sandbox_router`` serves it together with a browser chat; ``TelegramUser`` lets a test act as
a Telegram user. Importing this package starts nothing.
"""

from tradedeck.sandbox.app import create_sandbox_app, mount_sandbox, sandbox_router
from tradedeck.sandbox.driver import TelegramUser
from tradedeck.sandbox.emulator import BotApiEmulator
from tradedeck.sandbox.errors import UserActionError
from tradedeck.sandbox.limits import FloodLimits
from tradedeck.sandbox.models import ApiCall, FileInfo, InlineButton, SandboxUser, SentMessage

__all__ = [
    "ApiCall",
    "BotApiEmulator",
    "FileInfo",
    "FloodLimits",
    "InlineButton",
    "SandboxUser",
    "SentMessage",
    "TelegramUser",
    "UserActionError",
    "create_sandbox_app",
    "mount_sandbox",
    "sandbox_router",
]
