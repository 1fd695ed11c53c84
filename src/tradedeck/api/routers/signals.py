"""The signal webhook: HMAC-verified, fresh, never replayed, then queued."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.errors import error_body
from tradedeck.api.schemas import SignalAccepted, SignalOut
from tradedeck.domain.errors import NotFound
from tradedeck.domain.roles import Permission
from tradedeck.security.signatures import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)
from tradedeck.trading.signals import SignalPayload

router = APIRouter(prefix="/api/v1", tags=["signals"])

MAX_BODY = 16 * 1024


@router.post("/signals", status_code=202)
async def receive_signal(request: Request, services: ServicesDep) -> SignalAccepted:
    secret = services.settings.signal_secret
    if secret is None:
        raise HTTPException(
            503,
            detail=error_body("signals_disabled", "set TRADEDECK_SIGNAL_SECRET to accept signals"),
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, detail=error_body("payload_too_large", "signal body over 16 KiB"))
    try:
        verified = verify(
            secret.get_secret_value().encode(),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            nonce=request.headers.get(NONCE_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
            now=time.time(),
            max_age=services.settings.signal_max_age_seconds,
        )
    except SignatureError as refused:
        services.metrics.signals_total.labels(outcome=refused.code).inc()
        raise HTTPException(401, detail=error_body(refused.code, refused.detail)) from None
    if not await services.oneshot.claim(f"signal:{verified.nonce}", verified.replay_ttl):
        services.metrics.signals_total.labels(outcome="replayed").inc()
        raise HTTPException(409, detail=error_body("replayed_nonce", "this nonce was already used"))
    try:
        payload = SignalPayload.model_validate_json(body)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        code = "malformed_json" if first["type"] == "json_invalid" else "invalid_signal"
        raise HTTPException(
            400 if code == "malformed_json" else 422,
            detail=error_body(code, f"{where}: {first['msg']}"),
        ) from None
    signal_id = await services.signals.submit(payload, verified.nonce, body.decode())
    if signal_id is None:
        services.metrics.signals_total.labels(outcome="replayed").inc()
        raise HTTPException(409, detail=error_body("replayed_nonce", "this nonce was already used"))
    services.metrics.signals_total.labels(outcome="queued").inc()
    return SignalAccepted(id=signal_id, status="queued")


@router.get("/signals/{signal_id}")
async def get_signal(signal_id: str, actor: ActorDep, services: ServicesDep) -> SignalOut:
    actor.require(Permission.READ)
    record = await services.repository.get_signal(signal_id)
    if record is None:
        raise NotFound("signal_not_found", f"no signal with id {signal_id!r}")
    return SignalOut(
        id=record.id,
        status=record.status,
        order_id=record.order_id,
        reason=record.reason,
        received_at=record.received_at,
        updated_at=record.updated_at,
    )
