"""Altair charts, one typed function each."""

from __future__ import annotations

import altair as alt
import polars as pl


def volume_chart(hourly: pl.DataFrame, height: int = 260) -> alt.Chart:
    """Stacked hourly post counts per source."""
    return (
        alt.Chart(hourly.to_pandas())
        .mark_area(interpolate="step-after", opacity=0.85)
        .encode(
            x=alt.X("hour:T", title=None),
            y=alt.Y("n:Q", title="posts per hour", stack=True),
            color=alt.Color("source:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00"), "source:N", "n:Q"],
        )
        .properties(height=height)
    )


def source_bar_chart(per_source: pl.DataFrame, height: int = 220) -> alt.Chart:
    """Horizontal bars of posts per source."""
    return (
        alt.Chart(per_source.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("n:Q", title="posts"),
            y=alt.Y("source:N", sort="-x", title=None),
            tooltip=["source:N", "n:Q"],
        )
        .properties(height=height)
    )
