"""Explore's breakdown of the matching posts, one tab at a time (read only when shown).

Why its own module: the page shows the breakdown lazily (an expander and tabs with
``on_change="rerun"``), so each tab's reads and table are one call made only for the tab
that is open.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from components import data
from pipelines.search.filters import Filters

BREAKDOWN_TABS = {
    "Top terms": "terms",
    "Sources": "source",
    "Languages": "lang",
    "Places": "places",
    "Scores": "scores",
}


def render_breakdown(tab: Any, name: str, filters: Filters) -> None:
    """One tab of the breakdown: top terms, posts per source / language / place, or the scores."""
    kind = BREAKDOWN_TABS[name]
    if kind == "terms":
        tab.dataframe(data.top_terms(filters, 20), hide_index=True)
    elif kind != "scores":
        tab.dataframe(data.breakdown(filters, kind, 20), hide_index=True)
    else:
        tab.dataframe(data.score_summary(filters), hide_index=True)
        score = tab.radio(
            "Posts per range of",
            ["threat", "hate", "toxicity", "sentiment"],
            horizontal=True,
            key="explore_rng",
        )
        ranges: pl.DataFrame = data.score_ranges(filters, score)
        tab.dataframe(ranges, hide_index=True)
