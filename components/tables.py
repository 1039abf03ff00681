"""Tables and the detail panel of posts.

Post content is untrusted. Tables go through ``st.dataframe`` (rendered as text, never
as HTML). The detail panel builds HTML only from :func:`pipelines.read.highlight.highlight_html`
(every character of the post escaped, then Vigil's own ``<mark>`` tags) and renders it
with ``st.html``, which also sanitises; titles and authors are shown as plain text.
"""

from __future__ import annotations

import html
from typing import Any

import polars as pl
import streamlit as st

from pipelines.core.escape import markdown_text
from pipelines.read.highlight import highlight_html, match_patterns, snippet

TEXT_PREVIEW_CHARS = 280


def render_posts_table(posts: pl.DataFrame, height: int = 420) -> None:
    """A compact table of posts with a clickable link column."""
    if posts.is_empty():
        st.info("No posts yet.")
        return
    view = posts.with_columns(pl.col("text").str.slice(0, TEXT_PREVIEW_CHARS))
    st.dataframe(
        view,
        hide_index=True,
        height=height,
        column_config={
            "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm"),
            "url": st.column_config.LinkColumn("link", display_text="open"),
            "text": st.column_config.TextColumn("text", width="large"),
        },
    )


def render_selectable_posts(posts: pl.DataFrame, query: str, key: str, height: int = 460) -> str | None:
    """Posts with a ``match`` column (keyword in context, marked «»); returns the selected id."""
    patterns = match_patterns(query)
    view = posts.select(
        "ts",
        "source",
        pl.Series("match", [snippet(t, patterns) for t in posts["text"].to_list()], dtype=pl.String),
        "threat",
        "hate",
        "sentiment",
        "places",
        "url",
        "id",
    )
    event = st.dataframe(
        view,
        hide_index=True,
        height=height,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm"),
            "match": st.column_config.TextColumn("text (matches in «»)", width="large"),
            "threat": st.column_config.NumberColumn(format="%.2f"),
            "hate": st.column_config.NumberColumn(format="%.2f"),
            "sentiment": st.column_config.NumberColumn(format="%.2f"),
            "url": st.column_config.LinkColumn("link", display_text="open"),
            "id": st.column_config.TextColumn("id"),
        },
    )
    rows = event.selection.rows if event is not None else []
    return str(view["id"][rows[0]]) if rows else None


def _score_line(scores: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name in ("sentiment", "threat", "hate", "toxicity"):
        if scores.get(name) is not None:
            out.append((name, f"{float(scores[name]):.2f}"))
    return out


def render_post_detail(doc: dict[str, Any], query: str = "") -> None:
    """Every field and score of one post, the text with the keyword matches highlighted."""
    scores = doc.get("scores") or {}
    st.markdown(f"**{markdown_text(doc.get('source', ''))}** · {doc.get('ts'):%Y-%m-%d %H:%M} UTC")
    if doc.get("title"):
        st.text(doc["title"])
    if doc.get("author"):
        st.caption("by " + markdown_text(doc["author"]))
    body = highlight_html(doc.get("text"), match_patterns(query))
    st.html(f'<div class="vigil-post" style="line-height:1.5;white-space:normal">{body}</div>')
    if doc.get("url"):
        st.link_button("Open the original", doc["url"])
    cols = st.columns(4)
    for col, (name, value) in zip(cols, _score_line(scores), strict=False):
        col.metric(name, value)
    if not scores:
        st.info("This post has not been scored yet.")
        return
    facts = {
        "topics": ", ".join(scores.get("topics") or []) or "-",
        "places": ", ".join(
            f"{p.get('name')} ({p.get('country') or '?'})" for p in scores.get("places") or []
        )
        or "-",
        "entities": ", ".join(
            f"{e.get('name') or e.get('text')} [{e.get('type')}]"
            for e in scores.get("entities") or []
            if isinstance(e, dict)
        )
        or "-",
        "language": f"{scores.get('language') or scores.get('lang') or '-'} ({scores.get('confidence', '-')} confidence)",
        "model": f"{scores.get('model', '-')} v{scores.get('version', '-')}",
    }
    # st.table renders Markdown in cells: model output can echo the post, so escape it.
    st.table(pl.DataFrame({"field": list(facts), "value": [markdown_text(v) for v in facts.values()]}))
    if scores.get("rationale"):
        st.caption("Rationale from the model:")
        st.text(scores["rationale"])


def escape(value: Any) -> str:
    """``html.escape`` for any value, for the rare HTML Vigil builds around stored text."""
    return html.escape("" if value is None else str(value))
