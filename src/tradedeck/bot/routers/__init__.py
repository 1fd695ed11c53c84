"""Routers by area; `build_router` assembles them in the order they must match."""

from __future__ import annotations

from aiogram import Router

from tradedeck.bot.routers import control, portfolio, settings, start, trade


def build_router() -> Router:
    root = Router(name="tradedeck")
    # The trade flow first: its state filters must see typed amounts before anything else.
    for module in (trade, control, portfolio, settings, start):
        root.include_router(module.router.build())
    return root
