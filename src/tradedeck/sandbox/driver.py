"""``TelegramUser``: a test's Telegram client, acting as one person in one chat.

It reads like a conversation: ``await alice.send("/start")``, ``await alice.next_message()``,
``await alice.press("Confirm")``. ``next_message`` only returns what the bot did after the
user's last action, so a test never mistakes an old reply for the answer it is waiting for.
"""

from __future__ import annotations

from collections.abc import Callable

from tradedeck.sandbox.emulator import BotApiEmulator
from tradedeck.sandbox.errors import UserActionError
from tradedeck.sandbox.models import SandboxUser, SentMessage


class TelegramUser:
    def __init__(
        self,
        emulator: BotApiEmulator,
        token: str,
        user: SandboxUser,
        chat_id: int | None = None,
    ) -> None:
        self.emulator = emulator
        self.token = token
        self.user = user
        self.chat_id = user.id if chat_id is None else chat_id
        self._seen_version = emulator.version

    async def send(self, text: str) -> None:
        self._seen_version = self.emulator.version
        await self.emulator.user_sends(self.token, self.user, text, chat_id=self.chat_id)

    async def press(self, button: str, *, message: SentMessage | None = None) -> str:
        """Press a button by label or callback data, on ``message`` or the latest that has it."""
        target = message or self._latest_with(button)
        found = target.button(button) if target is not None else None
        if target is None or found is None:
            raise UserActionError(f"no bot message in chat {self.chat_id} has a button {button!r}")
        if found.callback_data is None:
            raise UserActionError(f"button {button!r} opens {found.url!r}, it sends no callback")
        self._seen_version = self.emulator.version
        return await self.emulator.user_presses(
            self.token, self.user, self.chat_id, target.message_id, found.callback_data
        )

    async def next_message(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - bounds a wait on emulator state, not on I/O
    ) -> SentMessage:
        """The next bot message or edit since the last action (or the last one returned)."""
        seen = self._seen_version

        def is_next(message: SentMessage) -> bool:
            return message.version > seen and (predicate is None or predicate(message))

        found = await self.emulator.wait_for_message(self.token, self.chat_id, is_next, timeout)
        self._seen_version = found.version
        return found

    def last_message(self) -> SentMessage | None:
        messages = self.messages()
        return messages[-1] if messages else None

    def messages(self) -> list[SentMessage]:
        return self.emulator.messages(self.token, self.chat_id)

    def _latest_with(self, button: str) -> SentMessage | None:
        for message in reversed(self.messages()):
            if message.button(button) is not None:
                return message
        return None
