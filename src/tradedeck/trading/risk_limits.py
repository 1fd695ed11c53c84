"""The risk limits an admin sets: validated settings, kept apart from the risk engine.

A pydantic model of its own module: the engine that applies the limits is compiled with
mypyc (see tradedeck.native), and mypyc cannot compile a module that defines a
pydantic model.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from tradedeck.domain.money import ZERO
from tradedeck.domain.roles import Role

SETTING_KEY = "risk_limits"
"""Where the limits an admin saved are stored (the settings table)."""


class RiskLimits(BaseModel):
    """Limits in the valuation currency; an admin changes them at run time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_notional_trader: Decimal = Field(gt=0)
    max_order_notional_admin: Decimal = Field(gt=0)
    max_exposure_pct: Decimal = Field(gt=0, le=100)
    max_positions: int = Field(ge=1)
    cooldown_seconds: float = Field(ge=0)
    daily_drawdown_pct: Decimal = Field(gt=0, le=100)
    max_consecutive_rejections: int = Field(ge=1)

    def max_notional(self, role: Role) -> Decimal:
        if role is Role.ADMIN:
            return self.max_order_notional_admin
        if role is Role.TRADER:
            return self.max_order_notional_trader
        return ZERO
