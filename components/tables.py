"""Tables of posts. Post content is shown through ``st.dataframe`` (rendered as text,
never as HTML), so markup in a post cannot run in the reader's browser."""

from __future__ import annotations

import polars as pl
import streamlit as st

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
