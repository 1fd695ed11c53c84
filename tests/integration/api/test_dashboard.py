"""The web dashboard as a trader's browser meets it: three files served without a token
under a strict Content-Security-Policy, a script that builds text rather than markup, and
API calls that all exist and answer as the page expects, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import LiveApp, Served, bound_socket
from tradedeck.api.routers import dashboard
from tradedeck.app import create_app
from tradedeck.config import Settings

pytestmark = pytest.mark.asyncio

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
FILES = {
    "/dashboard": "text/html; charset=utf-8",
    "/dashboard/app.js": "text/javascript; charset=utf-8",
    "/dashboard/style.css": "text/css; charset=utf-8",
}
# What the page must show; the script may call more, and every call is checked below.
PANEL_PATHS = {
    "/healthz",
    "/api/v1/kill-switch",
    "/api/v1/balance",
    "/api/v1/pnl",
    "/api/v1/positions",
    "/api/v1/orders?status=open",
    "/api/v1/fills?limit=20",
    "/api/v1/scans/latest",
    "/api/v1/markets",
    "/api/v1/charts/{symbol}.png",
    "/api/v1/system/health",
}
ADMIN_ONLY_PATHS = {"/api/v1/system/health"}
MARKUP_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function"
)


def dashboard_alone() -> FastAPI:
    app = FastAPI()
    app.include_router(dashboard.router)
    return app


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[LiveApp]:
    app = create_app(settings, start_feed=False)
    served = Served(app, bound_socket())
    await served.start()
    try:
        yield LiveApp(served, app.state.services)
    finally:
        await served.stop()


@pytest.fixture
async def files() -> AsyncIterator[httpx.AsyncClient]:
    """The dashboard alone, in process: the file checks need no database."""
    app = dashboard_alone()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def fetch(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.text


def called_paths(script: str) -> set[str]:
    """The API paths in the script's string literals."""
    found = re.findall(r"""(["'`])(/(?:api/v1/[^"'`\s]*|healthz))\1""", script)
    return {path for _, path in found}


def concrete(path: str) -> str:
    return path.replace("{symbol}", "ETH-BTC")


async def test_files_are_served_without_a_token_under_the_security_headers(
    live: LiveApp,
) -> None:
    async with live.client() as browser:
        for path, content_type in FILES.items():
            response = await browser.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-type"] == content_type
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)
            assert response.content
        slash = await browser.get("/dashboard/")
        home = await browser.get("/")
    assert slash.status_code == 308 and slash.headers["location"] == "/dashboard"
    assert home.status_code == 307 and home.headers["location"] == "/dashboard"


async def test_the_page_loads_only_its_own_script_and_style(files: httpx.AsyncClient) -> None:
    page = await fetch(files, "/dashboard")
    references = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page, re.IGNORECASE)
    assert sorted(references) == ["/dashboard/app.js", "/dashboard/style.css"]
    assert not re.search(r"(https?:)?//[\w.-]+\.\w", page), "a URL of another origin"
    # Nothing inline, so the CSP has nothing to allow: no script body, no style, no handler.
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", page, re.IGNORECASE)
    assert not re.search(r"<style\b", page, re.IGNORECASE)
    assert not re.search(r"""\sstyle\s*=""", page, re.IGNORECASE)
    assert not re.search(r"""\son[a-z]+\s*=""", page, re.IGNORECASE)
    # The token field has no name, so even a submitted form could not carry it anywhere.
    token_input = re.search(r"<input\b[^>]*\bid=\"token\"[^>]*>", page, re.DOTALL)
    assert token_input and 'type="password"' in token_input[0]
    assert "name=" not in token_input[0]
    assert 'name="viewport"' in page

    style = await fetch(files, "/dashboard/style.css")
    assert not re.search(r"url\(|@import", style), "the style sheet loads nothing"
    assert "@media (max-width: 700px)" in style


async def test_the_script_builds_text_and_keeps_the_token_in_the_tab(
    files: httpx.AsyncClient,
) -> None:
    script = await fetch(files, "/dashboard/app.js")
    assert not MARKUP_SINKS.search(script)
    assert not re.search(r"https?://", script), "the script talks to this origin only"
    assert "textContent" in script and "createElement" in script
    # sessionStorage only: no cookie, no localStorage, and no token in a URL.
    assert "sessionStorage" in script
    assert "localStorage" not in script and "document.cookie" not in script
    assert re.search(r"Authorization: `Bearer \$\{state\.token\}`", script)
    assert "token=" not in script
    # The refresh pauses while the tab is hidden; each chart blob is let go.
    assert 'document.visibilityState === "visible"' in script
    assert "URL.revokeObjectURL" in script


