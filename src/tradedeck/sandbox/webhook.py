"""Pushing updates to a bot's webhook the way Telegram does: over HTTP, in order, with retries.

One background task per bot delivers its queue one update at a time, so a bot never sees
updates out of order, and keeps the head of the queue until the webhook answers 2xx. Failures
are retried with a short backoff (Telegram retries for much longer, but a test should learn
quickly) and recorded for getWebhookInfo, which is where a developer looks when the bot is
silent. If the webhook is deleted mid-way, undelivered updates stay queued for getUpdates.

A webhook may answer with a method call in its body (``{"method": "sendMessage", ...}``);
Telegram executes it, so we do too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx

from tradedeck.sandbox.state import BotState, Signal, WebhookConfig

MAX_ATTEMPTS = 10
REQUEST_TIMEOUT_SECONDS = 10.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name

# (token, method, params) -> anything; runs a method a webhook returned in its response.
ReplyRunner = Callable[[str, str, dict[str, Any]], Awaitable[object]]


def _backoff(attempt: int) -> float:
    return min(1.0, 0.05 * 2.0**attempt)


class WebhookDispatcher:
    def __init__(self, run_reply: ReplyRunner) -> None:
        self._run_reply = run_reply
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._progress = Signal()

    def kick(self, bot: BotState) -> None:
        """Make sure queued updates are on their way; cheap to call after every change."""
        if bot.webhook is None or not bot.updates:
            return
        running = self._tasks.get(bot.token)
        if running is not None and not running.done():
            return
        self._tasks[bot.token] = asyncio.get_running_loop().create_task(
            self._drain(bot), name=f"sandbox-webhook-{bot.id}"
        )

    async def wait_idle(self, bots: Iterable[BotState], seconds: float) -> None:
        bots = list(bots)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._is_idle(bots):
            remaining = deadline - loop.time()
            if remaining <= 0:
                pending = sum(len(bot.updates) for bot in bots if bot.webhook is not None)
                raise TimeoutError(f"{pending} webhook update(s) still undelivered")
            await self._progress.wait(remaining)

    async def aclose(self) -> None:
        tasks = [task for task in self._tasks.values() if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _is_idle(self, bots: list[BotState]) -> bool:
        if any(not task.done() for task in self._tasks.values()):
            return False
        return all(bot.webhook is None or not bot.updates for bot in bots)

    async def _drain(self, bot: BotState) -> None:
        try:
            # trust_env=False: a proxy from the environment must not intercept loopback webhooks.
            client = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False)
            async with client:
                while bot.webhook is not None and bot.updates:
                    update = bot.updates[0]
                    finished = await self._deliver(client, bot, update)
                    if not finished:
                        break
                    if bot.updates and bot.updates[0] is update:
                        bot.updates.popleft()
                    self._progress.notify()
        finally:
            self._tasks.pop(bot.token, None)
            self._progress.notify()
        # Updates queued while the client closed found this task still running; pick them up.
        self.kick(bot)

    async def _deliver(
        self, client: httpx.AsyncClient, bot: BotState, update: dict[str, Any]
    ) -> bool:
        """Return True once the update is delivered or given up, False if the webhook went away."""
        for attempt in range(MAX_ATTEMPTS):
            config = bot.webhook
            if config is None:
                return False
            error = await self._post(client, bot, config, update)
            if error is None:
                return True
            bot.last_error_date = int(time.time())
            bot.last_error_message = error
            if attempt + 1 < MAX_ATTEMPTS:
                await asyncio.sleep(_backoff(attempt))
        return True

    async def _post(
        self,
        client: httpx.AsyncClient,
        bot: BotState,
        config: WebhookConfig,
        update: dict[str, Any],
    ) -> str | None:
        headers = {SECRET_HEADER: config.secret_token} if config.secret_token else {}
        try:
            response = await client.post(config.url, json=update, headers=headers)
        except httpx.TimeoutException:
            return "Read timeout expired"
        except httpx.ConnectError:
            return "Connection refused"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if not 200 <= response.status_code < 300:
            status = f"{response.status_code} {response.reason_phrase}"
            return f"Wrong response from the webhook: {status}"
        await self._run_returned_method(bot, response)
        return None

    async def _run_returned_method(self, bot: BotState, response: httpx.Response) -> None:
        if "json" not in response.headers.get("content-type", ""):
            return
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("method"), str):
            params = {key: value for key, value in body.items() if key != "method"}
            await self._run_reply(bot.token, body["method"], params)
