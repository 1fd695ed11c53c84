"""ccxt's exceptions turned into tradedeck's refusals, and into "try again" or "look it up".

Three questions are asked of every exception ccxt raises, and each has its own function:

* ``is_transient``: does it say something about the exchange's health (network trouble,
  timeouts, rate limits, maintenance)? Those are retried and count towards the circuit
  breaker; a refused order says nothing about health and is never retried.
* ``outcome_unknown``: after a placement failed that way, may the order exist anyway? A
  timeout or a cut connection after the request left may have been accepted; a 429 or a
  maintenance answer was refused before anything happened.
* ``to_domain``: what does the trader read? ccxt's classes go from specific to general
  (``RateLimitExceeded`` is a ``NetworkError``, ``InsufficientFunds`` and ``InvalidOrder``
  are ``ExchangeError``), so the table below is ordered the same way and the first match
  wins.

Messages are scrubbed before they travel: ccxt puts the request URL in some messages, and
a signed URL carries the signature, the timestamp and sometimes the key.

ccxt is an optional extra, so it is imported when an exception is examined, not when this
module is: ``ExchangeAuthFailed`` can be caught by code that runs on paper.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from types import ModuleType
from typing import Any

from tradedeck.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    OrderRejected,
    Unavailable,
)
from tradedeck.ops.circuit import network_trouble

REDACTED = "***"

_URL_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#\"']+)[?#][^\s\"']*", re.IGNORECASE)
_SECRET_PARAM = re.compile(
    r"(?i)(\"?\b(?:signature|sign|api[_-]?key|apikey|secret|password|passphrase|token)\"?"
    r"\s*[:=]\s*\"?)[^\s\"&,}]+"
)
_EXCHANGE_MESSAGE = re.compile(r'"(?:msg|message|error_description|errorMessage)"\s*:\s*"([^"]*)"')
_MIN_NOTIONAL = re.compile(r"(?i)filter failure: (?:min_)?notional|notional must be no smaller")
_DUPLICATE = re.compile(r"(?i)duplicate (?:order|client)")
_KEY_REFUSED = re.compile(r'"code"\s*:\s*-2015\b')


class ExchangeAuthFailed(DomainError):
    """The exchange refused our credentials (bad key, bad secret, missing permission,
    suspended account): nothing will work until an admin fixes the keys."""

    def __init__(self, detail: str) -> None:
        super().__init__("exchange_auth_failed", detail)


def scrub(message: str, secrets: Iterable[str] = ()) -> str:
    """``message`` without URL query strings, signature/key parameters or known secrets."""
    cleaned = _URL_QUERY.sub(r"\1", message)
    cleaned = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, cleaned)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, REDACTED)
    return cleaned


def exchange_reason(error: BaseException, exchange: str = "", secrets: Iterable[str] = ()) -> str:
    """The exchange's own sentence when ccxt kept its JSON answer, else the scrubbed text
    (without the ``"<exchange id> "`` ccxt puts in front of its messages)."""
    text = scrub(str(error), secrets).strip()
    found = _EXCHANGE_MESSAGE.search(text)
    if found and found.group(1).strip():
        return found.group(1).strip()
    if exchange and text.startswith(exchange + " "):
        text = text[len(exchange) + 1 :].strip()
    return text or type(error).__name__


@cache
def _ccxt() -> ModuleType:
    import ccxt

    module: ModuleType = ccxt
    return module


def _transport_failure(error: BaseException) -> bool:
    """A reply cut short: ccxt raises a bare ``ExchangeError`` from aiohttp's error."""
    import aiohttp

    return type(error) is _ccxt().ExchangeError and isinstance(
        error.__cause__, aiohttp.ClientError | OSError
    )


def is_exchange_error(error: BaseException) -> bool:
    """Raised by ccxt or by the network under it (anything else is a bug of ours)."""
    return isinstance(error, _ccxt().BaseError) or network_trouble(error)


def credentials_refused(error: BaseException) -> bool:
    """Binance's -2015 "Invalid API-key, IP, or permissions", whatever class ccxt chose.

    Once a client has authenticated, ccxt reads -2015 as a temporary ban and raises
    ``DDoSProtection``, which would be retried and then only open the breaker: revoked keys
    would look like an outage. We fail closed instead: trading stops and the admins are
    told, which is also right during a real ban, since nothing can trade then either.
    """
    return isinstance(error, _ccxt().DDoSProtection) and bool(_KEY_REFUSED.search(str(error)))


