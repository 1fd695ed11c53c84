"""Bot API parameters from any of the four encodings Telegram accepts, behind one reader.

Clients differ: aiogram posts url-encoded forms, switching to multipart/form-data when a file
is attached, other libraries post JSON, and a browser or curl may use the query string. In
forms every value is a string and structured fields (reply_markup, entities) are JSON inside
that string; in a JSON body they are already objects. ``Params`` hides the difference so the
method handlers read typed values and refuse malformed ones the way Telegram does.

Multipart is parsed here rather than through Starlette because that needs python-multipart,
which is not a dependency of tradedeck.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from tradedeck.sandbox.errors import BotApiError, bad_request

_TRUE = frozenset({"true", "1", "True", "yes"})
# Fields whose values are JSON documents when they arrive as strings, decoded for call logs.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
        "link_preview_options",
    }
)


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart part."""

    filename: str
    content_type: str | None
    data: bytes


class Params:
    """Read-only view of one call's parameters with Telegram-style type checks."""

    def __init__(self, values: Mapping[str, Any], files: Mapping[str, Upload] | None = None):
        self._values = dict(values)
        self._files = dict(files or {})

    def has(self, name: str) -> bool:
        value = self._values.get(name)
        return (value is not None and value != "") or name in self._files

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    def integer(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise _wrong_type(name, "Integer")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise _wrong_type(name, "Integer") from None

    def number(self, name: str) -> float | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _wrong_type(name, "Float number") from None

    def flag(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, bool):
            return value
        return str(value) in _TRUE if value is not None else False

    def json(self, name: str, *, error: str | None = None) -> Any:
        """The structured value of ``name``; strings are decoded, bad JSON is a 400."""
        value = self._values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error or f"can't parse {name} JSON object") from None

    def upload(self, name: str) -> Upload | str | None:
        """A file field: an uploaded part, or a string (file_id, URL, or attach://<part>)."""
        if name in self._files:
            return self._files[name]
        value = self.text(name)
        if value and value.startswith("attach://"):
            part = self._files.get(value.removeprefix("attach://"))
            if part is None:
                raise bad_request(f"file {value} not found in the request")
            return part
        return value or None

    def nested(self, values: Mapping[str, Any]) -> Params:
        """Parameters of an object inside this call (an InputMedia), sharing its file parts
        so that its ``attach://<part>`` references resolve."""
        return Params(values, self._files)

    def for_log(self) -> dict[str, Any]:
        """Everything the caller sent, JSON decoded and files summarised, for test assertions."""
        logged: dict[str, Any] = {}
        for name, value in self._values.items():
            logged[name] = _decoded(value) if name in JSON_FIELDS else value
        for name, upload in self._files.items():
            logged[name] = {"filename": upload.filename, "size": len(upload.data)}
        return logged


def parse_chat_id(raw: object) -> int:
    """Integer ids, as numbers or strings; ``@username`` never resolves since no chat has one."""
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise bad_request("chat not found") from None


def _decoded(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _wrong_type(name: str, kind: str) -> BotApiError:
    return bad_request(f'field "{name}" must be of type {kind}')


def params_from_http(query: Mapping[str, str], content_type: str, body: bytes) -> Params:
    """Merge the query string with the body; body fields win, as in the Bot API."""
    values: dict[str, Any] = dict(query)
    files: dict[str, Upload] = {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" and body.strip():
        decoded = _json_body(body)
        values.update(decoded)
    elif media_type == "application/x-www-form-urlencoded":
        values.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif media_type == "multipart/form-data":
        fields, files = parse_multipart(body, content_type)
        values.update(fields)
    return Params(values, files)


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except ValueError:
        raise bad_request("can't parse JSON object") from None
    if not isinstance(decoded, dict):
        raise bad_request("can't parse JSON object")
    return decoded


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Split a multipart/form-data body into text fields and file parts (those with a filename)."""
    boundary = _header_param(content_type, "content-type", "boundary")
    if not boundary:
        raise bad_request("can't parse multipart/form-data: no boundary")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    # A delimiter counts only when followed by a line end or the closing "--" (RFC 2046).
    delimiter = re.compile(
        rb"\r\n--" + re.escape(boundary.encode("latin-1")) + rb"(?=--|[ \t]*\r\n)"
    )
    for section in delimiter.split(b"\r\n" + body)[1:]:
        if section.startswith(b"--"):
            break
        head, _, content = section.lstrip(b" \t").removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = _part_headers(head)
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "content-disposition", "name")
        if not name:
            continue
        filename = _filename(disposition)
        if filename is None:
            fields[name] = content.decode("utf-8", "replace")
        else:
            files[name] = Upload(filename, headers.get("content-type"), content)
    return fields, files


def _part_headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _header_param(header_value: str, header: str, param: str) -> str | None:
    message = Message()
    message[header] = header_value
    value = message.get_param(param, header=header)
    return value if isinstance(value, str) else None


def _filename(disposition: str) -> str | None:
    message = Message()
    message["content-disposition"] = disposition
    return message.get_filename()
