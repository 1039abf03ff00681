"""Pure cleaning steps applied to every crawled item before validation.

Each step is a small function of a string (tested table by table in
``tests/crawler/test_cleaning.py``); :func:`clean_item` chains them according to the
format a spider declared for each field. Validation proper (dates, URLs, lengths,
terms, hashes) stays in :mod:`pipelines.core.post` and :mod:`pipelines.core.text`, shared with
the archive importer.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from lxml import etree
from lxml import html as lxml_html

from crawler.items import PostItem, TextFormat

BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "blockquote",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "dd",
        "dt",
    ]
)
DROP_TAGS = frozenset(("script", "style", "noscript", "template", "head"))

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_LEFTOVER_ENTITY = re.compile(r"&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_TAG_RE = re.compile(r"<[^>]{0,2000}>")
_LOOKS_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>|&[#a-zA-Z0-9]+;")


def strip_control(text: str) -> str:
    """Drop C0/C1 control characters, zero-width spaces and BOMs (keep tab and newline)."""
    return _CONTROL.sub("", text)


def unescape_entities(text: str) -> str:
    """``&amp;`` to ``&`` and friends (Reddit's public JSON escapes ``& < >``)."""
    return html.unescape(text)


def fix_double_escaped(text: str) -> str:
    """Undo one more level of escaping when entities survive a first decoding.

    Some feeds escape twice (``&amp;rsquo;``), so after the HTML is parsed the text still
    reads ``&rsquo;``; a literal entity in finished text is almost always this mistake.
    """
    return html.unescape(text) if _LEFTOVER_ENTITY.search(text) else text


def normalise_whitespace(text: str) -> str:
    """Trim every line, collapse runs of blanks and of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", text)
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment: block elements and ``<br>`` become line breaks.

    Scripts and styles are dropped, entities decoded. Markup lxml cannot parse falls
    back to stripping tags, so a broken fragment still yields its words.
    """
    if not markup or not markup.strip():
        return ""
    if not _LOOKS_HTML.search(markup):
        return markup
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.unescape(_TAG_RE.sub(" ", markup))
    for el in list(root.iter()):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in DROP_TAGS:
            el.drop_tree()
            continue
        if tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif tag in BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
        elif tag == "img" and el.get("alt"):
            el.tail = f" {el.get('alt')} " + (el.tail or "")
    return root.text_content()


def to_text(value: str | None, fmt: TextFormat) -> str:
    """A field in its declared format to clean plain text (empty for ``None``)."""
    if not value:
        return ""
    text = strip_control(str(value))
    if fmt == "html":
        text = html_to_text(text)
    elif fmt == "escaped":
        text = unescape_entities(text)
    text = fix_double_escaped(text)
    return normalise_whitespace(strip_control(text))


def clean_author(value: str | None) -> str | None:
    """Authors arrive as ``"name (email)"``, HTML, or padded: keep a plain one-line name."""
    if not value:
        return None
    text = normalise_whitespace(html_to_text(strip_control(str(value)))).replace("\n", " ")
    return text or None


def clean_url(value: str | None) -> str | None:
    """Feeds wrap links in whitespace and newlines; the URL itself never has any."""
    if not value:
        return None
    url = re.sub(r"\s+", "", str(value))
    return url or None


def clean_item(item: PostItem) -> PostItem:
    """A copy of the item with every text field cleaned and formats set to ``text``."""
    title = to_text(item.title, item.title_format).replace("\n", " ") or None
    return replace(
        item,
        text=to_text(item.text, item.text_format),
        title=title,
        author=clean_author(item.author),
        url=clean_url(item.url),
        lang=(item.lang or "").split("-")[0].split("_")[0].strip().lower() or None,
        text_format="text",
        title_format="text",
    )
