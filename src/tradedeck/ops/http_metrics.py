"""Request latency, labelled by route template, as plain ASGI middleware.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``: that one runs the app in a separate
task and pipes the response through a memory stream, costing latency on every request and
breaking streaming and context variables; here we only wrap ``send`` to see the status.

The label is the template (``/api/v1/orders/{order_id}``), never the raw path: raw paths carry
ids, so every order would open a new time series, and anyone could grow our memory by
requesting made-up URLs. Requests no route matched share the label ``unmatched``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import fastapi.routing
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradedeck.ops.metrics import Metrics

UNMATCHED = "unmatched"

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# FastAPI 0.137+ keeps included routers as a tree: the matched ``scope["route"]`` only knows its
# path inside its own router, and the prefixes are known to the app. ``iter_route_contexts`` is
# the public way to see the flattened, fully prefixed paths. Older FastAPI copied included
# routes with their prefix, so ``route.path`` is already complete there and this is None.
_iter_route_contexts: Callable[[Sequence[Any]], Iterable[Any]] | None = getattr(
    fastapi.routing, "iter_route_contexts", None
)


class _Entry:
    __slots__ = ("regex", "route", "template")

    def __init__(self, route: object, template: str, regex: re.Pattern[str] | None) -> None:
        self.route = route  # held so the id() it is indexed under cannot be reused
        self.template = template
        self.regex = regex


class _AppIndex:
    """Full templates of one app's routes, keyed by the id of the matched route object."""

    def __init__(self, app: Any, routes: Sequence[Any]) -> None:
        self.app = app
        self.route_count = len(routes)
        self.by_route: dict[int, list[_Entry]] = {}
        if _iter_route_contexts is None:
            return
        for ctx in _iter_route_contexts(routes):
            template = ctx.path_format or ctx.path
            if not isinstance(template, str):
                continue
            regex = getattr(ctx, "path_regex", None)
            original = ctx.original_route
            self.by_route.setdefault(id(original), []).append(
                _Entry(original, template, regex if isinstance(regex, re.Pattern) else None)
            )

    def lookup(self, route: object, route_path: str) -> str | None:
        entries = [e for e in self.by_route.get(id(route), ()) if e.route is route]
        if len(entries) > 1:
            # The same router included under several prefixes: the path decides which.
            for entry in entries:
                if entry.regex is not None and entry.regex.match(route_path):
                    return entry.template
        return entries[0].template if entries else None


class _RouteTemplates:
    """Resolves the route a request matched to its full template.

    Indexes are built lazily on first use, after the app has registered its routes, and again
    only if an app's route list changes length, so a request costs a dict lookup.
    """

    def __init__(self) -> None:
        self._indexes: dict[int, _AppIndex] = {}

    def resolve(self, scope: Scope, root_path_before: str) -> str:
        route = scope.get("route")
        # A Mount moves the matched part of the path into root_path; what was added during
        # this request is the mount prefix that the sub-app's templates are relative to.
        root_path = scope.get("root_path", "")
        mount_prefix = root_path[len(root_path_before) :] if root_path != root_path_before else ""
        if route is None or isinstance(route, Mount):
            # A mount matched but no route inside it did (static files, a sub-app's 404);
            # FastAPI records no route for mounts at all. Label the subtree, not the file.
            if mount_prefix:
                return mount_prefix.rstrip("/") + "/{path}"
            if isinstance(route, Mount):
                return route.path.rstrip("/") + "/{path}"
            return UNMATCHED
        template = self._full_template(scope, route, root_path)
        if template is None:
            return UNMATCHED
        return mount_prefix + template

    def _full_template(self, scope: Scope, route: object, root_path: str) -> str | None:
        app = scope.get("app")
        routes = getattr(app, "routes", None)
        if app is not None and isinstance(routes, Sequence):
            index = self._indexes.get(id(app))
            if index is None or index.app is not app or index.route_count != len(routes):
                index = self._indexes[id(app)] = _AppIndex(app, routes)
            path = scope.get("path", "")
            route_path = path[len(root_path) :] if path.startswith(root_path) else path
            template = index.lookup(route, route_path)
            if template is not None:
                return template
        own = getattr(route, "path", None)
        return own if isinstance(own, str) else None


class RequestMetricsMiddleware:
    """Observe ``http_request_duration_seconds{method,route,status}`` for every HTTP request.

    The route is read after the app has run, because routing happens inside it: the router
    records the match in the shared ``scope`` dict. Failures are timed too, labelled 500 when
    the app raised before sending a status, since slow errors are what latency metrics are for.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates = _RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        root_path_before = scope.get("root_path", "")
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - start
            method = scope.get("method", "")
            self.metrics.http_request_duration_seconds.labels(
                method=method if method in _KNOWN_METHODS else "OTHER",
                route=self._templates.resolve(scope, root_path_before),
                status=str(status),
            ).observe(elapsed)
