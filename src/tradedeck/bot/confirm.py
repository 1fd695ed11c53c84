"""Fail-closed confirmations: every action that moves money or changes state is shown
as a preview with Confirm/Cancel, and only a valid, fresh, unused button of the same
user executes it (tradedeck.security.confirmations keeps the pending action)."""

from __future__ import annotations

import time

from aiogram.types import CallbackQuery, Message

from tradedeck.bot import keyboards
from tradedeck.bot.context import BotDeps
from tradedeck.security.confirmations import PendingAction

# What always needs a confirmation; a kind missing here cannot be executed at all.
DANGEROUS = frozenset({"buy", "sell", "close", "cancel_order", "kill", "resume"})


async def ask(
    target: Message | CallbackQuery,
    deps: BotDeps,
    telegram_id: int,
    kind: str,
    params: dict[str, str],
    preview: str,
) -> None:
    """Store the action server-side and show its preview with signed buttons."""
    if kind not in DANGEROUS:  # fail closed: an unlisted action cannot be confirmed
        raise ValueError(f"{kind!r} is not a confirmable action")
    action = PendingAction(
        kind=kind, user_id=telegram_id, params=params, summary=preview, created_at=time.time()
    )
    token = await deps.confirmations.create(action)
    markup = keyboards.confirm(
        deps.confirmations.callback_data(token, "ok"), deps.confirmations.callback_data(token, "no")
    )
    text = f"{preview}\n\n<i>Confirm within 30 s.</i>"
    if isinstance(target, CallbackQuery):
        if isinstance(target.message, Message):
            await target.message.edit_text(text, reply_markup=markup)
        await target.answer()
    else:
        await target.answer(text, reply_markup=markup)


REFUSALS = {
    "forged": "⛔ This button is not valid.",
    "foreign": "⛔ This confirmation belongs to someone else.",
    "expired": "⌛ This confirmation expired or was already used. Start again.",
}


def refusal_text(code: str) -> str:
    return REFUSALS.get(code, "⛔ This confirmation cannot be used.")


def done_text(summary: str, outcome: str) -> str:
    return f"{summary}\n\n{outcome}" if summary else outcome
