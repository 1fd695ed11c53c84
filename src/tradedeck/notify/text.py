"""Telegram HTML helpers shared by the bot and the outbound sender.

Telegram rejects a whole message when its markup is broken (an unclosed ``<pre>``, a cut
``&amp;``) and refuses text over 4096 characters, so long output is split here in one
place that knows both rules instead of in every handler that prints a table.
"""

from __future__ import annotations

import html
import re

MAX_MESSAGE_LENGTH = 4096
"""Telegram's limit on a message's text, counted after entity parsing."""

AS_DOCUMENT_THRESHOLD = 5
"""More parts than this and a chat would be flooded: send the text as a file instead."""

# One atomic piece of Telegram HTML: a tag, a character entity, a run of plain text, or a
# stray "<" / "&" that starts neither (Telegram would reject it, but cutting must not hide it).
_TOKEN = re.compile(
    r"<[^<>]*>|&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);|[^<&]+|[<&]",
)
_TAG = re.compile(r"<\s*(/)?\s*([A-Za-z][\w-]*)[^>]*?(/)?\s*>\Z")
_ANY_TAG = re.compile(r"<[^<>]*>")

# An open tag as (name, the opening tag exactly as written, so attributes survive a reopen).
_Open = tuple[str, str]


def escape(value: object) -> str:
    """Make any value safe inside Telegram HTML; quotes stay as typed since only ``<``,
    ``>`` and ``&`` are special outside attribute values."""
    return html.escape(str(value), quote=False)


def to_plain_text(text: str) -> str:
    """The text a reader sees: tags dropped and entities decoded (for a .txt attachment)."""
    return html.unescape(_ANY_TAG.sub("", text))


def _units(text: str) -> int:
    # UTF-16 code units: never fewer than code points, so counting them errs on the safe side
    # whichever unit Telegram's limit is measured in (an emoji is two units).
    return len(text.encode("utf-16-le")) // 2


def _apply_tag(stack: list[_Open], token: str) -> list[_Open]:
    """The open-tag stack after ``token``; a copy, so a rejected token leaves no trace."""
    match = _TAG.match(token)
    if match is None:
        return stack
    closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
    if self_closing:
        return stack
    if not closing:
        return [*stack, (name, token)]
    for index in range(len(stack) - 1, -1, -1):
        if stack[index][0] == name:
            return stack[:index] + stack[index + 1 :]
    return stack  # a stray closing tag: Telegram will complain, splitting should not


def _closing_units(stack: list[_Open]) -> int:
    return sum(len(name) + 3 for name, _ in stack)


def _closing(stack: list[_Open]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


class _Parts:
    """Accumulates parts; each one closes the tags still open at its end and the next
    reopens them, so every part is valid markup on its own."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.stack: list[_Open] = []
        self._begin()

    def _begin(self) -> None:
        self.buffer = [opening for _, opening in self.stack]
        self.size = sum(_units(opening) for opening in self.buffer)
        self.has_content = False

    def fits(self, piece: str, stack_after: list[_Open]) -> bool:
        return self.size + _units(piece) + _closing_units(stack_after) <= self.limit

    def add(self, piece: str, stack_after: list[_Open]) -> None:
        self.buffer.append(piece)
        self.size += _units(piece)
        self.stack = stack_after
        self.has_content = True

    def flush(self) -> None:
        part = "".join(self.buffer) + _closing(self.stack)
        # A part holding only markup and whitespace would be rejected as an empty message;
        # its tags are already carried by the stack, so nothing is lost by dropping it.
        if to_plain_text(part).strip():
            self.parts.append(part)
        self._begin()


def _stack_after(stack: list[_Open], text: str) -> list[_Open]:
    for token in _ANY_TAG.findall(text):
        stack = _apply_tag(stack, token)
    return stack


def _hard_cut(parts: _Parts, line: str) -> None:
    """Place a line too long for any part token by token; plain text may be cut anywhere,
    tags and entities never."""
    for match in _TOKEN.finditer(line):
        token = match.group()
        if token.startswith("<") and len(token) > 1:
            after = _apply_tag(parts.stack, token)
            if not parts.fits(token, after) and parts.has_content:
                parts.flush()  # the stack is unchanged by a flush, so ``after`` still holds
            parts.add(token, after)
            continue
        if token.startswith("&"):
            if not parts.fits(token, parts.stack) and parts.has_content:
                parts.flush()
            parts.add(token, parts.stack)
            continue
        rest = token
        while rest:
            room = parts.limit - parts.size - _closing_units(parts.stack)
            take = 0
            used = 0
            for char in rest:
                width = _units(char)
                if used + width > room:
                    break
                used += width
                take += 1
            if take == 0:
                if parts.has_content:
                    parts.flush()
                    continue
                take = 1  # the markup alone fills a part: exceed rather than loop forever
            parts.add(rest[:take], parts.stack)
            rest = rest[take:]


def split_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split Telegram HTML into parts of at most ``limit`` characters, each valid on its own.

    Cuts fall on line boundaries so tables and lists stay readable; a tag open at a cut
    (typically ``<pre>`` or ``<pre><code class=...>``) is closed at the end of the part and
    reopened at the start of the next. A line longer than a part is cut hard, but never
    inside a tag or an entity. Length is counted on the raw markup in UTF-16 units, which
    is never less than what Telegram counts. A text that fits is returned unchanged, and
    the list is never empty.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if _units(text) <= limit:
        return [text]
    parts = _Parts(limit)
    for line in text.split("\n"):
        after = _stack_after(parts.stack, line)
        if not parts.has_content and not line.strip():
            continue  # blank lines at the top of a part (they hold no tags) carry nothing
        separator = "\n" if parts.has_content else ""
        if parts.fits(separator + line, after):
            parts.add(separator + line, after)
            continue
        if parts.has_content:
            parts.flush()
            if parts.fits(line, after):
                parts.add(line, after)
                continue
        _hard_cut(parts, line)
    if parts.has_content:
        parts.flush()
    # Callers index the result ([0], [-1]); a long run of bare markup still yields a part.
    return parts.parts or [""]


def should_send_as_document(text: str, max_parts: int = AS_DOCUMENT_THRESHOLD) -> bool:
    """True when splitting would take more than ``max_parts`` messages: past that a file
    is easier to read than a wall of messages, and it costs one send instead of many."""
    if _units(text) <= MAX_MESSAGE_LENGTH:
        return False
    return len(split_html(text)) > max_parts
