"""Balances split into what can be spent and what open orders hold."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradedeck.domain.money import ZERO


@dataclass(slots=True)
class Balance:
    asset: str
    free: Decimal = ZERO
    reserved: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.reserved
