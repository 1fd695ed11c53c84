"""Routers by area; `build_router` assembles them in the order they must match."""

from __future__ import annotations

from aiogram import Router

from tradedeck.bot.routers import (
    alerts,
    backtest,
    chart,
    control,
    portfolio,
    scan,
    settings,
    start,
    system,
    trade,
    trailing,
)


def build_router() -> Router:
    root = Router(name="tradedeck")
    # The trade flow first: its state filters must see typed amounts before anything else.
    # The scan's page and refresh buttons before portfolio's, which take any other view.
    areas = (
        trade,
        control,
        scan,
        portfolio,
        chart,
        backtest,
        alerts,
        trailing,
        settings,
        system,
        start,
    )
    for module in areas:
        root.include_router(module.router.build())
    return root
