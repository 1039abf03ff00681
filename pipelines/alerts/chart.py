"""The chart in alert emails: posts per hour around the alert, as a PNG, rendered offline.

Altair builds the Vega-Lite spec and ``vl-convert-python`` renders it without a browser
or network access. A chart that cannot be drawn returns ``None``: the email goes out
without it rather than not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import altair as alt
import polars as pl

log = logging.getLogger(__name__)


def volume_png(
    rows: Sequence[dict[str, Any]],
    mark_start: datetime | None = None,
    mark_end: datetime | None = None,
    title: str = "posts per hour",
    width: int = 640,
    height: int = 200,
) -> bytes | None:
    """A PNG of ``rows`` (``{hour, n}``) with the alert window shaded, or ``None``."""
    if not rows:
        return None
    try:
        import vl_convert as vlc

        df = pl.DataFrame(
            [{"hour": r["hour"], "n": int(r.get("n") or 0)} for r in rows],
            schema={"hour": pl.Datetime("us", "UTC"), "n": pl.Int64},
        ).to_pandas()
        line = (
            alt.Chart(df)
            .mark_area(line=True, opacity=0.35, interpolate="step-after")
            .encode(x=alt.X("hour:T", title=None), y=alt.Y("n:Q", title=title))
        )
        layers: list[Any] = [line]
        if mark_start and mark_end:
            band = pl.DataFrame({"start": [mark_start], "end": [mark_end]}).to_pandas()
            layers.insert(
                0, alt.Chart(band).mark_rect(color="#dc2626", opacity=0.15).encode(x="start:T", x2="end:T")
            )
        chart = alt.layer(*layers).properties(width=width, height=height)
        return vlc.vegalite_to_png(chart.to_json(), scale=1)
    except Exception as exc:
        log.warning("alert chart not rendered: %s", exc)
        return None
