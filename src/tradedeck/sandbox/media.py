"""Photos and documents: what Telegram accepts, and the file ids it hands back.

Telegram decodes every photo; bytes that are not an image, or an image with absurd
proportions, are refused. We read just enough of PNG, JPEG, GIF, WebP and BMP headers to
refuse the same uploads, which catches a chart renderer that writes an empty or broken file.
"""

from __future__ import annotations

import mimetypes
import secrets
import struct

from tradedeck.sandbox.errors import BotApiError, bad_request
from tradedeck.sandbox.params import Upload
from tradedeck.sandbox.state import BotState, StoredFile

PHOTO_LIMIT_BYTES = 10 * 1024 * 1024
UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
DOWNLOAD_LIMIT_BYTES = 20 * 1024 * 1024
_PREFIX = {"photo": "AgACAgIAAxkDAAI", "document": "BQACAgIAAxkDAAI"}
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def resolve(bot: BotState, source: Upload | str, kind: str) -> StoredFile:
    """A new file from an upload, or an earlier one by file_id; not stored until sent."""
    if isinstance(source, str):
        return _existing(bot, source, kind)
    if not source.data:
        raise bad_request("file must be non-empty")
    limit = PHOTO_LIMIT_BYTES if kind == "photo" else UPLOAD_LIMIT_BYTES
    if len(source.data) > limit:
        raise BotApiError(413, "Request Entity Too Large")
    if kind == "photo":
        return _photo(bot, source)
    return _document(bot, source)


def _existing(bot: BotState, file_id: str, kind: str) -> StoredFile:
    if file_id.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")  # the sandbox has no internet
    stored = bot.files.get(file_id)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != kind:
        raise bad_request("type of file mismatch")
    return stored


def _photo(bot: BotState, upload: Upload) -> StoredFile:
    sniffed = image_info(upload.data)
    if sniffed is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    extension, width, height = sniffed
    if (
        width <= 0
        or height <= 0
        or width + height > 10_000
        or max(width, height) > 20 * min(width, height)
    ):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    number = len(bot.files)
    return StoredFile(
        file_id=_new_id("photo"),
        file_unique_id=_new_unique_id(),
        kind="photo",
        data=upload.data,
        file_path=f"photos/file_{number}.{extension}",
        mime_type=mimetypes.types_map.get(f".{extension}", "application/octet-stream"),
        width=width,
        height=height,
    )


def _document(bot: BotState, upload: Upload) -> StoredFile:
    name = upload.filename or "document"
    guessed = mimetypes.guess_type(name)[0]
    extension = name.rsplit(".", 1)[1] if "." in name else "bin"
    number = len(bot.files)
    return StoredFile(
        file_id=_new_id("document"),
        file_unique_id=_new_unique_id(),
        kind="document",
        data=upload.data,
        file_path=f"documents/file_{number}.{extension}",
        mime_type=guessed or upload.content_type or "application/octet-stream",
        file_name=name,
    )


def _new_id(kind: str) -> str:
    return _PREFIX[kind] + secrets.token_urlsafe(24)


def _new_unique_id() -> str:
    return "AQAD" + secrets.token_urlsafe(9)


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(extension, width, height) of a PNG, JPEG, GIF, WebP or BMP; None if not one of those."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "gif", width, height
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return "bmp", width, abs(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_info(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_info(data)
    return None


def _jpeg_info(data: bytes) -> tuple[str, int, int] | None:
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return "jpg", width, height
        position += 2 + length
    return None


def _webp_info(data: bytes) -> tuple[str, int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return "webp", width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return "webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return "webp", width, height
    return None
