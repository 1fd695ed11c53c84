"""Binance's request signing, checked the way the real API checks it.

Why it is strict. The live adapter's credentials path (key header, timestamp, recvWindow,
HMAC over the exact bytes sent) is only tested if the emulator refuses what Binance would
refuse, with the same codes: -2014 for a malformed key, -2015 for an unknown one (both HTTP
401), -1022 for a bad signature and -1021 for a stale timestamp. The signed text is the query
string followed by the body, minus the ``signature`` parameter itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from tradedeck.exchanges.emulator.errors import BinanceError

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000


def sign(secret: str, payload: str) -> str:
    """The hex HMAC-SHA256 Binance expects in ``signature``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _without_signature(text: str) -> tuple[str, str | None]:
    kept: list[str] = []
    signature: str | None = None
    for part in text.split("&") if text else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def check_api_key(api_key: str | None, secrets: Mapping[str, str]) -> str:
    """The secret of a known key, or the error Binance sends for a missing/unknown one."""
    if not api_key or not api_key.isascii() or not api_key.isalnum():
        raise BinanceError(401, -2014, "API-key format invalid.")
    secret = secrets.get(api_key)
    if secret is None:
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    return secret


def check_signed(query: str, body: str, secret: str, now_ms: int) -> None:
    """Check ``signature``, ``timestamp`` and ``recvWindow`` of a signed request."""
    query_text, query_sig = _without_signature(query)
    body_text, body_sig = _without_signature(body)
    signature = query_sig or body_sig
    params = dict(parse_qsl(query_text)) | dict(parse_qsl(body_text))
    if signature is None:
        raise BinanceError(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        )
    raw_timestamp = params.get("timestamp")
    if raw_timestamp is None or not raw_timestamp.isdigit():
        raise BinanceError(
            400,
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        )
    raw_window = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
    if not raw_window.isdigit() or int(raw_window) > MAX_RECV_WINDOW:
        raise BinanceError(400, -1131, "recvWindow must be less than 60000")
    timestamp = int(raw_timestamp)
    if timestamp > now_ms + 1000 or now_ms - timestamp > int(raw_window):
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    expected = sign(secret, query_text + body_text)
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(400, -1022, "Signature for this request is not valid.")
