"""The Telegram webhook: authenticate, drop repeats, answer 200 at once.

The path carries a secret (a scanner cannot even find the route) and Telegram's
X-Telegram-Bot-Api-Secret-Token header must match, compared in constant time; the
update is handled in a tracked background task so Telegram never waits on trading.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from tradedeck.api.errors import error_body
from tradedeck.bot.runtime import WEBHOOK_PATH, TelegramRuntime

router = APIRouter(tags=["telegram"], include_in_schema=False)
MAX_UPDATE = 1024 * 1024


def _runtime(request: Request) -> TelegramRuntime:
    runtime: TelegramRuntime | None = getattr(request.app.state, "telegram", None)
    if runtime is None:
        raise HTTPException(404, detail=error_body("not_found", "Not Found"))
    return runtime


@router.post(WEBHOOK_PATH + "/{path_secret}")
async def telegram_webhook(path_secret: str, request: Request) -> Response:
    runtime = _runtime(request)
    path_ok, header_ok = runtime.secret_matches(
        path_secret, request.headers.get("X-Telegram-Bot-Api-Secret-Token")
    )
    if not path_ok:
        raise HTTPException(404, detail=error_body("not_found", "Not Found"))
    if not header_ok:
        raise HTTPException(401, detail=error_body("unauthorized", "bad webhook secret"))
    body = await request.body()
    if len(body) > MAX_UPDATE:
        raise HTTPException(413, detail=error_body("payload_too_large", "update too large"))
    try:
        update: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPException(400, detail=error_body("malformed_json", "not JSON")) from None
    if not isinstance(update, dict):
        raise HTTPException(400, detail=error_body("invalid_update", "an update is an object"))
    await runtime.accept(update)
    return Response(status_code=200)
