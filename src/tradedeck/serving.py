"""uvicorn, with a last word before the doors close.

uvicorn stops listening first and runs the app's shutdown after, so whatever the
shutdown still sends to this very server finds the port closed. That is the sandbox's
case: its Bot API is mounted in the app, and the digests flushed at Ctrl-C were retried
for ten seconds, then dropped. This server asks the app to send what it holds while the
server still accepts connections; a second Ctrl-C (uvicorn's forced exit) skips that.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import uvicorn


class DrainingServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._drain is not None and not self.force_exit:
            await self._drain()
        await super().shutdown(sockets)
