"""ccxt's exceptions → tradedeck's refusals, transient or not, and scrubbed messages."""

from __future__ import annotations

import aiohttp
import ccxt
import pytest

from tradedeck.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    OrderRejected,
    Unavailable,
)
from tradedeck.exchanges.ccxt_live.errors import (
    ExchangeAuthFailed,
    exchange_reason,
    is_transient,
    outcome_unknown,
    scrub,
    to_domain,
)

BODY = 'binance {"code":-2010,"msg":"Account has insufficient balance for requested action."}'


@pytest.mark.parametrize(
    ("error", "kind", "code", "transient"),
    [
        (ccxt.AuthenticationError("x"), ExchangeAuthFailed, "exchange_auth_failed", False),
        (ccxt.PermissionDenied("x"), ExchangeAuthFailed, "exchange_auth_failed", False),
        (ccxt.AccountSuspended("x"), ExchangeAuthFailed, "exchange_auth_failed", False),
        (ccxt.InsufficientFunds(BODY), OrderRejected, "insufficient_funds", False),
        (ccxt.InvalidOrder("x"), OrderRejected, "exchange_rejected", False),
        (ccxt.OrderImmediatelyFillable("x"), OrderRejected, "exchange_rejected", False),
        (ccxt.OrderNotFound("x"), NotFound, "order_not_found", False),
        (ccxt.DuplicateOrderId("x"), Conflict, "duplicate_client_order_id", False),
        (ccxt.BadSymbol("x"), InvalidInput, "unknown_symbol", False),
        (ccxt.BadRequest("x"), InvalidInput, "exchange_bad_request", False),
        (ccxt.MarketClosed("x"), OrderRejected, "exchange_rejected", False),
        (ccxt.NotSupported("x"), InvalidInput, "not_supported", False),
        (ccxt.ExchangeError("x"), OrderRejected, "exchange_error", False),
        (ccxt.RateLimitExceeded("x"), Unavailable, "exchange_unavailable", True),
        (ccxt.DDoSProtection("x"), Unavailable, "exchange_unavailable", True),
        (ccxt.RequestTimeout("x"), Unavailable, "exchange_unavailable", True),
        (ccxt.NetworkError("x"), Unavailable, "exchange_unavailable", True),
        (ccxt.ExchangeNotAvailable("x"), Unavailable, "exchange_unavailable", True),
        (ccxt.OnMaintenance("x"), Unavailable, "exchange_unavailable", True),
        (ccxt.BadResponse("x"), Unavailable, "exchange_unavailable", True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_ccxt_error_maps_to_one_refusal(
    error: Exception, kind: type[DomainError], code: str, transient: bool
) -> None:
    refusal = to_domain(error, "binance")
    assert type(refusal) is kind
    assert refusal.code == code
    assert is_transient(error) is transient


def test_insufficient_funds_carries_the_exchange_reason() -> None:
    refusal = to_domain(ccxt.InsufficientFunds(BODY), "binance")
    assert refusal.detail == "binance: Account has insufficient balance for requested action."


def test_binance_filter_failures_are_order_rejections() -> None:
    notional = ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}')
    refusal = to_domain(notional, "binance")
    assert (type(refusal), refusal.code) == (OrderRejected, "below_min_notional")
    lot = ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}')
    assert to_domain(lot, "binance").code == "exchange_rejected"


def test_auth_failure_says_what_to_check() -> None:
    refusal = to_domain(
        ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key, IP."}'),
        "binance",
    )
    assert refusal.detail == (
        "binance refused the API credentials (Invalid API-key, IP.); check the key, the "
        "secret and the key's permissions"
    )


def test_revoked_keys_that_ccxt_calls_a_ban_still_stop_trading() -> None:
    """After one successful login ccxt raises -2015 as DDoSProtection (a "temporary ban"):
    retrying would only open the breaker, so it is refused as bad credentials."""
    error = ccxt.DDoSProtection(
        'binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'
    )
    assert not is_transient(error)
    refusal = to_domain(error, "binance")
    assert isinstance(refusal, ExchangeAuthFailed)
    assert "Invalid API-key, IP, or permissions for action." in refusal.detail
    other_ban = ccxt.DDoSProtection('binance 429 {"code":-1003,"msg":"Too much request weight"}')
    assert is_transient(other_ban)


def test_a_reply_cut_short_is_transient_and_its_outcome_unknown() -> None:
    cut = ccxt.ExchangeError("binance POST http://127.0.0.1:1/api/v3/order")
    cut.__cause__ = aiohttp.ClientPayloadError("Response payload is not completed")
    assert is_transient(cut) and outcome_unknown(cut)
    assert not is_transient(ccxt.ExchangeError("binance -1111"))


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (ccxt.RequestTimeout("x"), True),
        (ccxt.ExchangeNotAvailable("x"), True),
        (ccxt.NetworkError("x"), True),
        (ccxt.BadResponse("x"), True),
        (ccxt.DDoSProtection("x"), False),
        (ccxt.RateLimitExceeded("x"), False),
        (ccxt.OnMaintenance("x"), False),
        (ccxt.InvalidNonce("x"), False),
        (ccxt.InvalidOrder("x"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_outcome_unknown_only_when_the_request_may_have_been_acted_on(
    error: Exception, unknown: bool
) -> None:
    assert outcome_unknown(error) is unknown


def test_scrub_removes_query_strings_signatures_and_known_secrets() -> None:
    message = (
        "binance GET https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1"
        "&signature=abcdef0123 RequestTimeout apiKey=KEY123 secret: s3cr3t topsecretvalue"
    )
    cleaned = scrub(message, ["topsecretvalue"])
    assert cleaned == (
        "binance GET https://api.binance.com/api/v3/order RequestTimeout apiKey=*** secret: *** ***"
    )
    assert "abcdef0123" not in cleaned and "KEY123" not in cleaned


def test_timeout_reason_has_no_signed_url() -> None:
    timeout = ccxt.RequestTimeout(
        "binance POST http://127.0.0.1:9/api/v3/order?timestamp=1&signature=deadbeef"
    )
    refusal = to_domain(timeout, "binance")
    assert "deadbeef" not in refusal.detail and "timestamp" not in refusal.detail
    assert exchange_reason(timeout, "binance") == "POST http://127.0.0.1:9/api/v3/order"
