"""Handlers are declared at import but registered on a fresh Router for every dispatcher:
aiogram routers can belong to one parent only, and the app may be built many times in
one process (tests do), so nothing mutable is shared between instances.

Registration also makes every filter a coroutine: aiogram runs a plain callable (a magic
filter such as ``F.text`` included) in a worker thread, and a thread hop per filter per
update cost more than the rest of the dispatch put together.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.state import State
from magic_filter import MagicFilter

HandlerFn = Callable[..., Any]


class Routes:
    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: list[tuple[str, HandlerFn, tuple[Any, ...], dict[str, Any]]] = []

    def _declare(
        self, kind: str, filters: tuple[Any, ...], flags: dict[str, Any] | None
    ) -> Callable[[HandlerFn], HandlerFn]:
        def declare(handler: HandlerFn) -> HandlerFn:
            self._entries.append((kind, handler, filters, flags or {}))
            return handler

        return declare

    def message(
        self, *filters: Any, flags: dict[str, Any] | None = None
    ) -> Callable[[HandlerFn], HandlerFn]:
        return self._declare("message", filters, flags)

    def callback_query(
        self, *filters: Any, flags: dict[str, Any] | None = None
    ) -> Callable[[HandlerFn], HandlerFn]:
        return self._declare("callback_query", filters, flags)

    def build(self) -> Router:
        router = Router(name=self.name)
        for kind, handler, filters, flags in self._entries:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"handler {handler.__qualname__} must be async")
            inline = [_inline(f) for f in filters]
            getattr(router, kind).register(handler, *inline, flags=flags)
        return router


class _InlineMagic(Filter):
    """A magic filter evaluated on the event loop (it is pure attribute access)."""

    def __init__(self, magic: MagicFilter) -> None:
        self._magic = magic

    async def __call__(self, event: Any) -> Any:
        return self._magic.resolve(event)


def _inline(candidate: Any) -> Any:
    if isinstance(candidate, MagicFilter):
        return _InlineMagic(candidate)
    if isinstance(candidate, State):
        return StateFilter(candidate)
    if isinstance(candidate, Filter) or inspect.iscoroutinefunction(candidate):
        return candidate
    raise TypeError(f"filter {candidate!r} must be async, a Filter or a magic filter")
