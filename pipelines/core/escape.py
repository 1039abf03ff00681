"""Escaping untrusted text (post text, titles, author names, queries) for each place it
is shown, so a post carrying markup cannot act in a reader's browser, mail client,
chat or spreadsheet.

One function per destination, because each has its own syntax:

- :func:`html_text`: HTML pages and e-mail bodies (``& < > " '``).
- :func:`markdown_text`: Streamlit ``st.markdown`` / ``st.caption`` / ``st.write``:
  Markdown punctuation, Streamlit's ``:color[...]`` and ``:material/icon:`` directives
  and ``$`` (LaTeX) are backslash-escaped, so ``![x](https://tracker/pixel)`` neither
  renders nor loads, and ``[click](javascript:...)`` stays text.
- :func:`slack_text`: Slack ``mrkdwn`` (``& < >`` as Slack documents them), which also
  defuses ``<!channel>`` and ``<https://evil|innocent>`` links.
- :func:`spreadsheet_cell`: CSV / XLSX cells (OWASP "CSV injection"): a value starting
  with ``= + - @`` or a tab / carriage return gets a leading apostrophe so Excel and
  LibreOffice show it instead of evaluating it.
- :func:`plain_line`: one-line contexts (log lines, e-mail subjects, titles): control
  characters and bidi overrides removed, length bounded.

Pure functions, no I/O; ``tests/security/test_hostile_inputs.py`` holds the table.
"""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=^&\"'])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def html_text(value: object) -> str:
    """Text safe inside an HTML element or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def markdown_text(value: object) -> str:
    """Text that Streamlit's Markdown shows literally (no links, images, HTML, LaTeX)."""
    s = _CONTROL.sub("", "" if value is None else str(value))
    s = _MD_SPECIAL.sub(r"\\\1", s)
    # A line break followed by spaces could start a code block: keep lines flat.
    return s.replace("\r\n", "\n").replace("\n", "  \n")


def slack_text(value: object) -> str:
    """Text for Slack ``mrkdwn``: the three characters Slack asks to escape."""
    s = _CONTROL.sub("", "" if value is None else str(value))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def spreadsheet_cell(value: object) -> object:
    """A cell value that spreadsheet programs never evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def plain_line(value: object, limit: int = 200) -> str:
    """One line of text: no control or bidi-override characters, at most ``limit`` chars."""
    s = "" if value is None else str(value)
    s = _BIDI.sub("", _CONTROL.sub(" ", s)).replace("\r", " ").replace("\n", " ")
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
