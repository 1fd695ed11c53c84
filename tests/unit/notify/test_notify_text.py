"""Splitting Telegram HTML: every part fits, is valid markup on its own, and loses nothing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradedeck.notify.text import (
    escape,
    should_send_as_document,
    split_html,
    to_plain_text,
)

TAG = re.compile(r"<(/?)([a-z]+)[^>]*>")


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def balanced(part: str) -> bool:
    stack: list[str] = []
    for closing, name in TAG.findall(part):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def no_cut_entity(part: str) -> bool:
    # Every "&" starts a complete entity: a cut one would leave "&am" at an edge.
    return all(re.match(r"&(?:amp|lt|gt|quot|#\d+);", part[i:]) for i in _amps(part))


def _amps(part: str) -> list[int]:
    return [m.start() for m in re.finditer("&", part)]


def test_escape_makes_any_value_safe() -> None:
    assert escape("<b>a & b</b>") == "&lt;b&gt;a &amp; b&lt;/b&gt;"
    assert escape('say "hi"') == 'say "hi"'
    assert escape(0.5) == "0.5"
    assert escape(None) == "None"


def test_short_text_is_returned_unchanged() -> None:
    text = "<b>hello</b>\nworld"
    assert split_html(text) == [text]
    assert not should_send_as_document(text)


def test_cuts_fall_on_line_boundaries_and_keep_every_line() -> None:
    lines = [f"line {i:03d} " + "x" * 30 for i in range(200)]
    parts = split_html("\n".join(lines), limit=500)
    assert len(parts) > 1
    assert all(len(p) <= 500 for p in parts)
    assert [line for p in parts for line in p.split("\n")] == lines


def test_pre_block_is_closed_and_reopened_at_each_cut() -> None:
    rows = [f"row {i:02d} | {i * 1.5:>8.2f} | ok" for i in range(60)]
    text = "<b>Report</b>\n<pre>" + "\n".join(rows) + "</pre>\nend"
    parts = split_html(text, limit=300)
    assert len(parts) > 2
    for part in parts:
        assert len(part) <= 300
        assert balanced(part), part
    # Every part after the first continues the table inside its own <pre>.
    assert all(p.startswith("<pre>") for p in parts[1:-1])
    visible = "\n".join(to_plain_text(p) for p in parts)
    assert [r for r in rows if r not in visible] == []
    assert visible.startswith("Report\n") and visible.endswith("end")


def test_pre_with_code_language_reopens_both_tags_with_attributes() -> None:
    body = "\n".join(f"print({i})" for i in range(100))
    text = f'<pre><code class="language-python">{body}</code></pre>'
    parts = split_html(text, limit=200)
    assert len(parts) > 1
    for part in parts:
        assert part.startswith('<pre><code class="language-python">')
        assert part.endswith("</code></pre>")
        assert len(part) <= 200


def test_single_long_line_is_hard_cut_but_never_inside_an_entity() -> None:
    line = "<b>" + "a&amp;b&lt;" * 400 + "</b>"
    parts = split_html(line, limit=101)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 101
        assert balanced(part)
        assert no_cut_entity(part)
    assert "".join(to_plain_text(p) for p in parts) == "a&b<" * 400


def test_limit_counts_utf16_units_so_emoji_heavy_text_still_fits() -> None:
    text = "\n".join("🟢" * 50 for _ in range(200))
    parts = split_html(text, limit=4096)
    assert all(units(p) <= 4096 for p in parts)
    assert "".join(p.replace("\n", "") for p in parts) == "🟢" * 50 * 200


def test_parts_never_empty() -> None:
    text = "<pre>" + "\n" * 50 + "x" * 90 + "\n" * 50 + "</pre>"
    for part in split_html(text, limit=100):
        assert to_plain_text(part).strip()


def test_long_text_goes_as_a_document() -> None:
    text = "\n".join("y" * 100 for _ in range(300))  # ~30k characters, 8 parts
    assert should_send_as_document(text)
    assert not should_send_as_document(text, max_parts=10)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_html("x" * 10, limit=0)


_lines = st.lists(
    st.one_of(
        st.text(alphabet="ab <>&é🟢", max_size=80).map(escape),
        st.text(alphabet="xyz&", max_size=30).map(lambda s: f"<b>{escape(s)}</b>"),
        st.just("<pre>"),
        st.just("</pre>"),
        st.just('<a href="https://example.org/?a=1&amp;b=2">link</a>'),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_lines, st.integers(min_value=60, max_value=400))
def test_properties_hold_for_any_markup(lines: list[str], limit: int) -> None:
    # Keep pre blocks well nested, as producers of valid markup do.
    depth = 0
    fixed: list[str] = []
    for line in lines:
        if line == "<pre>":
            if depth:
                continue
            depth = 1
        elif line == "</pre>":
            if not depth:
                continue
            depth = 0
        fixed.append(line)
    if depth:
        fixed.append("</pre>")
    text = "\n".join(fixed)
    parts = split_html(text, limit=limit)
    if units(text) <= limit:
        assert parts == [text]
        return
    for part in parts:
        assert units(part) <= limit
        assert balanced(part), part
        assert no_cut_entity(part)
    # Nothing visible is lost or reordered (line breaks at cuts may go).
    squash = "".join(to_plain_text(text).split())
    assert "".join("".join(to_plain_text(p).split()) for p in parts) == squash
