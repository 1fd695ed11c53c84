"""Sending a screen: a new message for a command, an edit in place for a button."""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from tradedeck.bot.views import Screen
from tradedeck.domain.errors import DomainError
from tradedeck.notify.text import escape, split_html


async def send(message: Message, screen: Screen) -> None:
    parts = split_html(screen.text)
    for part in parts[:-1]:
        await message.answer(part)
    await message.answer(parts[-1], reply_markup=screen.markup)


async def edit(query: CallbackQuery, screen: Screen) -> None:
    """Replace the pressed message; an unchanged screen is not an error to the user."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer()
        return
    note = None
    try:
        await message.edit_text(split_html(screen.text)[0], reply_markup=screen.markup)
    except TelegramBadRequest as error:
        if "not modified" not in error.message:
            raise
        note = "Up to date"
    with contextlib.suppress(TelegramBadRequest):  # a press too old to answer is harmless
        await query.answer(note)


def refusal(error: DomainError) -> str:
    return f"❌ {escape(error.detail)}"
