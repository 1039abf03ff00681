"""Altair charts, one typed function each. Pure: data in, ``alt.Chart`` out.

The same functions feed the PDF report (rendered to PNG by vl-convert), so they
import nothing from streamlit.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

BRUSH = "brush"


def _pd(df: pl.DataFrame) -> Any:
    return df.to_pandas()


def volume_chart(hourly: pl.DataFrame, height: int = 260) -> alt.Chart:
    """Stacked hourly post counts per source."""
    return (
        alt.Chart(_pd(hourly))
        .mark_area(interpolate="step-after", opacity=0.85)
        .encode(
            x=alt.X("hour:T", title=None),
            y=alt.Y("n:Q", title="posts per hour", stack=True),
            color=alt.Color("source:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00"), "source:N", "n:Q"],
        )
        .properties(height=height)
    )


def volume_with_anomalies(hourly: pl.DataFrame, markers: pl.DataFrame, height: int = 260) -> alt.LayerChart:
    """The volume chart with each anomaly's window shaded and its start marked."""
    base = volume_chart(hourly, height)
    if markers.is_empty():
        return alt.layer(base)
    lo, hi = hourly["hour"].min(), hourly["hour"].max()
    m = markers.with_columns(
        pl.col("start").clip(lo, hi).alias("start"), pl.col("end").clip(lo, hi).alias("end")
    )
    shade = (
        alt.Chart(_pd(m))
        .mark_rect(opacity=0.18, color="#d62728")
        .encode(
            x="start:T",
            x2="end:T",
            tooltip=["series:N", alt.Tooltip("severity:Q", format=".2f"), "status:N", "start:T", "end:T"],
        )
    )
    rule = alt.Chart(_pd(m)).mark_rule(color="#d62728", strokeWidth=2).encode(x="start:T")
    return alt.layer(shade, base, rule).properties(height=height)


def brush_timeline(hourly: pl.DataFrame, height: int = 200, bucket: str = "hour") -> alt.Chart:
    """Totals per bucket (column ``hour`` holds its start; ``bucket`` is ``hour`` or ``day``)
    with an x-interval brush named :data:`BRUSH` (selecting narrows the table)."""
    totals = hourly.group_by("hour").agg(pl.col("n").sum()).sort("hour")
    brush = alt.selection_interval(encodings=["x"], name=BRUSH)
    return (
        alt.Chart(_pd(totals))
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("hour:T", title=None),
            y=alt.Y("n:Q", title=f"posts per {bucket}"),
            tooltip=[
                alt.Tooltip("hour:T", format="%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"),
                "n:Q",
            ],
        )
        .add_params(brush)
        .properties(height=height)
    )


def source_bar_chart(per_source: pl.DataFrame, height: int = 220) -> alt.Chart:
    """Horizontal bars of posts per source."""
    return (
        alt.Chart(_pd(per_source))
        .mark_bar()
        .encode(
            x=alt.X("n:Q", title="posts"),
            y=alt.Y("source:N", sort="-x", title=None),
            tooltip=["source:N", "n:Q"],
        )
        .properties(height=height)
    )


def bar_chart(df: pl.DataFrame, label: str, height: int = 300) -> alt.Chart:
    """Horizontal bars of ``n`` per ``label`` (top terms, top places)."""
    return (
        alt.Chart(_pd(df))
        .mark_bar(color="#72b7b2")
        .encode(
            x=alt.X("n:Q", title="posts"),
            y=alt.Y(f"{label}:N", sort="-x", title=None),
            tooltip=[f"{label}:N", "n:Q"],
        )
        .properties(height=height)
    )


def band_chart(context: pl.DataFrame, start: Any, end: Any, height: int = 280) -> alt.LayerChart:
    """Observed values against the expected interval (the baseline's band), window shaded."""
    df = _pd(context)
    band = alt.Chart(df).mark_area(opacity=0.25, color="#9ecae9").encode(x="time:T", y="lo:Q", y2="hi:Q")
    expected = (
        alt.Chart(df)
        .mark_line(color="#3182bd", strokeDash=[4, 3])
        .encode(x="time:T", y=alt.Y("expected:Q", title="value"))
    )
    observed = (
        alt.Chart(df)
        .mark_line(color="#d62728", point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("time:T", title=None),
            y="value:Q",
            tooltip=[
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("value:Q", format=".2f"),
                alt.Tooltip("expected:Q", format=".2f"),
                alt.Tooltip("lo:Q", format=".2f"),
                alt.Tooltip("hi:Q", format=".2f"),
            ],
        )
    )
    window = (
        alt.Chart(_pd(pl.DataFrame({"start": [start], "end": [end]})))
        .mark_rect(opacity=0.12, color="#d62728")
        .encode(x="start:T", x2="end:T")
    )
    return alt.layer(window, band, expected, observed).properties(height=height)


def matrix_profile_chart(context: pl.DataFrame, height: int = 160) -> alt.Chart:
    """The left matrix-profile distance: high where the recent shape was never seen before."""
    return (
        alt.Chart(_pd(context.drop_nulls("mp")))
        .mark_area(color="#9467bd", opacity=0.6, interpolate="step-after")
        .encode(
            x=alt.X("time:T", title=None),
            y=alt.Y("mp:Q", title="matrix profile"),
            tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("mp:Q", format=".3f")],
        )
        .properties(height=height)
    )
