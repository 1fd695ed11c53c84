"""How an emulated endpoint sees a request, and reads Binance's parameters from it.

Binance takes parameters from the query string and the form body alike, so a handler gets
one flat ``dict[str, str]``; a missing or malformed one is answered as Binance answers it
(-1102), never with a Python error. ``Wrap`` is what the app hands each API's route table:
it adds the signature check and the fault injection around a handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tradedeck.exchanges.emulator.errors import BinanceError, bad_parameter

Handler = Callable[[Request, dict[str, str]], Awaitable[Any]]
Endpoint = Callable[[Request], Awaitable[Response]]
Wrap = Callable[[Handler], Endpoint]


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise bad_parameter(name)
    return value


def integer(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise bad_parameter(name)
    return int(value)


def decimal(params: dict[str, str], name: str) -> Decimal | None:
    """A positive decimal parameter, or None when it was not sent."""
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = Decimal(value)
    except InvalidOperation as error:
        raise bad_parameter(name) from error
    if not parsed.is_finite() or parsed <= 0:
        raise bad_parameter(name)
    return parsed


def flag(params: dict[str, str], name: str) -> bool:
    """A ``true``/``false`` parameter; absent means false."""
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise bad_parameter(name)
    return value == "true"


def order_reference(
    params: dict[str, str], id_name: str, client_name: str
) -> tuple[int | None, str | None]:
    """The order id or client order id a query/cancel names; one of them is mandatory."""
    order_id = integer(params, id_name)
    client_id = params.get(client_name)
    if order_id is None and client_id is None:
        raise BinanceError(
            400,
            -1102,
            f"Param '{client_name}' or '{id_name}' must be sent, but both were empty/null!",
        )
    return order_id, client_id
