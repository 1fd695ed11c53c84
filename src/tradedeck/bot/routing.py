"""Handlers are declared at import but registered on a fresh Router for every dispatcher:
aiogram routers can belong to one parent only, and the app may be built many times in
one process (tests do), so nothing mutable is shared between instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router

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
            getattr(router, kind).register(handler, *filters, flags=flags)
        return router