def is_transient(error: BaseException) -> bool:
    """Network trouble, timeouts, rate limits, maintenance: retry later, count for the breaker.

    ``OperationFailed`` is ccxt's own "may succeed if retried" branch: every ``NetworkError``
    (``RequestTimeout``, ``ExchangeNotAvailable``, ``OnMaintenance``, ``DDoSProtection``,
    ``RateLimitExceeded``, ``InvalidNonce``) and the unreadable replies (``BadResponse``).
    """
    if isinstance(error, _ccxt().OperationFailed):
        return not credentials_refused(error)
    return _transport_failure(error) or network_trouble(error)


def outcome_unknown(error: BaseException) -> bool:
    """True when a write that failed this way may still have been carried out."""
    ccxt = _ccxt()
    refused_before_acting = (
        ccxt.DDoSProtection,
        ccxt.RateLimitExceeded,
        ccxt.OnMaintenance,
        ccxt.InvalidNonce,
    )
    return is_transient(error) and not isinstance(error, refused_before_acting)


def is_not_found(error: BaseException) -> bool:
    return isinstance(error, _ccxt().OrderNotFound)


def is_duplicate(error: BaseException) -> bool:
    """The exchange already holds an order with this client id."""
    ccxt = _ccxt()
    if isinstance(error, ccxt.DuplicateOrderId):
        return True
    return isinstance(error, ccxt.ExchangeError) and bool(_DUPLICATE.search(str(error)))


def is_already_set(error: BaseException) -> bool:
    """A leverage or margin-mode change that was already in effect."""
    return isinstance(error, _ccxt().NoChange)


Factory = Callable[[str, str], DomainError]


def _auth(exchange: str, reason: str) -> DomainError:
    return ExchangeAuthFailed(
        f"{exchange} refused the API credentials ({reason}); check the key, the secret and "
        "the key's permissions"
    )


def _filter_or(code: str, kind: type[DomainError]) -> Factory:
    """Binance's filter failures arrive as ``InvalidOrder`` or as a bare ``BadRequest``
    (-1013 NOTIONAL); either way they are the exchange refusing the order."""

    def build(exchange: str, reason: str) -> DomainError:
        if _MIN_NOTIONAL.search(reason):
            return OrderRejected("below_min_notional", f"{exchange}: {reason}")
        if reason.lower().startswith("filter failure"):
            return OrderRejected("exchange_rejected", f"{exchange}: {reason}")
        return kind(code, f"{exchange}: {reason}")

    return build


def _plain(code: str, kind: type[DomainError]) -> Factory:
    def build(exchange: str, reason: str) -> DomainError:
        return kind(code, f"{exchange}: {reason}")

    return build


def _unavailable(exchange: str, reason: str) -> DomainError:
    return Unavailable("exchange_unavailable", f"{exchange} is not answering: {reason}")


@cache
def _table() -> tuple[tuple[type[BaseException], Factory], ...]:
    """ccxt class → refusal, specific before general (the first ``isinstance`` wins)."""
    ccxt = _ccxt()
    return (
        (ccxt.OrderNotFound, _plain("order_not_found", NotFound)),
        (ccxt.DuplicateOrderId, _plain("duplicate_client_order_id", Conflict)),
        (ccxt.AuthenticationError, _auth),  # PermissionDenied, AccountSuspended...
        (ccxt.InsufficientFunds, _plain("insufficient_funds", OrderRejected)),
        (ccxt.InvalidOrder, _filter_or("exchange_rejected", OrderRejected)),
        (ccxt.BadSymbol, _plain("unknown_symbol", InvalidInput)),
        (ccxt.BadRequest, _filter_or("exchange_bad_request", InvalidInput)),
        (ccxt.OperationRejected, _plain("exchange_rejected", OrderRejected)),
        (ccxt.NotSupported, _plain("not_supported", InvalidInput)),
        (ccxt.ArgumentsRequired, _plain("invalid_request", InvalidInput)),
        (ccxt.OperationFailed, _unavailable),  # NetworkError and unreadable replies
    )


def to_domain(error: BaseException, exchange: str, secrets: Iterable[str] = ()) -> DomainError:
    """The refusal a trader reads for ``error``, with the exchange's reason, scrubbed."""
    if isinstance(error, DomainError):
        return error
    reason = exchange_reason(error, exchange, secrets)
    if credentials_refused(error):
        return _auth(exchange, reason)
    if is_transient(error):
        return _unavailable(exchange, reason)
    for kind, build in _table():
        if isinstance(error, kind):
            return build(exchange, reason)
    return OrderRejected("exchange_error", f"{exchange}: {reason}")


def describe(error: BaseException, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """What may be logged about ``error``: its class and a scrubbed message."""
    return {"error": type(error).__name__, "message": scrub(str(error), secrets)}
