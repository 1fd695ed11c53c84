"""HMAC-SHA256 signatures on inbound webhooks (TradingView-style trading signals).

The signed message is ``f"{timestamp}.{nonce}.".encode() + raw_body``. Binding the timestamp
and the nonce into the MAC is what lets the receiver trust them: without it an attacker could
replay a captured body with a fresh timestamp. The raw body is signed, not a parsed and
re-serialised form, so sender and receiver never disagree about JSON formatting.

``verify`` only proves authenticity and freshness. Replay protection needs shared state, so it
is the caller's next step: claim ``VerifiedSignature.nonce`` in a
:class:`tradedeck.security.oneshot.OneShotStore` for ``VerifiedSignature.replay_ttl`` seconds
and refuse the request if the claim fails.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

TIMESTAMP_HEADER = "X-Signal-Timestamp"
NONCE_HEADER = "X-Signal-Nonce"
SIGNATURE_HEADER = "X-Signal-Signature"

MAX_FUTURE_SKEW = 5.0
"""Seconds a sender's clock may run ahead of ours; more would stretch the replay window."""

DEFAULT_MAX_AGE = 30.0

# ASCII classes on purpose: ``\d`` and ``int()`` accept other scripts' digits, which would let
# two different header strings denote the same signed timestamp.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{8,128}")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(Exception):
    """A webhook failed authentication.

    ``code`` is stable for metrics and client-side handling; ``detail`` is for humans and never
    includes the expected signature.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """What a successful :func:`verify` vouches for.

    ``replay_ttl`` is how long the nonce must stay claimed: the same signed request is
    accepted from ``MAX_FUTURE_SKEW`` seconds before its timestamp until ``max_age`` after it,
    so a shorter claim would let a replay through once the claim lapsed.
    """

    timestamp: int
    nonce: str
    replay_ttl: float


def _message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}.{nonce}.".encode() + body


def _mac(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret, _message(timestamp, nonce, body), hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp: int, nonce: str, body: bytes) -> str:
    """Return the hex signature a sender puts in ``X-Signal-Signature``.

    Refuses inputs :func:`verify` would reject, so a misconfigured sender fails at its own
    end with a clear error rather than as an opaque 401 on ours.
    """
    if timestamp < 0:
        raise ValueError("timestamp must be a non-negative unix time in seconds")
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 8 to 128 characters of [A-Za-z0-9_-]")
    return _mac(secret, str(timestamp), nonce, body)


def verify(
    secret: bytes,
    *,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    max_age: float = DEFAULT_MAX_AGE,
) -> VerifiedSignature:
    """Check the three signal headers against ``body``; raise :class:`SignatureError` if not.

    ``now`` is injected (unix seconds) so freshness is testable without patching the clock.
    Cheap structural checks run before the MAC so malformed traffic costs no HMAC work; none
    of them depends on the secret, so their order reveals nothing.
    """
    if not timestamp or not nonce or not signature:
        raise SignatureError(
            "missing_signature",
            f"{TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER} are all required",
        )
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise SignatureError("bad_timestamp", f"{TIMESTAMP_HEADER} must be integer unix seconds")
    ts = int(timestamp)
    age = now - ts
    if age > max_age:
        raise SignatureError("stale_signature", f"signature is older than {max_age:g} s")
    if -age > MAX_FUTURE_SKEW:
        raise SignatureError(
            "stale_signature", f"timestamp is more than {MAX_FUTURE_SKEW:g} s in the future"
        )
    if not _NONCE_RE.fullmatch(nonce):
        raise SignatureError("bad_nonce", f"{NONCE_HEADER} must be 8 to 128 of [A-Za-z0-9_-]")
    expected = _mac(secret, timestamp, nonce, body)
    # The format check is not secret-dependent; compare_digest then runs on equal-length
    # ASCII strings, so its time depends on neither the secret nor how much of it matched.
    if not _SIGNATURE_RE.fullmatch(signature) or not hmac.compare_digest(
        expected, signature.lower()
    ):
        raise SignatureError("bad_signature", "signature does not match the body")
    return VerifiedSignature(timestamp=ts, nonce=nonce, replay_ttl=max_age + MAX_FUTURE_SKEW)
