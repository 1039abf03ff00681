"""One :class:`~pipelines.alerts.models.Message`, rendered for each channel. Pure functions.

Post text, titles and author names are hostile input: a post can carry ``<script>``,
Slack's ``<!channel>``, ``@here`` or a disguised link. Each renderer escapes for its
medium:

- Slack mrkdwn: ``&``, ``<`` and ``>`` become entities (Slack's own rule, which disarms
  ``<!channel>`` and ``<http://evil|click here>``); ``@here``/``@channel``/``@everyone``
  get a zero-width joiner; post text goes in ``verbatim`` text objects, so Slack does not
  auto-link URLs or names in it; link targets are percent-encoded so ``|`` and ``>``
  cannot end a link early.
- HTML email and Telegram (``parse_mode=HTML``): :func:`html.escape` on every value;
  ``href`` only for http(s) URLs.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pipelines.alerts.models import Message, PostRef

POST_CHARS = 400
TELEGRAM_MAX = 4096
SLACK_TEXT_MAX = 2900  # a section block's text is capped at 3000 characters
_MENTION = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


# --------------------------------------------------------------------------- helpers


def _clip(text: str | None, n: int = POST_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL with characters that could break out of a link encoded, or ``None``."""
    if not url or not re.match(r"^https?://", url, re.IGNORECASE):
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%-._~")


def slack_escape(text: str) -> str:
    """Escape for Slack mrkdwn: ``& < >`` as entities and broadcast mentions disarmed."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub(lambda m: "@\u2060" + m.group(1), text)


def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 10 or float(x).is_integer() else f"{x:.2f}"


def _when(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC" if ts else ""


def observed_line(m: Message) -> str | None:
    if m.observed is None and m.expected is None:
        return None
    return f"observed {_num(m.observed)} vs expected {_num(m.expected)}"


def _window(m: Message) -> str | None:
    if m.window_start and m.window_end:
        return f"{m.window_start:%Y-%m-%d %H:%M} to {m.window_end:%Y-%m-%d %H:%M} UTC"
    return None


# --------------------------------------------------------------------------- plain text


def plain_text(m: Message) -> str:
    """The plain-text body (email alternative part, logs)."""
    lines = [m.title, "=" * min(len(m.title), 78), ""]
    lines.append(f"Severity: {m.severity_label} ({m.severity:.2f})")
    if (obs := observed_line(m)) is not None:
        lines.append(f"Observed vs expected: {obs}")
    if (win := _window(m)) is not None:
        lines.append(f"Window: {win}")
    if m.watchlist:
        lines.append(f"Watchlist: {m.watchlist}")
    lines.append(f"Rule: {m.rule}")
    if m.summary:
        lines += ["", m.summary]
    if m.items:
        lines += ["", f"{len(m.items)} alerts:"]
        for it in m.items:
            lines.append(f"- [{it.get('severity_label', '')}] {_clip(it.get('title'), 200)}")
            if it.get("link"):
                lines.append(f"  {it['link']}")
    if m.posts:
        lines += ["", "Top posts:"]
        for p in m.posts:
            lines.append(f"- {p.source} {_when(p.ts)}{' @' + p.author if p.author else ''}: {_clip(p.text)}")
            if safe_url(p.url):
                lines.append(f"  {safe_url(p.url)}")
    if m.link:
        lines += ["", f"Open in Vigil: {m.link}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- Slack


def _slack_link(url: str | None, label: str) -> str | None:
    target = safe_url(url)
    if target is None:
        return None
    return f"<{target.replace('|', '%7C').replace('>', '%3E').replace('<', '%3C')}|{slack_escape(label)}>"


def slack_payload(m: Message) -> dict[str, Any]:
    """An incoming-webhook body: fallback ``text`` plus Block Kit blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(m.title, 150), "emoji": False}},
    ]
    fields = [f"*Severity*\n{m.severity_label} ({m.severity:.2f})"]
    if (obs := observed_line(m)) is not None:
        fields.append(f"*Observed vs expected*\n{slack_escape(obs)}")
    if m.watchlist:
        fields.append(f"*Watchlist*\n{slack_escape(m.watchlist)}")
    if (win := _window(m)) is not None:
        fields.append(f"*Window*\n{win}")
    fields.append(f"*Rule*\n{slack_escape(m.rule)}")
    blocks.append(
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f, "verbatim": True} for f in fields[:10]]}
    )
    if m.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": slack_escape(_clip(m.summary, 2000)), "verbatim": True},
            }
        )
    if m.items:
        lines = []
        for it in m.items[:20]:
            link = _slack_link(it.get("link"), "open")
            lines.append(
                f"• [{it.get('severity_label', '')}] {slack_escape(_clip(it.get('title'), 180))}"
                + (f" {link}" if link else "")
            )
        more = f"\n…and {len(m.items) - 20} more" if len(m.items) > 20 else ""
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "\n".join(lines)[:SLACK_TEXT_MAX] + more,
                    "verbatim": True,
                },
            }
        )
    if m.posts:
        blocks.append({"type": "divider"})
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Top posts*", "verbatim": True}]}
        )
        for p in m.posts[:5]:
            link = _slack_link(p.url, "open post")
            head = f"*{slack_escape(p.source)}*" + (f" {slack_escape('@' + p.author)}" if p.author else "")
            body = f"{head} {_when(p.ts)}\n>{slack_escape(_clip(p.text, 600))}" + (
                f"\n{link}" if link else ""
            )
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": body[:SLACK_TEXT_MAX], "verbatim": True},
                }
            )
    if m.link and safe_url(m.link):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Vigil"},
                        "url": safe_url(m.link),
                        "action_id": "open_in_vigil",
                    }
                ],
            }
        )
    fallback = f"[{m.severity_label}] {slack_escape(_clip(m.title, 300))}"
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


