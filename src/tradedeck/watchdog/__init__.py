"""The watchdog: a process of its own that halts trading when ``tradedeck run`` dies or the
account goes wrong, because a trading process cannot be trusted to notice its own death.

It reads only the shared store (database, or Redis for beats), sets the kill switch there,
cancels open orders itself when the trading process cannot, and tells the admins through a
Telegram bot of its own. It never places an order.
"""
