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

    def __init__(
        self,
        asset: str,
        free: Decimal = ZERO,
        reserved: Decimal = ZERO,
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.asset = asset
        self.free = free
        self.reserved = reserved

    @property
    def total(self) -> Decimal:
        return self.free + self.reserved

    def copy(self) -> Balance:
        """Field by field (also what ``copy.copy`` uses): the generic copy of a slotted
        dataclass costs ten times as much."""
        return Balance(self.asset, self.free, self.reserved)

    def __copy__(self) -> Balance:
        return self.copy()
