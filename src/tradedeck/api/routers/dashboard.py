"""The web dashboard: three static files, served without a token.

The page is public on purpose: it holds only code, and every figure on it comes from
/api/v1 calls that carry the token the trader types in. What keeps the trader safe is in
the headers: the Content-Security-Policy lets the page run only its own script and style
and talk only to this origin, so an API value that slipped into markup could still not
run or leak anything; ``no-store`` keeps no copy on a shared machine; ``no-referrer``
tells no other site where the dashboard lives.

The files are read on first use and kept for the life of the process, so importing the
router touches no file and a request never waits on the disk twice.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

router = APIRouter(tags=["dashboard"])

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_MEDIA_TYPES: Final = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
}


@cache
def _load(name: str) -> bytes:
    return resources.files("tradedeck.api.dashboard").joinpath(name).read_bytes()


def _serve(name: str) -> Response:
    # Starlette adds "; charset=utf-8" to text/* media types.
    return Response(_load(name), media_type=_MEDIA_TYPES[name], headers=SECURITY_HEADERS)


@router.get("/dashboard", include_in_schema=False)
async def page() -> Response:
    return _serve("index.html")


@router.get("/", include_in_schema=False)
async def home() -> Response:
    # A browser pointed at the platform's address finds the dashboard, not a 404.
    return RedirectResponse("/dashboard", status_code=307, headers=SECURITY_HEADERS)


@router.get("/dashboard/", include_in_schema=False)
async def page_with_slash() -> Response:
    # One address for the page, whichever form was typed or bookmarked.
    return RedirectResponse("/dashboard", status_code=308, headers=SECURITY_HEADERS)


@router.get("/dashboard/app.js", include_in_schema=False)
async def script() -> Response:
    return _serve("app.js")


@router.get("/dashboard/style.css", include_in_schema=False)
async def style() -> Response:
    return _serve("style.css")
