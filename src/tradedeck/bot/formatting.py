"""Telegram HTML: every dynamic value escaped, numbers as traders read them, tables in
<pre> so columns line up on a phone."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tradedeck.domain.money import fmt
from tradedeck.notify.text import escape

__all__ = ["code", "escape", "money", "pnl", "side_label", "table"]


def money(value: Decimal | None, places: int = 8) -> str:
    """A decimal rounded for display (never for trading), without exponent noise."""
    if value is None:
        return "-"
    return fmt(round(value, places)) or "0"


def pnl(value: Decimal | None, places: int = 8, currency: str = "") -> str:
    if value is None:
        return "-"
    mark = "🟢" if value > 0 else "🔴" if value < 0 else "⚪"
    sign = "+" if value > 0 else ""
    suffix = f" {escape(currency)}" if currency else ""
    return f"{mark} {sign}{money(value, places)}{suffix}"


def side_label(side: str) -> str:
    """A position's direction in capitals with an arrow, so a short never reads as a long
    at a glance (and green/red stay for profit and loss)."""
    arrows = {"long": "▲", "short": "▼"}
    return f"{arrows.get(side, '•')} {escape(side.upper())}"


def code(value: object) -> str:
    return f"<code>{escape(value)}</code>"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A monospace table; columns right-aligned except the first."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "<pre>" + escape("\n".join(lines)) + "</pre>"
