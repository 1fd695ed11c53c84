"""Telegram's HTML formatting: ``parse_mode=HTML`` into visible text plus entities, and back.

The parser follows tdlib (the library behind the Bot API) closely, so a bot's markup fails here
where Telegram would refuse it, with the same reason and the same UTF-8 byte offset. One
deliberate difference: Telegram keeps an ``&`` that starts no entity as a literal character,
while its documentation requires escaping every ``&``. We enforce the documented rule, so that
"P&L" written into a template is caught by a test instead of relying on server leniency.

Offsets and lengths are UTF-16 code units, as everywhere in the Bot API.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

Entity = dict[str, Any]

# tdlib's is_space: the whitespace that ends a tag name or an attribute.
_SPACES = frozenset(" \t\r\n\v\f\0")
# What Telegram trims from both ends of a message before checking that it is not empty.
_TRIMMED = " \t\r\n\v\f"
_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# tdlib sorts entities by offset, then longer first, then by this priority (outermost first).
_TYPE_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 1,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class EntityParseError(ValueError):
    """The reason Telegram puts after "can't parse entities: "."""


@dataclass(frozen=True)
class FormattedText:
    """Visible text and its entities, the form Telegram stores a message in."""

    text: str
    entities: tuple[Entity, ...] = field(default=())


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(source: str) -> FormattedText:
    """Parse Telegram's HTML subset; raises ``EntityParseError`` with Telegram's reason."""
    return _HtmlParser(source).parse()


def sort_entities(entities: list[Entity]) -> tuple[Entity, ...]:
    def key(entity: Entity) -> tuple[int, int, int]:
        priority = _TYPE_PRIORITY.get(str(entity.get("type")), 50)
        return int(entity["offset"]), -int(entity["length"]), priority

    return tuple(sorted(entities, key=key))


def trim(formatted: FormattedText) -> FormattedText:
    """Strip surrounding whitespace as Telegram does, keeping entities on the same characters."""
    left = formatted.text.lstrip(_TRIMMED)
    removed = len(formatted.text) - len(left)  # trimmed characters are all one UTF-16 unit
    text = left.rstrip(_TRIMMED)
    total = utf16_len(text)
    kept: list[Entity] = []
    for entity in formatted.entities:
        start = max(0, int(entity["offset"]) - removed)
        end = min(total, int(entity["offset"]) + int(entity["length"]) - removed)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return FormattedText(text, sort_entities(kept))


def render_html(formatted: FormattedText) -> str:
    """Rebuild Telegram HTML from text and entities; everything else in the text is escaped.

    The result only ever contains Telegram's own tags with escaped attributes, so it is safe to
    show, and parsing it again gives back the same text and entities.
    """
    pending = [e for e in sort_entities(list(formatted.entities)) if int(e["length"]) > 0]
    out: list[str] = []
    stack: list[tuple[int, str]] = []  # (end offset, closing tag) of the open entities
    position = 0
    for char in formatted.text:
        _close_until(stack, out, position)
        while pending and int(pending[0]["offset"]) <= position:
            entity = pending.pop(0)
            end = int(entity["offset"]) + int(entity["length"])
            if stack:  # an entity crossing its parent's end is cut there, never left unclosed
                end = min(end, stack[-1][0])
            opening, closing = _tags_for(entity)
            if not opening or end <= position:
                continue
            out.append(opening)
            stack.append((end, closing))
        out.append(html.escape(char, quote=False))
        position += 2 if ord(char) > 0xFFFF else 1
    _close_until(stack, out, None)
    return "".join(out)


def _close_until(stack: list[tuple[int, str]], out: list[str], position: int | None) -> None:
    while stack and (position is None or stack[-1][0] <= position):
        out.append(stack.pop()[1])


def _tags_for(entity: Entity) -> tuple[str, str]:
    kind = entity.get("type")
    simple = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "spoiler": "tg-spoiler",
        "code": "code",
        "blockquote": "blockquote",
    }
    if kind in simple:
        tag = simple[str(kind)]
        return f"<{tag}>", f"</{tag}>"
    if kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{_attr(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{_attr(entity.get("url", ""))}">', "</a>"
    if kind == "text_mention":
        user_id = int(entity.get("user", {}).get("id", 0))
        return f'<a href="tg://user?id={user_id}">', "</a>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{_attr(entity.get("custom_emoji_id", ""))}">', "</tg-emoji>"
    return "", ""  # detected entities (commands, URLs, mentions) carry no markup


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the visible text where the tag's content starts
    out_index: int  # the same position as an index into the parser's output characters


class _HtmlParser:
    """One pass over the source, mirroring tdlib's do_parse_html state by state."""

    def __init__(self, source: str) -> None:
        self._src = source
        self._pos = 0
        self._out: list[str] = []
        self._utf16 = 0
        self._open: list[_OpenTag] = []
        self._entities: list[Entity] = []

    def parse(self) -> FormattedText:
        while self._pos < len(self._src):
            char = self._src[self._pos]
            if char == "&":
                self._emit(self._entity())
            elif char == "<":
                self._tag()
            else:
                self._emit(char)
                self._pos += 1
        if self._open:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self._open[-1].name}"'
            )
        for entity in self._entities:  # a language only survives on code directly inside pre
            if entity["type"] == "code":
                entity.pop("language", None)
        text = "".join(self._out)
        if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        return FormattedText(text, sort_entities(self._entities))

    def _at(self, index: int) -> str:
        return self._src[index] if index < len(self._src) else "\0"

    def _byte_offset(self, index: int) -> int:
        return len(self._src[:index].encode("utf-8", "surrogatepass"))

    def _emit(self, char: str) -> None:
        self._out.append(char)
        self._utf16 += 2 if ord(char) > 0xFFFF else 1

    def _skip_spaces(self) -> None:
        while self._pos < len(self._src) and self._src[self._pos] in _SPACES:
            self._pos += 1

    def _entity(self) -> str:
        decoded = decode_entity(self._src, self._pos)
        if decoded is None:
            raise EntityParseError(
                f"Character '&' at byte offset {self._byte_offset(self._pos)} "
                "must be escaped as &amp;"
            )
        char, self._pos = decoded
        return char

    def _tag(self) -> None:
        begin = self._pos
        self._pos += 1
        if self._at(self._pos) == "/":
            self._end_tag(begin)
        else:
            self._start_tag(begin)

    def _start_tag(self, begin: int) -> None:
        while self._at(self._pos) not in _SPACES and self._at(self._pos) != ">":
            self._pos += 1
        if self._pos >= len(self._src):
            raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        name = self._src[begin + 1 : self._pos].lower()
        if name not in _SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {self._byte_offset(begin)}'
            )
        attributes = self._attributes(name, begin)
        argument = self._argument(name, attributes, begin)
        self._open.append(_OpenTag(name, argument, self._utf16, len(self._out)))

    def _attributes(self, tag: str, begin: int) -> dict[str, str]:
        attributes: dict[str, str] = {}
        while True:
            self._skip_spaces()
            if self._pos >= len(self._src):
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {self._byte_offset(begin)}"
                )
            if self._src[self._pos] == ">":
                self._pos += 1
                return attributes
            name = self._attribute_name(tag, begin)
            self._skip_spaces()
            if self._at(self._pos) != "=":
                attributes[name] = ""  # a bare attribute, like <blockquote expandable>
                continue
            self._pos += 1
            self._skip_spaces()
            if self._pos >= len(self._src):
                raise EntityParseError(
                    f'Unclosed start tag "{tag}" at byte offset {self._byte_offset(begin)}'
                )
            attributes[name] = self._attribute_value(begin)  # the last one wins, as in tdlib

    def _attribute_name(self, tag: str, begin: int) -> str:
        start = self._pos
        while self._at(self._pos) not in _SPACES and self._at(self._pos) not in "=>":
            self._pos += 1
        if self._pos == start:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {self._byte_offset(begin)}'
            )
        return self._src[start : self._pos]

    def _attribute_value(self, begin: int) -> str:
        quote = self._src[self._pos]
        if quote not in "'\"":
            return self._name_token()
        self._pos += 1
        value: list[str] = []
        while self._pos < len(self._src) and self._src[self._pos] != quote:
            decoded = decode_entity(self._src, self._pos) if self._src[self._pos] == "&" else None
            if decoded is not None:
                value.append(decoded[0])
                self._pos = decoded[1]
            else:
                value.append(self._src[self._pos])
                self._pos += 1
        self._pos += 1  # past the closing quote, or past the end when it is missing
        if self._pos >= len(self._src):
            raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        return "".join(value)

    def _name_token(self) -> str:
        start = self._pos
        while self._at(self._pos).isascii() and (
            self._at(self._pos).isalnum() or self._at(self._pos) in ".-"
        ):
            self._pos += 1
        if self._at(self._pos) not in _SPACES and self._at(self._pos) != ">":
            raise EntityParseError(
                f"Unexpected end of name token at byte offset {self._byte_offset(start)}"
            )
        return self._src[start : self._pos].lower()

    def _argument(self, tag: str, attributes: dict[str, str], begin: int) -> str:
        if tag == "a":
            return attributes.get("href", "")
        if tag == "code":
            language = attributes.get("class", "")
            return language.removeprefix("language-") if language.startswith("language-") else ""
        if tag == "span":
            if attributes.get("class") != "tg-spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{self._byte_offset(begin)}"
                )
            return ""
        if tag == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not emoji_id.isdigit() or int(emoji_id) == 0 or int(emoji_id) >= 2**63:
                raise EntityParseError("Invalid custom emoji identifier specified")
            return emoji_id
        if tag == "blockquote":
            return "expandable" if "expandable" in attributes else ""
        return ""

    def _end_tag(self, begin: int) -> None:
        if not self._open:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        self._pos += 1
        start = self._pos
        while self._at(self._pos) not in _SPACES and self._at(self._pos) != ">":
            self._pos += 1
        end_name = self._src[start : self._pos]
        self._skip_spaces()
        if self._at(self._pos) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        self._pos += 1
        tag = self._open[-1]
        if end_name and end_name != tag.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{tag.name}>", found "</{end_name}>"'
            )
        self._open.pop()
        if self._utf16 > tag.offset:
            self._close_entity(tag, self._utf16 - tag.offset)

    def _close_entity(self, tag: _OpenTag, length: int) -> None:
        entity: Entity = {"offset": tag.offset, "length": length}
        if tag.name in _SIMPLE_TYPES:
            self._entities.append({"type": _SIMPLE_TYPES[tag.name], **entity})
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if tag.argument else "blockquote"
            self._entities.append({"type": kind, **entity})
        elif tag.name == "tg-emoji":
            self._entities.append(
                {"type": "custom_emoji", **entity, "custom_emoji_id": tag.argument}
            )
        elif tag.name == "a":
            self._close_link(tag, entity)
        else:
            self._close_code(tag, entity)

    def _close_link(self, tag: _OpenTag, entity: Entity) -> None:
        # Without href Telegram links the text itself, if the text is a URL.
        url = normalize_url(tag.argument or "".join(self._out[tag.out_index :]))
        if url is not None:
            self._entities.append({"type": "text_link", **entity, "url": url})

    def _close_code(self, tag: _OpenTag, entity: Entity) -> None:
        """``<pre><code class="language-x">`` is one pre entity with a language, as in tdlib."""
        previous = self._entities[-1] if self._entities else None
        same_range = previous is not None and all(previous[k] == entity[k] for k in entity)
        if tag.name == "pre":
            if previous is not None and same_range and previous.get("type") == "code":
                language = previous.pop("language", "")
                if language:
                    previous.update(type="pre", language=language)
                    return
            self._entities.append({"type": "pre", **entity})
        elif previous is not None and same_range and previous.get("type") == "pre" and tag.argument:
            previous["language"] = tag.argument
        else:  # keep the language until the end, in case an enclosing pre closes next
            self._entities.append({"type": "code", **entity, "language": tag.argument})


