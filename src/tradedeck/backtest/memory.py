"""An in-memory stand-in for the repository, so a backtest runs the real trading path.

The order manager, the risk engine and the kill switch persist through a repository. A
backtest must run exactly their code, but must touch no database: its orders are
simulated and thousands of them are written per second. This class implements just the
calls those three make, with the same semantics (the stored kill switch blocks an order
write, a day's start equity is the first one seen), and keeps what was written so the
backtester can read its fills back like any other consumer of the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from tradedeck.domain.orders import Fill, Order
from tradedeck.domain.positions import Position
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.storage.records import KillSwitchActiveInStore, KillSwitchState

if TYPE_CHECKING:
    from tradedeck.storage.repository import Repository


class MemoryRepository:
    """What OrderManager, RiskEngine and KillSwitch read and write, held in dicts."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.settings: dict[str, str] = {}
        self.audit_log: list[tuple[str, str, str, str, str | None]] = []
        self.day_equity: dict[date, tuple[Decimal, Decimal]] = {}
        self._by_client_id: dict[tuple[int | None, str], str] = {}
        self._kill_switch = KillSwitchState(active=False)

    def as_repository(self) -> Repository:
        """This object typed as the repository the trading classes expect.

        Only the methods below exist; a trading class calling anything else fails loudly
        with AttributeError instead of silently reaching a database.
        """
        return cast("Repository", self)

    # -- orders --------------------------------------------------------------------------
    async def save_update(
        self,
        update_: ExchangeUpdate,
        positions: Iterable[Position],
        *,
        require_kill_switch_off: bool = False,
    ) -> None:
        if require_kill_switch_off and self._kill_switch.active:
            raise KillSwitchActiveInStore(
                "kill_switch_active",
                "trading is halted by the kill switch: "
                f"{self._kill_switch.reason or 'no reason given'}",
            )
        self.record(update_)

    def record(self, update_: ExchangeUpdate) -> None:
        """Keep an update's orders and fills (the synchronous write of the backtester)."""
        for order in update_.orders:
            self.orders[order.id] = order
            if order.client_order_id is not None:
                self._by_client_id[(order.user_id, order.client_order_id)] = order.id
        self.fills.extend(update_.fills)

    async def get_order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    async def get_order_by_client_id(
        self, user_id: int | None, client_order_id: str
    ) -> Order | None:
        order_id = self._by_client_id.get((user_id, client_order_id))
        return None if order_id is None else self.orders.get(order_id)

    # -- kill switch, settings, audit ----------------------------------------------------
    async def get_kill_switch(self) -> KillSwitchState:
        return self._kill_switch

    async def set_kill_switch(self, state: KillSwitchState) -> None:
        self._kill_switch = state

    async def get_setting(self, key: str) -> str | None:
        return self.settings.get(key)

    async def set_setting(self, key: str, value: str, updated_by: str) -> None:
        self.settings[key] = value

    async def audit(
        self,
        actor: str,
        channel: str,
        action: str,
        outcome: str,
        detail: str | None = None,
        **_: object,
    ) -> None:
        self.audit_log.append((actor, channel, action, outcome, detail))

    async def record_day_equity(self, day: date, currency: str, equity: Decimal) -> Decimal:
        """Remember the first equity seen on ``day`` (and the lowest); return the day's start."""
        start, low = self.day_equity.get(day, (equity, equity))
        self.day_equity[day] = (start, min(low, equity))
        return start
