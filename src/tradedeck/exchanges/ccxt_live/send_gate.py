"""An order's HTTP request held at the door until the kill-switch read has answered.

The stored kill switch (the one the watchdog sets from its own process) must be read
before a live order leaves, and the read is a database round trip; ccxt's building and
signing of the request is another half millisecond. Neither needs the other, so they run
side by side: the read is started, ccxt builds, and the request waits at the one door all
of ccxt's REST calls go through (``Exchange.fetch``) only for what is left of the read.
If the read found the switch on, the request never leaves and its refusal is raised in
the request's place, out through ccxt (which re-raises what it does not know) to the
order manager, exactly as if the order had been refused before ccxt was called.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_gate: ContextVar[asyncio.Future[None] | None] = ContextVar("tradedeck_send_gate", default=None)


@contextlib.contextmanager
def held_by(gate: asyncio.Future[None] | None) -> Iterator[None]:
    """Inside the block, every request this task sends first waits for ``gate``."""
    token = _gate.set(gate)
    try:
        yield
    finally:
        _gate.reset(token)


def install(exchange: Any) -> None:
    """Put the door in front of ``exchange.fetch`` (once, when the client is built)."""
    send = exchange.fetch

    async def fetch(*args: Any, **kwargs: Any) -> Any:
        gate = _gate.get()
        if gate is not None:
            await asyncio.shield(gate)  # shared by a batch: one cancelled send keeps it
        return await send(*args, **kwargs)

    exchange.fetch = fetch
