"""Binance's rejections, with the codes and messages the real API sends.

Why one place. ccxt turns a rejection into an exception by its code and message, and the
live adapter branches on those exceptions; a code or message that drifts from Binance's
would test a path production never takes. Spot and USDⓈ-M futures reuse some codes with
different meanings (-2010, -2011, -4014...), so each factory says which API it speaks for.
"""

from __future__ import annotations

from decimal import Decimal


class BinanceError(Exception):
    """A rejection as Binance sends it: HTTP status plus ``{"code", "msg"}``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg

    def payload(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def fmt8(value: Decimal) -> str:
    """Binance's decimal strings: always eight places."""
    return f"{value:.8f}"


# -- both APIs -------------------------------------------------------------------------------


def invalid_symbol() -> BinanceError:
    return BinanceError(400, -1121, "Invalid symbol.")


def bad_parameter(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def not_required(name: str) -> BinanceError:
    return BinanceError(400, -1106, f"Parameter '{name}' sent when not required.")


def invalid_order_type() -> BinanceError:
    return BinanceError(400, -1116, "Invalid orderType.")


def invalid_time_in_force() -> BinanceError:
    return BinanceError(400, -1115, "Invalid timeInForce.")


def unknown_order() -> BinanceError:
    return BinanceError(400, -2011, "Unknown order sent.")


def order_does_not_exist() -> BinanceError:
    return BinanceError(400, -2013, "Order does not exist.")


# -- spot ------------------------------------------------------------------------------------


def filter_failure(name: str) -> BinanceError:
    return BinanceError(400, -1013, f"Filter failure: {name}")


def order_rejected(msg: str) -> BinanceError:
    """-2010 NEW_ORDER_REJECTED: ccxt tells them apart by the message."""
    return BinanceError(400, -2010, msg)


def insufficient_balance() -> BinanceError:
    return order_rejected("Account has insufficient balance for requested action.")


# -- USDⓈ-M futures --------------------------------------------------------------------------


def bad_precision() -> BinanceError:
    return BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")


def margin_insufficient() -> BinanceError:
    return BinanceError(400, -2019, "Margin is insufficient.")


def would_trigger_immediately() -> BinanceError:
    return BinanceError(400, -2021, "Order would immediately trigger.")


def reduce_only_rejected() -> BinanceError:
    return BinanceError(400, -2022, "ReduceOnly Order is rejected.")


def futures_filter(code: int, msg: str) -> BinanceError:
    """The futures filters have one code each: -4004 min qty, -4014 tick size, -4164 notional."""
    return BinanceError(400, code, msg)


def duplicate_client_order_id() -> BinanceError:
    return BinanceError(400, -4116, "ClientOrderId is duplicated.")


def use_algo_endpoint() -> BinanceError:
    return BinanceError(
        400,
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints "
        "instead.",
    )
