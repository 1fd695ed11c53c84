"""The browser chat: one self-contained page and the JSON endpoints it polls."""

from __future__ import annotations

import html
import re

import httpx
from aiogram import Bot
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from fastapi import FastAPI

from tradedeck.sandbox import BotApiEmulator
from tradedeck.sandbox.app import mount_sandbox

from .conftest import SESSION_LOOP, TOKEN, png

pytestmark = SESSION_LOOP


async def test_page_is_self_contained_html(sandbox_url: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<textarea" in page and "api/messages" in page and "Sandbox Trader" in page
    # No CDN, fonts or scripts from elsewhere; only the bot's own links may point outside.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    # Message content is built from text nodes only, never parsed as HTML in the browser.
    assert not re.search(r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write", page)


async def test_send_and_poll_round_trip(
    sandbox_url: str, bot: Bot, emulator: BotApiEmulator
) -> None:
    emulator.default_token = TOKEN
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        sent = await client.post(
            "/api/send", json={"user_id": 1001, "first_name": "Sandbox Trader", "text": "/start"}
        )
        assert sent.json()["ok"]
        update = (await bot.get_updates())[0]
        assert update.message is not None and update.message.text == "/start"

        await bot.send_message(
            1001,
            "<b>Hi</b> " + html.escape("<script>alert(1)</script>"),
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
            ),
        )
        first = (await client.get("/api/messages", params={"user_id": 1001})).json()
        assert [m["from_bot"] for m in first["messages"]] == [False, True]
        reply = first["messages"][1]
        assert reply["text"] == "Hi <script>alert(1)</script>"  # text, rendered as text
        assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
        assert reply["buttons"] == [[{"text": "Go", "callback_data": "go", "url": None}]]
        assert first["bot"]["username"] == "sandbox_123456789_bot"

        pressed = await client.post(
            "/api/press", json={"user_id": 1001, "message_id": reply["message_id"], "data": "go"}
        )
        assert pressed.json()["ok"]
        bad_press = await client.post(
            "/api/press", json={"user_id": 1001, "message_id": reply["message_id"], "data": "no"}
        )
        assert bad_press.status_code == 400

        await bot.answer_callback_query(pressed.json()["callback_query_id"], text="Done")
        await bot.edit_message_text("Bye", chat_id=1001, message_id=reply["message_id"])
        later = (
            await client.get("/api/messages", params={"user_id": 1001, "after": first["version"]})
        ).json()
    assert [(m["text"], m["edited"]) for m in later["messages"]] == [("Bye", True)]
    assert [a["text"] for a in later["answers"]] == ["Done"]


async def test_photos_are_served_to_the_page_without_the_token(
    sandbox_url: str, bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    emulator.default_token = TOKEN
    image = png()
    await bot.send_photo(alice_chat, BufferedInputFile(image, "chart.png"))
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        changes = (await client.get("/api/messages", params={"user_id": alice_chat})).json()
        photo_url = changes["messages"][-1]["photo"]["url"]
        assert TOKEN not in photo_url
        served = await client.get(f"/{photo_url}")
    assert served.content == image
    assert served.headers["content-type"] == "image/png"


async def test_without_a_bot_the_page_says_so(sandbox_url: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        empty = (await client.get("/api/messages")).json()
        refused = await client.post("/api/send", json={"text": "hi"})
    assert empty["messages"] == [] and empty["bot"] is None
    assert refused.status_code == 503


async def test_mounted_under_a_prefix_and_local_only() -> None:
    emulator = BotApiEmulator()
    emulator.default_token = TOKEN
    app = FastAPI()
    mount_sandbox(app, emulator, "/sandbox")
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=local, base_url="http://testserver") as client:
        page = await client.get("/sandbox/")
        me = await client.get(f"/sandbox/bot{TOKEN}/getMe")
        redirect = await client.get("/sandbox")
    assert page.status_code == 200 and me.json()["ok"]
    assert redirect.status_code in (200, 307)

    remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
    async with httpx.AsyncClient(transport=remote, base_url="http://testserver") as client:
        assert (await client.get("/sandbox/")).status_code == 403
        assert (await client.post("/sandbox/api/send", json={"text": "hi"})).status_code == 403
        assert (await client.get(f"/sandbox/bot{TOKEN}/getMe")).status_code == 403