# --------------------------------------------------------------------------- email HTML


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _a(url: str | None, label: str) -> str:
    target = safe_url(url)
    return f'<a href="{_e(target)}">{_e(label)}</a>' if target else _e(label)


SEVERITY_COLOURS = {"low": "#6b7280", "medium": "#d97706", "high": "#dc2626", "critical": "#7f1d1d"}


def email_html(m: Message, chart_cid: str | None = None) -> str:
    """The HTML body; ``chart_cid`` names the inline PNG part (``<img src="cid:...">``)."""
    colour = SEVERITY_COLOURS[m.severity_label]
    rows = [("Severity", f'<b style="color:{colour}">{_e(m.severity_label)}</b> ({m.severity:.2f})')]
    if (obs := observed_line(m)) is not None:
        rows.append(("Observed vs expected", _e(obs)))
    if (win := _window(m)) is not None:
        rows.append(("Window", _e(win)))
    if m.watchlist:
        rows.append(("Watchlist", _e(m.watchlist)))
    rows.append(("Rule", _e(m.rule)))
    parts = [
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#111">',
        f'<h2 style="margin:0 0 8px">{_e(m.title)}</h2>',
        '<table cellpadding="4" style="border-collapse:collapse">',
        *(f'<tr><td style="color:#555">{k}</td><td>{v}</td></tr>' for k, v in rows),
        "</table>",
    ]
    if m.summary:
        parts.append(f"<p>{_e(m.summary)}</p>")
    if chart_cid:
        parts.append(f'<p><img src="cid:{_e(chart_cid)}" alt="posts per hour" width="640"></p>')
    if m.items:
        parts.append(f"<h3>{len(m.items)} alerts</h3><ul>")
        for it in m.items:
            title = _e(_clip(it.get("title"), 200))
            link = f" {_a(it.get('link'), 'open')}" if safe_url(it.get("link")) else ""
            parts.append(f"<li>[{_e(it.get('severity_label', ''))}] {title}{link}</li>")
        parts.append("</ul>")
    if m.posts:
        parts.append("<h3>Top posts</h3>")
        for p in m.posts:
            who = f" @{_e(p.author)}" if p.author else ""
            link = f" {_a(p.url, 'open post')}" if safe_url(p.url) else ""
            parts.append(
                f'<blockquote style="border-left:3px solid #ccc;margin:8px 0;padding-left:8px">'
                f"<small>{_e(p.source)}{who} {_e(_when(p.ts))}{link}</small><br>{_e(_clip(p.text))}</blockquote>"
            )
    if m.link:
        parts.append(f"<p>{_a(m.link, 'Open in Vigil')}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- Telegram


def telegram_text(m: Message) -> str:
    """A ``sendMessage`` text in Telegram's HTML mode (only b, i, a, blockquote used)."""
    lines = [f"<b>{_e(m.title)}</b>", f"Severity: <b>{_e(m.severity_label)}</b> ({m.severity:.2f})"]
    if (obs := observed_line(m)) is not None:
        lines.append(_e(obs))
    if m.watchlist:
        lines.append(f"Watchlist: {_e(m.watchlist)}")
    if m.summary:
        lines.append(_e(_clip(m.summary, 600)))
    for it in m.items[:15]:
        lines.append(f"• [{_e(it.get('severity_label', ''))}] {_e(_clip(it.get('title'), 160))}")
    if len(m.items) > 15:
        lines.append(f"…and {len(m.items) - 15} more")
    for p in m.posts[:3]:
        link = f" {_a(p.url, 'open')}" if safe_url(p.url) else ""
        lines.append(f"<blockquote>{_e(p.source)}: {_e(_clip(p.text, 300))}</blockquote>{link}")
    if m.link and safe_url(m.link):
        lines.append(_a(m.link, "Open in Vigil"))
    text = "\n".join(lines)
    if len(text) > TELEGRAM_MAX:  # cut at a line boundary so no tag is left open
        keep, size = [], 0
        for line in lines:
            if size + len(line) + 1 > TELEGRAM_MAX - 2:
                break
            keep.append(line)
            size += len(line) + 1
        text = "\n".join(keep) + "\n…"
    return text


# --------------------------------------------------------------------------- webhook JSON


def _post_json(p: PostRef) -> dict[str, Any]:
    return {
        "id": p.id,
        "source": p.source,
        "author": p.author,
        "ts": p.ts.isoformat() if p.ts else None,
        "text": p.text,
        "url": p.url,
        "score": p.score,
    }


def webhook_body(m: Message, *, delivery_id: str, timestamp: int) -> bytes:
    """The exact bytes that are signed and sent (``timestamp`` inside, so it is signed too)."""
    body = {
        "id": delivery_id,
        "timestamp": timestamp,
        "alert": {
            "id": m.id,
            "title": m.title,
            "kind": m.kind,
            "rule": m.rule,
            "severity": round(m.severity, 4),
            "severity_label": m.severity_label,
            "watchlist": m.watchlist,
            "observed": m.observed,
            "expected": m.expected,
            "window_start": m.window_start.isoformat() if m.window_start else None,
            "window_end": m.window_end.isoformat() if m.window_end else None,
            "summary": m.summary,
            "link": m.link,
            "posts": [_post_json(p) for p in m.posts],
            "items": list(m.items),
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
