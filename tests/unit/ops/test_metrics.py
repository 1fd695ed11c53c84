from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Response
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from tradedeck.ops.http_metrics import RequestMetricsMiddleware
from tradedeck.ops.metrics import LATENCY_BUCKETS, Metrics


def build_app(metrics: Metrics) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)

    orders = APIRouter(prefix="/orders")

    @orders.get("/{order_id}")
    async def get_order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    app.include_router(orders, prefix="/api/v1")

    shared = APIRouter()

    @shared.get("/{item_id}")
    async def get_item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    app.include_router(shared, prefix="/a")
    app.include_router(shared, prefix="/b")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        payload, content_type = metrics.render()
        return Response(payload, media_type=content_type)

    return app


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    payload, _ = metrics.render()
    found = {}
    for family in text_string_to_metric_families(payload.decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def count(metrics: Metrics, method: str, route: str, status: str) -> float:
    key = (("method", method), ("route", route), ("status", status))
    return samples(metrics, "http_request_duration_seconds_count").get(key, 0.0)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def client(metrics: Metrics) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(metrics), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_records_route_template_not_raw_path(
    client: httpx.AsyncClient, metrics: Metrics
) -> None:
    for order_id in (1, 2, 3):
        assert (await client.get(f"/api/v1/orders/{order_id}")).status_code == 200
    assert count(metrics, "GET", "/api/v1/orders/{order_id}", "200") == 3
    assert not any(
        "/api/v1/orders/1" in dict(k)["route"]
        for k in samples(metrics, "http_request_duration_seconds_count")
    )


async def test_router_included_twice_is_told_apart_by_prefix(
    client: httpx.AsyncClient, metrics: Metrics
) -> None:
    await client.get("/a/x")
    await client.get("/b/y")
    assert count(metrics, "GET", "/a/{item_id}", "200") == 1
    assert count(metrics, "GET", "/b/{item_id}", "200") == 1


async def test_status_codes_are_labelled(client: httpx.AsyncClient, metrics: Metrics) -> None:
    assert (await client.get("/api/v1/orders/not-an-int")).status_code == 422
    assert (await client.post("/health")).status_code == 405
    assert (await client.get("/boom")).status_code == 500
    assert count(metrics, "GET", "/api/v1/orders/{order_id}", "422") == 1
    assert count(metrics, "POST", "/health", "405") == 1
    assert count(metrics, "GET", "/boom", "500") == 1


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient, metrics: Metrics) -> None:
    for path in ("/nope", "/wp-admin.php", "/api/v1/orders/1/extra"):
        assert (await client.get(path)).status_code == 404
    assert count(metrics, "GET", "unmatched", "404") == 3


async def test_unusual_methods_share_one_label(client: httpx.AsyncClient, metrics: Metrics) -> None:
    await client.request("PROPFIND", "/health")
    assert count(metrics, "OTHER", "/health", "405") == 1


async def test_latency_lands_in_buckets(client: httpx.AsyncClient, metrics: Metrics) -> None:
    await client.get("/health")
    key = (("method", "GET"), ("route", "/health"), ("status", "200"))
    total = samples(metrics, "http_request_duration_seconds_sum")[key]
    assert 0 < total < 1
    buckets = {
        dict(k)["le"]
        for k in samples(metrics, "http_request_duration_seconds_bucket")
        if dict(k)["route"] == "/health"
    }
    assert {"0.001", "1.0", "+Inf"} <= buckets
    assert len(buckets) == len(LATENCY_BUCKETS) + 1


async def test_metrics_endpoint_serves_all_metric_names(
    client: httpx.AsyncClient, metrics: Metrics
) -> None:
    metrics.orders_total.labels(side="buy", type="market", status="filled").inc()
    metrics.order_rejections_total.labels(reason="insufficient_funds").inc()
    metrics.signals_total.labels(outcome="accepted").inc()
    metrics.kill_switch_active.set(1)
    await client.get("/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    for name in (
        "orders_total",
        "order_rejections_total",
        "signals_total",
        "http_request_duration_seconds",
        "kill_switch_active",
    ):
        assert f"# TYPE {name}" in body
    assert 'orders_total{side="buy",status="filled",type="market"} 1.0' in body
    assert "kill_switch_active 1.0" in body


def test_render_returns_payload_and_content_type(metrics: Metrics) -> None:
    payload, content_type = metrics.render()
    assert isinstance(payload, bytes)
    assert b"# HELP kill_switch_active" in payload
    assert content_type.startswith("text/plain; version=")


def test_several_apps_have_independent_registries() -> None:
    first, second = Metrics(), Metrics()
    first.signals_total.labels(outcome="accepted").inc()
    assert samples(first, "signals_total") == {(("outcome", "accepted"),): 1.0}
    assert samples(second, "signals_total") == {}
    build_app(first)
    build_app(second)


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.js").write_text("1")
    return tmp_path


async def test_plain_starlette_app_and_mounts(static_dir: Path) -> None:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    metrics = Metrics()
    app = Starlette(
        routes=[
            Route("/items/{item_id}", ok),
            Mount("/sub", routes=[Route("/things/{thing_id}", ok)]),
            Mount("/static", StaticFiles(directory=static_dir)),
        ],
        middleware=[Middleware(RequestMetricsMiddleware, metrics=metrics)],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/items/7")).status_code == 200
        assert (await client.get("/sub/things/8")).status_code == 200
        assert (await client.get("/static/app.js")).status_code == 200
        assert (await client.get("/static/missing.js")).status_code == 404
    assert count(metrics, "GET", "/items/{item_id}", "200") == 1
    assert count(metrics, "GET", "/sub/things/{thing_id}", "200") == 1
    assert count(metrics, "GET", "/static/{path}", "200") == 1
    assert count(metrics, "GET", "/static/{path}", "404") == 1


async def test_non_http_scopes_pass_through(metrics: Metrics) -> None:
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    middleware = RequestMetricsMiddleware(app, metrics)
    await middleware({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]
    assert samples(metrics, "http_request_duration_seconds_count") == {}
