"""Typed callback data for buttons. Confirmations are not here: they carry a signed,
single-use token from tradedeck.security.confirmations instead of plain values."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="m"):
    section: str


class PageCb(CallbackData, prefix="pg"):
    view: str
    page: int


class RefreshCb(CallbackData, prefix="rf"):
    view: str


class PickSymbolCb(CallbackData, prefix="ps"):
    side: str
    symbol: str


class AmountCb(CallbackData, prefix="am"):
    percent: int


class CancelOrderCb(CallbackData, prefix="co"):
    order_id: str


class KillSwitchCb(CallbackData, prefix="ks"):
    """Ask to halt (``on``) or resume trading; the confirmation does the rest."""

    on: bool


class ClosePositionCb(CallbackData, prefix="cp"):
    """Preview closing the ``symbol`` position (``cp:`` + a symbol of 33 at most)."""

    symbol: str


class LevelCb(CallbackData, prefix="nl"):
    group: str
    level: str


class FlowCancelCb(CallbackData, prefix="fc"):
    pass


class ChartOpen(CallbackData, prefix="chart"):
    """Open (or switch, or refresh) the chart of ``symbol`` in ``timeframe``; any button
    may carry it (the /scan results do). Packed it is at most 43 bytes:
    ``chart:`` + a 33-character BASE/QUOTE + ``:`` + a timeframe of 2-3."""

    symbol: str
    timeframe: str


class AlertDeleteCb(CallbackData, prefix="ald"):
    """Delete price alert ``alert_id`` (``ald:<id>``: a dozen bytes at most)."""

    alert_id: int


class TrailDeleteCb(CallbackData, prefix="trd"):
    """Delete trailing stop ``stop_id`` (``trd:<id>``: a dozen bytes at most)."""

    stop_id: int


class ReportCb(CallbackData, prefix="rp"):
    """Switch periodic report ``kind`` (hourly, daily) on or off."""

    kind: str
    on: bool
