"""Parameters from every encoding the Bot API accepts, and the image sniffing behind sendPhoto."""

from __future__ import annotations

import struct

import pytest

from tradedeck.sandbox.errors import BotApiError
from tradedeck.sandbox.media import image_info
from tradedeck.sandbox.params import Upload, params_from_http

from .conftest import png

BOUNDARY = "XyZ"


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


def test_multipart_keeps_binary_files_intact() -> None:
    payload = b"\x00\r\n--XyZ-not-a-boundary\r\n\xff"
    body = multipart(
        ("chat_id", None, b"42"),
        ("reply_markup", None, b'{"inline_keyboard": []}'),
        ("photo", None, b"attach://f1"),
        ("f1", "chart.png", payload),
    )
    params = params_from_http({}, f"multipart/form-data; boundary={BOUNDARY}", body)
    assert params.integer("chat_id") == 42
    assert params.json("reply_markup") == {"inline_keyboard": []}
    assert params.upload("photo") == Upload("chart.png", None, payload)
    assert params.for_log()["f1"] == {"filename": "chart.png", "size": len(payload)}


def test_form_json_and_query_string() -> None:
    form = params_from_http(
        {"chat_id": "1"},
        "application/x-www-form-urlencoded",
        b"text=a%26b&disable_notification=true",
    )
    assert (form.integer("chat_id"), form.text("text"), form.flag("disable_notification")) == (
        1,
        "a&b",
        True,
    )
    body = b'{"chat_id": 7, "reply_markup": {"inline_keyboard": []}, "protect_content": false}'
    as_json = params_from_http({}, "application/json", body)
    assert as_json.integer("chat_id") == 7
    assert as_json.json("reply_markup") == {"inline_keyboard": []}
    assert not as_json.flag("protect_content")


def test_malformed_values_are_bad_requests() -> None:
    params = params_from_http({"message_id": "x", "reply_markup": "{"}, "", b"")
    with pytest.raises(BotApiError, match='field "message_id" must be of type Integer'):
        params.integer("message_id")
    with pytest.raises(BotApiError, match="can't parse reply keyboard markup JSON object"):
        params.json("reply_markup", error="can't parse reply keyboard markup JSON object")
    with pytest.raises(BotApiError, match="can't parse JSON object"):
        params_from_http({}, "application/json", b"[1, 2]")
    with pytest.raises(BotApiError, match="attach://missing"):
        params_from_http({"photo": "attach://missing"}, "", b"").upload("photo")


def test_image_sniffing() -> None:
    assert image_info(png(12, 7)) == ("png", 12, 7)
    assert image_info(b"GIF89a" + struct.pack("<HH", 5, 6)) == ("gif", 5, 6)
    jpeg = (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 4)
        + b"\x00\x00"
        + b"\xff\xc0"
        + struct.pack(">HBHH", 11, 8, 30, 40)
        + b"\x00" * 6
    )
    assert image_info(jpeg) == ("jpg", 40, 30)
    assert image_info(b"%PDF-1.7") is None
