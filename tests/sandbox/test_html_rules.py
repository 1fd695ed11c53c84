"""The HTML entity parser against tdlib's own test vectors, plus round-trip properties."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradedeck.sandbox.html_rules import (
    EntityParseError,
    FormattedText,
    normalize_url,
    parse_html,
    render_html,
    trim,
    utf16_len,
)

# Errors and offsets copied from tdlib's test/message_entities.cpp (🏟 is 4 UTF-8 bytes).
TDLIB_ERRORS = [
    ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
    ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
    ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
    ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
    ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
    (
        "🏟 🏟&lt;<i>a</em   >",
        'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
    ),
    ("&#57311;", "Text contains invalid Unicode characters after decoding HTML entities"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
]


@pytest.mark.parametrize(("source", "reason"), TDLIB_ERRORS)
def test_tdlib_errors(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as refused:
        parse_html(source)
    assert str(refused.value).startswith(reason)


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        (
            "🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>",
            "🏟 🏟🏟 ><🏟",
            [("italic", 5, 7), ("bold", 9, 3)],
        ),
        ("🏟 🏟&lt;<i>🏟 🏟&lt;</>", "🏟 🏟<🏟 🏟<", [("italic", 6, 6)]),
        ("➡️ ➡️<tg-spoiler>➡️ ➡️</tg-spoiler>", "➡️ ➡️➡️ ➡️", [("spoiler", 5, 5)]),
        ('<span class="tg-spoiler">x</span>', "x", [("spoiler", 0, 1)]),
        (
            "<blockquote expandable>a&lt;<pre>b;</></>",
            "a<b;",
            [
                ("expandable_blockquote", 0, 4),
                ("pre", 2, 2),
            ],
        ),
        (
            "<s>a</s><strike>b</strike><del>c</del><u>d</u><ins>e</ins>",
            "abcde",
            [
                ("strikethrough", 0, 1),
                ("strikethrough", 1, 1),
                ("strikethrough", 2, 1),
                ("underline", 3, 1),
                ("underline", 4, 1),
            ],
        ),
        ("<b></b>x", "x", []),
        ("&#x1F600;&#65;&amp;&quot;", '😀A&"', []),
    ],
)
def test_tdlib_entities(source: str, text: str, entities: list[tuple[str, int, int]]) -> None:
    parsed = parse_html(source)
    assert parsed.text == text
    assert [(e["type"], e["offset"], e["length"]) for e in parsed.entities] == entities


def test_pre_with_language_is_one_entity() -> None:
    parsed = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert parsed.entities == ({"type": "pre", "offset": 0, "length": 5, "language": "python"},)
    alone = parse_html('<code class="language-python">x</code>')
    assert alone.entities == ({"type": "code", "offset": 0, "length": 1},)


def test_links_are_normalised_or_dropped() -> None:
    assert parse_html("<a href=telegram.org>x</a>").entities[0]["url"] == "http://telegram.org/"
    assert parse_html("<a>https://t.me/x</a>").entities[0]["url"] == "https://t.me/x"
    assert parse_html('<a href="javascript:alert(1)">x</a>').entities == ()
    assert normalize_url("https://example.com?q=1") == "https://example.com/?q=1"
    assert normalize_url("no spaces allowed.com x") is None


def test_unescaped_ampersand_is_refused_where_the_docs_require_escaping() -> None:
    with pytest.raises(EntityParseError, match="Character '&' at byte offset 2"):
        parse_html("P &L")
    with pytest.raises(EntityParseError):
        parse_html("&ge; is not one of Telegram's four named entities")


def test_trim_keeps_entities_on_their_characters() -> None:
    trimmed = trim(parse_html("\n  <b>bold</b> tail  \n"))
    assert trimmed.text == "bold tail"
    assert trimmed.entities == ({"type": "bold", "offset": 0, "length": 4},)


def test_render_escapes_text_and_rebuilds_tags() -> None:
    formatted = FormattedText(
        "<x> & 😀 link",
        ({"type": "text_link", "offset": 9, "length": 4, "url": 'https://a.b/"q'},),
    )
    assert render_html(formatted) == '&lt;x&gt; &amp; 😀 <a href="https://a.b/&quot;q">link</a>'
    assert utf16_len("😀") == 2


@given(st.text(max_size=40))
def test_escaped_text_parses_to_itself(text: str) -> None:
    parsed = parse_html(html.escape(text, quote=False))
    assert parsed == FormattedText(text)


_LEAF = st.text(max_size=4).map(lambda text: html.escape(text, quote=False))
_TAGS = st.sampled_from(["b", "i", "u", "s", "code", "pre", "tg-spoiler", "blockquote"])
_NODE = st.recursive(
    _LEAF,
    lambda children: st.tuples(_TAGS, st.lists(children, max_size=3)).map(
        lambda pair: f"<{pair[0]}>{''.join(pair[1])}</{pair[0]}>"
    ),
    max_leaves=12,
)


@given(st.lists(_NODE, max_size=4).map("".join))
def test_render_round_trips_through_the_parser(markup: str) -> None:
    parsed = parse_html(markup)
    assert parse_html(render_html(parsed)) == parsed