async def test_every_path_the_script_calls_exists_and_needs_the_token(
    files: httpx.AsyncClient, live: LiveApp
) -> None:
    script = await fetch(files, "/dashboard/app.js")
    paths = called_paths(script)
    assert paths >= PANEL_PATHS, PANEL_PATHS - paths
    admin = await live.token("ada", "admin")
    async with live.client(admin) as api, live.client() as anonymous:
        for path in sorted(paths):
            url = concrete(path)
            assert "{" not in url, f"a path parameter the test does not fill: {path}"
            answer = await api.get(url)
            assert answer.status_code == 200, (path, answer.text)
            if path == "/healthz":
                continue
            refused = await anonymous.get(url)
            assert refused.status_code == 401, (path, refused.text)
            assert refused.json()["error"] == "unauthorized" and refused.json()["detail"]
    # A revoked or mistyped token: the sign-in box shows this sentence.
    async with live.client("not-a-token") as stranger:
        refused = await stranger.get("/api/v1/balance")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the API token is unknown or revoked"


async def test_the_chart_picker_offers_only_charts_that_exist(
    files: httpx.AsyncClient, live: LiveApp
) -> None:
    page = await fetch(files, "/dashboard")
    picker = re.search(r'<select id="chart-timeframe">(.*?)</select>', page, re.DOTALL)
    assert picker
    timeframes = re.findall(r'<option value="([^"]*)"', picker[1])
    assert "" in timeframes and len(timeframes) > 1
    viewer = await live.token("vic", "viewer")
    drawn: list[str] = []
    async with live.client(viewer) as api:
        markets = (await api.get("/api/v1/markets")).json()
        assert {f"{m['base']}-{m['quote']}" for m in markets} >= {"ETH-BTC", "BTC-USDT"}
        for timeframe in timeframes:
            params = {"timeframe": timeframe} if timeframe else {}
            chart = await api.get("/api/v1/charts/ETH-BTC.png", params=params)
            if chart.status_code == 404 and timeframe:
                # A young market (this one holds a day) lacks long candles for a while;
                # the panel then shows this sentence. Never an unknown timeframe (422).
                assert chart.json()["error"] == "not_enough_candles", chart.text
                continue
            assert chart.status_code == 200, (timeframe, chart.text)
            assert chart.headers["content-type"] == "image/png" and chart.headers["etag"]
            drawn.append(timeframe)
    assert drawn[:2] == ["", "5m"], drawn  # as recorded, and its own timeframe


async def test_a_viewer_reads_every_panel_but_system_health(
    files: httpx.AsyncClient, live: LiveApp
) -> None:
    script = await fetch(files, "/dashboard/app.js")
    viewer = await live.token("vic", "viewer")
    async with live.client(viewer) as api:
        for path in sorted(called_paths(script) - ADMIN_ONLY_PATHS):
            answer = await api.get(concrete(path))
            assert answer.status_code == 200, (path, answer.text)
        system = await api.get("/api/v1/system/health")
    assert system.status_code == 403  # the panel shows this detail instead of breaking
    assert system.json()["detail"] == "role viewer may not view system"


async def test_the_kill_switch_as_the_page_pulls_and_releases_it(live: LiveApp) -> None:
    admin = await live.token("ada", "admin")
    trader = await live.token("tom", "trader")
    viewer = await live.token("vic", "viewer")
    async with (
        live.client(admin) as ada,
        live.client(trader) as tom,
        live.client(viewer) as vic,
    ):
        resting = await tom.post(
            "/api/v1/orders",
            json={
                "symbol": "ETH/BTC",
                "side": "buy",
                "type": "limit",
                "amount": "0.1",
                "price": "0.001",
            },
        )
        assert resting.status_code == 201 and resting.json()["status"] == "open", resting.text
        order = f"/api/v1/orders/{resting.json()['id']}"

        refused = await vic.post("/api/v1/kill-switch", json={"reason": "just looking"})
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden" and "viewer" in refused.json()["detail"]
        assert (await ada.get("/api/v1/kill-switch")).json()["active"] is False
        assert (await tom.get(order)).json()["status"] == "open"

        halted = await ada.post("/api/v1/kill-switch", json={"reason": "odd fills <b>&</b>"})
        assert halted.status_code == 200, halted.text
        assert halted.json()["active"] is True and halted.json()["canceled_orders"] == 1
        assert (await tom.get(order)).json()["status"] == "canceled"
        state = (await vic.get("/api/v1/kill-switch")).json()
        assert state["active"] is True
        assert state["reason"] == "odd fills <b>&</b>" and state["actor"] == "ada"
        assert (await vic.get("/healthz")).json()["kill_switch_active"] is True

        for refused in (
            await vic.delete("/api/v1/kill-switch"),
            await tom.delete("/api/v1/kill-switch"),
        ):
            assert refused.status_code == 403 and refused.json()["detail"]
        assert (await ada.get("/api/v1/kill-switch")).json()["active"] is True

        resumed = await ada.delete("/api/v1/kill-switch")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["active"] is False
        assert (await tom.get("/api/v1/kill-switch")).json()["active"] is False
        assert (await tom.get("/healthz")).json()["kill_switch_active"] is False
