import hashlib
import hmac

import pytest

from tradedeck.security.signatures import (
    MAX_FUTURE_SKEW,
    SignatureError,
    VerifiedSignature,
    sign,
    verify,
)

SECRET = b"shared-webhook-secret"
BODY = b'{"symbol":"BTC/USDT","side":"buy","amount":"0.01"}'
NOW = 1_750_000_000.0
NONCE = "n0nce_abc-123"


def headers(ts: int = int(NOW), nonce: str = NONCE, body: bytes = BODY) -> dict[str, str]:
    return {
        "timestamp": str(ts),
        "nonce": nonce,
        "signature": sign(SECRET, ts, nonce, body),
    }


def check(body: bytes = BODY, now: float = NOW, **overrides: str | None) -> VerifiedSignature:
    fields: dict[str, str | None] = {**headers(), **overrides}
    return verify(
        SECRET,
        timestamp=fields["timestamp"],
        nonce=fields["nonce"],
        signature=fields["signature"],
        body=body,
        now=now,
    )


def code_of(**kwargs: object) -> str:
    with pytest.raises(SignatureError) as excinfo:
        check(**kwargs)  # type: ignore[arg-type]
    return excinfo.value.code


def test_sign_matches_the_documented_construction() -> None:
    expected = hmac.new(SECRET, f"{int(NOW)}.{NONCE}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, int(NOW), NONCE, BODY) == expected


def test_valid_signature_passes() -> None:
    result = check()
    assert result == VerifiedSignature(
        timestamp=int(NOW), nonce=NONCE, replay_ttl=30.0 + MAX_FUTURE_SKEW
    )


def test_uppercase_hex_signature_passes() -> None:
    check(signature=headers()["signature"].upper())


def test_empty_body_is_signable() -> None:
    h = headers(body=b"")
    verify(
        SECRET,
        timestamp=h["timestamp"],
        nonce=h["nonce"],
        signature=h["signature"],
        body=b"",
        now=NOW,
    )


@pytest.mark.parametrize("missing", ["timestamp", "nonce", "signature"])
@pytest.mark.parametrize("value", [None, ""])
def test_missing_header(missing: str, value: str | None) -> None:
    assert code_of(**{missing: value}) == "missing_signature"


@pytest.mark.parametrize("ts", ["abc", "1.5", "-1", "+1750000000", " 1750000000", "١٢٣", "1" * 13])
def test_bad_timestamp(ts: str) -> None:
    assert code_of(timestamp=ts) == "bad_timestamp"


def test_stale_signature() -> None:
    assert code_of(now=NOW + 31) == "stale_signature"


def test_signature_at_max_age_still_passes() -> None:
    check(now=NOW + 30)


def test_future_timestamp_beyond_skew_is_stale() -> None:
    assert code_of(now=NOW - MAX_FUTURE_SKEW - 1) == "stale_signature"


def test_future_timestamp_within_skew_passes() -> None:
    check(now=NOW - MAX_FUTURE_SKEW)


def test_custom_max_age() -> None:
    h = headers()
    with pytest.raises(SignatureError) as excinfo:
        verify(SECRET, body=BODY, now=NOW + 11, max_age=10, **h)
    assert excinfo.value.code == "stale_signature"
    assert verify(SECRET, body=BODY, now=NOW + 9, max_age=10, **h).replay_ttl == 15.0


@pytest.mark.parametrize("nonce", ["short", "x" * 129, "has space!", "ünïcode-nonce", "a/b/c/d/e"])
def test_bad_nonce(nonce: str) -> None:
    # Sign by hand: sign() itself refuses these nonces.
    mac = hmac.new(SECRET, f"{int(NOW)}.{nonce}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert code_of(nonce=nonce, signature=mac) == "bad_nonce"


def test_tampered_body() -> None:
    assert code_of(body=BODY.replace(b"0.01", b"10.0")) == "bad_signature"


def test_tampered_timestamp() -> None:
    assert code_of(timestamp=str(int(NOW) - 1)) == "bad_signature"


def test_tampered_nonce() -> None:
    assert code_of(nonce=NONCE + "x") == "bad_signature"


def test_wrong_secret() -> None:
    sig = sign(b"other-secret", int(NOW), NONCE, BODY)
    assert code_of(signature=sig) == "bad_signature"


@pytest.mark.parametrize("sig", ["zz" * 32, "ab" * 31, "ab" * 33, "é" * 64])
def test_malformed_signature(sig: str) -> None:
    assert code_of(signature=sig) == "bad_signature"


def test_error_carries_code_and_detail() -> None:
    with pytest.raises(SignatureError) as excinfo:
        check(body=b"tampered")
    err = excinfo.value
    assert err.code == "bad_signature"
    assert err.detail
    assert str(err).startswith("bad_signature: ")
    assert headers()["signature"] not in str(err)


def test_sign_refuses_what_verify_would_reject() -> None:
    with pytest.raises(ValueError):
        sign(SECRET, int(NOW), "short", BODY)
    with pytest.raises(ValueError):
        sign(SECRET, -1, NONCE, BODY)
