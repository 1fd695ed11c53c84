"""Chart images: the same PNG the bot sends for /chart, for a browser or a script."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.charts.service import DEFAULT_LIMIT, MAX_LIMIT, MIN_LIMIT
from tradedeck.domain.roles import Permission

router = APIRouter(prefix="/api/v1", tags=["charts"])

# Short: the market moves; long enough that a page and its reload share one drawing.
CACHE_CONTROL = "private, max-age=10"


def _symbol(raw: str) -> str:
    """ETH-BTC, eth_btc or ETH/BTC, as the tickers route accepts them."""
    return raw.replace("-", "/").replace("_", "/").upper()


@router.get(
    "/charts/{symbol}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A PNG candle chart"}},
)
async def candle_chart(
    symbol: str,
    actor: ActorDep,
    services: ServicesDep,
    timeframe: Annotated[str | None, Query(min_length=2, max_length=4)] = None,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    actor.require(Permission.READ)
    image = await services.charts.candles(actor, _symbol(symbol), timeframe, limit=limit)
    etag = '"' + hashlib.sha256(image.png).hexdigest()[:32] + '"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content=image.png, media_type="image/png", headers=headers)
