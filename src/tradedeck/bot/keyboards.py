"""Inline keyboards. Button data stays far below Telegram's 64-byte limit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from tradedeck.bot.callbacks import (
    AmountCb,
    CancelOrderCb,
    ClosePositionCb,
    FlowCancelCb,
    KillSwitchCb,
    LevelCb,
    MenuCb,
    PageCb,
    PickSymbolCb,
    RefreshCb,
)

MENU = (
    ("💼 Portfolio", "portfolio"),
    ("📋 Orders", "orders"),
    ("💱 Trade", "trade"),
    ("📈 Markets", "markets"),
    ("🔔 Settings", "settings"),
    ("🖥 System", "system"),
)


def rows(buttons: Sequence[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def main_menu() -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=label, callback_data=MenuCb(section=key).pack())
        for label, key in MENU
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows(buttons, 2))


def refresh(
    view: str, extra: list[list[InlineKeyboardButton]] | None = None
) -> InlineKeyboardMarkup:
    """``extra`` rows, then a Refresh button that re-renders ``view`` in place."""
    keyboard = list(extra or [])
    keyboard.append(
        [InlineKeyboardButton(text="🔄 Refresh", callback_data=RefreshCb(view=view).pack())]
    )
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


def kill_switch_button(active: bool) -> list[InlineKeyboardButton]:
    """Halt trading, or resume it once halted; either still asks to confirm."""
    label = "✅ Resume trading" if active else "🛑 Halt trading"
    return [InlineKeyboardButton(text=label, callback_data=KillSwitchCb(on=not active).pack())]


SYSTEM_VIEWS = (("🩺 Health", "health"), ("📜 Logs", "logs"), ("⚠️ Errors", "errors"))


def system_buttons() -> list[list[InlineKeyboardButton]]:
    """One row to move between the admin's system screens."""
    return [
        [
            InlineKeyboardButton(text=label, callback_data=RefreshCb(view=view).pack())
            for label, view in SYSTEM_VIEWS
        ]
    ]


def pager(view: str, page: int, pages: int) -> list[InlineKeyboardButton]:
    buttons = []
    if page > 0:
        buttons.append(
            InlineKeyboardButton(
                text="◀ Previous", callback_data=PageCb(view=view, page=page - 1).pack()
            )
        )
    if page + 1 < pages:
        buttons.append(
            InlineKeyboardButton(
                text="Next ▶", callback_data=PageCb(view=view, page=page + 1).pack()
            )
        )
    return buttons


def symbols(side: str, names: Iterable[str]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=s, callback_data=PickSymbolCb(side=side, symbol=s).pack())
        for s in names
    ]
    keyboard = rows(buttons, 3)
    keyboard.append([cancel_flow_button()])
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


def amounts() -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=f"{p}%", callback_data=AmountCb(percent=p).pack())
        for p in (25, 50, 100)
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons, [cancel_flow_button()]])


def cancel_flow_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text="✖ Cancel", callback_data=FlowCancelCb().pack())


def confirm(ok_data: str, no_data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="✅ Confirm", callback_data=ok_data),
                InlineKeyboardButton(text="✖ Cancel", callback_data=no_data),
            ]
        ]
    )


def order_buttons(order_ids: Sequence[str]) -> list[list[InlineKeyboardButton]]:
    return [
        [
            InlineKeyboardButton(
                text=f"✖ Cancel {oid[:8]}", callback_data=CancelOrderCb(order_id=oid).pack()
            )
        ]
        for oid in order_ids
    ]


def position_buttons(symbols: Sequence[str]) -> list[list[InlineKeyboardButton]]:
    """A close button per position, two to a row (a close still asks to confirm)."""
    buttons = [
        InlineKeyboardButton(
            text=f"✖ Close {symbol}", callback_data=ClosePositionCb(symbol=symbol).pack()
        )
        for symbol in symbols
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def levels(current: dict[str, str], labels: dict[str, str]) -> InlineKeyboardMarkup:
    keyboard = []
    for group, label in labels.items():
        level = current.get(group, "on")
        following = {"on": "silent", "silent": "off", "off": "on"}[level]
        icon = {"on": "🔔", "silent": "🔕", "off": "🚫"}[level]
        keyboard.append(
            [
                InlineKeyboardButton(
                    text=f"{icon} {label}: {level}",
                    callback_data=LevelCb(group=group, level=following).pack(),
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=keyboard)
