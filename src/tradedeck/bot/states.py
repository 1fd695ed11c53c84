"""FSM states of the trade flow; they live in Redis or the database, so a restart
mid-flow picks up where the trader was."""

from aiogram.fsm.state import State, StatesGroup


class TradeFlow(StatesGroup):
    symbol = State()
    amount = State()