def decode_entity(source: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``source[pos] == "&"``; None if it is not one.

    Like tdlib: only lt, gt, amp, quot and numeric references, the ``;`` is optional.
    """
    end = pos + 1
    if end < len(source) and source[end] == "#":
        end += 1
        is_hex = end < len(source) and source[end] == "x"
        end += is_hex
        digits_start = end
        digits = "0123456789abcdefABCDEF" if is_hex else "0123456789"
        while end < len(source) and source[end] in digits:
            end += 1
        number = source[digits_start:end]
        value = int(number, 16 if is_hex else 10) if number else 0
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < len(source) and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(source[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < len(source) and source[end] == ";":
        end += 1
    return char, end


def normalize_url(url: str) -> str | None:
    """Telegram's link check: http(s) gets a path, bare domains get http://, junk is dropped."""
    match = _SCHEME.match(url)
    if match is None:
        return _normalize_http("http://" + url) if "." in url and " " not in url else None
    scheme = match.group(1).lower()
    if scheme in {"http", "https"}:
        return _normalize_http(url)
    if scheme in {"tg", "ton", "mailto"}:
        return url
    return None


def _normalize_http(url: str) -> str | None:
    scheme, _, rest = url.partition("://")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not host or any(char.isspace() for char in rest):
        return None
    tail = rest[len(host) :]
    if not tail.startswith("/"):
        tail = "/" + tail
    return f"{scheme.lower()}://{host}{tail}"
