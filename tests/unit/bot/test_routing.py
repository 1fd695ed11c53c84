"""Handlers and filters registered through Routes never run in a worker thread."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.state import State, StatesGroup

from tradedeck.bot.routers import build_router
from tradedeck.bot.routing import Routes


class Flow(StatesGroup):
    step = State()


async def handler(message: Any) -> None:
    return None


def test_every_registered_filter_and_handler_is_a_coroutine() -> None:
    root = build_router()
    routers = [root, *root.sub_routers]
    checked = 0
    for router in routers:
        for observer in (router.message, router.callback_query):
            for registered in observer.handlers:
                assert registered.awaitable, registered.callback
                for flt in registered.filters or []:
                    assert flt.awaitable, flt.callback
                    checked += 1
    assert checked > 10


def test_magic_and_state_filters_are_made_async() -> None:
    routes = Routes("t")
    routes.message(Flow.step, F.text.startswith("/"))(handler)
    registered = routes.build().message.handlers[0]
    assert all(f.awaitable for f in registered.filters or [])
    assert isinstance(registered.filters[0].callback, StateFilter)  # type: ignore[index]


def test_a_plain_callable_filter_or_sync_handler_is_refused() -> None:
    routes = Routes("t")
    routes.message(lambda message: True)(handler)
    with pytest.raises(TypeError, match="must be async"):
        routes.build()

    def sync_handler(message: Any) -> None:
        return None

    sync = Routes("s")
    sync.message()(sync_handler)
    with pytest.raises(TypeError, match="must be async"):
        sync.build()
