"""Each cleaning step, table by table (pure functions, no crawl)."""

from __future__ import annotations

import pytest

from crawler.cleaning import (
    clean_author,
    clean_item,
    clean_url,
    fix_double_escaped,
    html_to_text,
    normalise_whitespace,
    strip_control,
    to_text,
    unescape_entities,
)
from crawler.items import PostItem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("a\x00b\x1fc", "abc"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("\ufeffbom", "bom"),
        ("zero\u200bwidth", "zerowidth"),
        ("c1\x85control", "c1control"),
    ],
)
def test_strip_control(raw: str, expected: str) -> None:
    assert strip_control(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Reddit's public JSON (no raw_json=1) escapes & < > only.
        ("Q&amp;A: is 3 &lt; 4 &gt; 2?", "Q&A: is 3 < 4 > 2?"),
        ("no entities", "no entities"),
        ("&#8220;quoted&#8221;", "\u201cquoted\u201d"),
    ],
)
def test_unescape_entities(raw: str, expected: str) -> None:
    assert unescape_entities(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("r&eacute;capitulatif", "récapitulatif"),  # nextinpact's double escaping
        ("Kindle &#8220;Unable&#8221;", "Kindle \u201cUnable\u201d"),  # hamakor's HTML titles
        ("AT&T and R&D", "AT&T and R&D"),  # a bare ampersand is not an entity
        ("already clean ’", "already clean ’"),
    ],
)
def test_fix_double_escaped(raw: str, expected: str) -> None:
    assert fix_double_escaped(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  a   b  ", "a b"),
        ("line1\r\nline2\rline3", "line1\nline2\nline3"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("  x \n   y  ", "x\ny"),
        ("non\u00a0breaking\u3000space", "non breaking space"),
    ],
)
def test_normalise_whitespace(raw: str, expected: str) -> None:
    assert normalise_whitespace(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),  # paragraphs stay paragraphs
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<b>bold</b> &amp; <i>it</i>", "bold & it"),
        ("<script>alert(1)</script>kept", "kept"),
        ("<style>p{}</style><p>x</p>", "x"),
        # 4chan: <wbr> splits long URLs; the URL must come back whole.
        ("https://pastebin.com/7Aa<wbr>6HxUh", "https://pastebin.com/7Aa6HxUh"),
        ('<span class="quote">&gt;greentext</span>', ">greentext"),
        ('<img alt="chart" src="x.png">', "chart"),
        ("no markup at all", "no markup at all"),
        ("", ""),
        ("<p>unclosed <b>tags", "unclosed tags"),
    ],
)
def test_html_to_text(raw: str, expected: str) -> None:
    assert normalise_whitespace(html_to_text(raw)) == expected


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("<p>Hi &amp; bye</p>", "html", "Hi & bye"),
        ("Hi &amp; bye", "escaped", "Hi & bye"),
        ("5 < 6 and x&y", "text", "5 < 6 and x&y"),
        (None, "html", ""),
        ("<p>caf&amp;eacute;</p>", "html", "café"),
    ],
)
def test_to_text(value: str | None, fmt: str, expected: str) -> None:
    assert to_text(value, fmt) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Leena Rao ", "Leena Rao"),
        ("kevin@nextinpact.com", "kevin@nextinpact.com"),
        ("<b>ik_5</b>", "ik_5"),
        ("", None),
        (None, None),
        ("multi\nline", "multi line"),
    ],
)
def test_clean_author(raw: str | None, expected: str | None) -> None:
    assert clean_author(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\n   http://example.org/a \n ", "http://example.org/a"),
        ("", None),
        (None, None),
    ],
)
def test_clean_url(raw: str | None, expected: str | None) -> None:
    assert clean_url(raw) == expected


def test_clean_item_applies_declared_formats() -> None:
    item = PostItem(
        source="s",
        native_id="1",
        title="<b>Title</b>\nwith break",
        title_format="html",
        text="Q&amp;A",
        text_format="escaped",
        author=" someone ",
        url=" http://x.org/p ",
        lang="en-CA",
    )
    out = clean_item(item)
    assert (out.title, out.text, out.author, out.url, out.lang) == (
        "Title with break",
        "Q&A",
        "someone",
        "http://x.org/p",
        "en",
    )
    assert out.text_format == out.title_format == "text"
    assert item.text == "Q&amp;A"  # the input is not modified
