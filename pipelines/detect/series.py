"""Regular time series from hourly rollups (and from NAB-style ``timestamp,value`` tables).

A series is identified by a :class:`SeriesId`: a *key* naming the slice of posts
(``all``, ``source:bbc``, ``lang:en``, ``place:Calgary``, ``watch:<id>``) and a *metric*
(``count``, ``high:threat`` = posts scored above the high-threat cut, ``mean:sentiment``
= mean score). Watchlist rollups (kind ``watch``, field ``watchlist``) slot in as
``watch:<id>`` keys without changing anything here.

Series are regular: one row per bucket from the first to the last, gaps filled with
zero for counts and left null for means (a bucket without posts has no mean).
Everything here is pure: rollup documents in, polars frames out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

HOUR_S = 3600
DAY_S = 86_400

MEAN_METRICS: tuple[str, ...] = ("sentiment", "threat", "hate", "toxicity")
HIGH_METRICS: tuple[str, ...] = ("threat", "hate")


@dataclass(frozen=True, order=True)
class SeriesId:
    """One series: the slice of posts (``key``) and what is measured on it (``metric``)."""

    key: str
    metric: str = "count"

    def __str__(self) -> str:
        return f"{self.key}|{self.metric}"

    @property
    def kind(self) -> str:
        """``all``, ``source``, ``lang``, ``place`` or ``watch``."""
        return self.key.split(":", 1)[0]

    @property
    def value(self) -> str | None:
        """The source name, language, place or watchlist id (None for ``all``)."""
        return self.key.split(":", 1)[1] if ":" in self.key else None

    @property
    def is_count(self) -> bool:
        return not self.metric.startswith("mean:")

    @classmethod
    def parse(cls, text: str) -> SeriesId:
        """Inverse of ``str()``: ``"lang:en|mean:threat"`` -> ``SeriesId("lang:en", "mean:threat")``."""
        key, _, metric = text.partition("|")
        if not key:
            raise ValueError(f"not a series id: {text!r} (expected 'key|metric', e.g. 'source:bbc|count')")
        return cls(key, metric or "count")


def infer_step(times: np.ndarray) -> int:
    """Bucket width in seconds: the most common gap between consecutive times.

    Raises
    ------
    ValueError
        With fewer than two times, or when times are not increasing.
    """
    t = np.asarray(times, dtype="datetime64[s]").astype(np.int64)
    if len(t) < 2:
        raise ValueError(f"cannot infer the bucket width of a series with {len(t)} point(s)")
    gaps = np.diff(t)
    if (gaps <= 0).any():
        bad = int(np.argmax(gaps <= 0))
        raise ValueError(f"times must increase strictly; row {bad + 1} ({t[bad + 1]}) does not")
    values, counts = np.unique(gaps, return_counts=True)
    return int(values[np.argmax(counts)])


def regularize(times: np.ndarray, values: np.ndarray, step_s: int, fill: float | None = 0.0) -> pl.DataFrame:
    """One row per bucket from the first to the last time, missing buckets filled.

    Parameters
    ----------
    times:
        Bucket start times (any order; duplicates are summed).
    values:
        Value per time.
    step_s:
        Bucket width in seconds; times are floored to it.
    fill:
        Value of missing buckets (0 for counts, None for means).

    Returns
    -------
    polars.DataFrame
        Columns ``time`` (UTC datetime) and ``value`` (float).
    """
    if step_s <= 0:
        raise ValueError(f"bucket width must be positive, got {step_s} s")
    t = np.asarray(times, dtype="datetime64[s]").astype(np.int64)
    v = np.asarray(values, dtype=float)
    if len(t) != len(v):
        raise ValueError(f"{len(t)} times but {len(v)} values: lengths must match")
    if len(t) == 0:
        return pl.DataFrame({"time": pl.Series([], dtype=pl.Datetime("us", "UTC")), "value": []})
    t = (t // step_s) * step_s
    first, last = int(t.min()), int(t.max())
    n = (last - first) // step_s + 1
    out = np.full(n, np.nan if fill is None else float(fill))
    idx = (t - first) // step_s
    seen = np.zeros(n, dtype=bool)
    finite = np.isfinite(v)
    sums = np.zeros(n)
    np.add.at(sums, idx[finite], v[finite])
    np.logical_or.at(seen, idx[finite], True)
    out[seen] = sums[seen]
    grid_us = (first + np.arange(n, dtype=np.int64) * step_s) * 1_000_000
    return pl.DataFrame(
        {"time": pl.Series(grid_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"), "value": out}
    )


def _keys_of(d: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The series keys one rollup document feeds (``scored``: the scores of ``all``)."""
    kind = d.get("kind")
    if kind == "ingest":
        return ("all", f"source:{d.get('source')}")
    if kind == "score":
        return (f"lang:{d.get('lang') or 'und'}", "scored")
    if kind == "place":
        return (f"place:{d.get('place')}",)
    if kind == "watch":
        return (f"watch:{d.get('watchlist')}",)
    return None


def rollup_frame(docs: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Long table ``key, metric, time, value, n`` from rollup documents of any kind.

    ``count`` rows carry the number of posts, ``high:<score>`` the number above the
    high cut, ``mean:<score>`` the *sum* of the score (divided by ``n`` when series are
    built, so buckets add up correctly before the division). Columns are gathered in
    plain lists (a first detector cycle reads hundreds of thousands of documents).
    """
    keys: list[str] = []
    metrics: list[str] = []
    times: list[datetime] = []
    values: list[float] = []
    ns: list[float] = []

    def add(key: str, metric: str, t: datetime, value: float, n: float) -> None:
        keys.append(key)
        metrics.append(metric)
        times.append(t)
        values.append(value)
        ns.append(n)

    for d in docs:
        hour = d.get("hour")
        if not isinstance(hour, datetime):
            continue
        feeds = _keys_of(d)
        if feeds is None:
            continue
        if hour.tzinfo is not None:
            hour = hour.astimezone(UTC).replace(tzinfo=None)
        n = float(d.get("n") or 0)
        ingest = d.get("kind") == "ingest"
        sums = {} if ingest else d.get("sum") or {}
        highs = {} if ingest else d.get("high") or {}
        for key in feeds:
            if key == "scored":
                key = "all"  # ingest rollups already give "all|count"; these give its scores
            else:
                add(key, "count", hour, n, n)
            for m in MEAN_METRICS:
                if m in sums:
                    add(key, f"mean:{m}", hour, float(sums[m]), n)
            for m in HIGH_METRICS:
                if m in highs:
                    add(key, f"high:{m}", hour, float(highs[m]), n)
    schema = {
        "key": pl.String,
        "metric": pl.String,
        "time": pl.Datetime("us", "UTC"),
        "value": pl.Float64,
        "n": pl.Float64,
    }
    if not keys:
        return pl.DataFrame(schema=schema)
    frame = pl.DataFrame(
        {
            "key": pl.Series(keys, dtype=pl.String),
            "metric": pl.Series(metrics, dtype=pl.String),
            "time": pl.Series(times, dtype=pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "value": pl.Series(values, dtype=pl.Float64),
            "n": pl.Series(ns, dtype=pl.Float64),
        }
    )
    return frame.group_by(["key", "metric", "time"]).agg(pl.col("value").sum(), pl.col("n").sum())


def build_series(
    docs: Iterable[Mapping[str, Any]],
    step_s: int = HOUR_S,
    min_total: float = 20.0,
    max_series: int | None = None,
    metrics: Iterable[str] | None = None,
) -> dict[SeriesId, pl.DataFrame]:
    """Regular series for every key and metric found in rollup documents.

    Parameters
    ----------
    docs:
        Rollup documents (kinds ``ingest``, ``score``, ``place``, ``watch``).
    step_s:
        Bucket width (hourly rollups: 3600).
    min_total:
        Keys with fewer posts than this in total are skipped (too thin to model).
    max_series:
        Keep only the busiest keys (by posts) when there are more; ``all`` always stays.
    metrics:
        Metrics to build (default: every metric found).

    Returns
    -------
    dict
        :class:`SeriesId` -> frame with ``time``, ``value`` (counts, or means with null
        where a bucket has no posts) and ``n`` (posts in the bucket).
    """
    frame = rollup_frame(docs)
    if frame.is_empty():
        return {}
    wanted = set(metrics) if metrics is not None else None
    totals = frame.filter(pl.col("metric") == "count").group_by("key").agg(pl.col("n").sum().alias("total"))
    totals = totals.filter(pl.col("total") >= min_total).sort(["total", "key"], descending=[True, False])
    keys = totals["key"].to_list()
    if max_series is not None and len(keys) > max_series:
        keys = (
            ["all"] + [k for k in keys if k != "all"][: max_series - 1]
            if "all" in keys
            else keys[:max_series]
        )
    out: dict[SeriesId, pl.DataFrame] = {}
    for (key, metric), part in frame.filter(pl.col("key").is_in(keys)).group_by(["key", "metric"]):
        if wanted is not None and metric not in wanted:
            continue
        part = part.sort("time")
        times = part["time"].dt.replace_time_zone(None).to_numpy()
        sid = SeriesId(str(key), str(metric))
        n = regularize(times, part["n"].to_numpy(), step_s, fill=0.0)
        if sid.is_count:
            val = regularize(times, part["value"].to_numpy(), step_s, fill=0.0)
            series = val.with_columns(n=n["value"])
        else:
            sums = regularize(times, part["value"].to_numpy(), step_s, fill=0.0)["value"].to_numpy()
            counts = n["value"].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
            series = n.with_columns(value=pl.Series(mean).fill_nan(None), n=n["value"])
        out[sid] = series
    return dict(sorted(out.items()))


def nab_frame(path: str) -> pl.DataFrame:
    """Read a NAB data file (``timestamp,value``) into ``time, value`` (naive UTC times).

    Raises
    ------
    ValueError
        When a column is missing or a value is not a number, naming the file.
    """
    try:
        frame = pl.read_csv(path, try_parse_dates=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ValueError(f"{path}: cannot read as CSV: {exc}") from exc
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; NAB files have timestamp,value"
        )
    if frame.schema["timestamp"] != pl.Datetime:
        try:
            frame = frame.with_columns(pl.col("timestamp").str.to_datetime())
        except pl.exceptions.PolarsError as exc:
            raise ValueError(f"{path}: timestamp column is not a date-time: {exc}") from exc
    try:
        frame = frame.with_columns(pl.col("value").cast(pl.Float64, strict=True))
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"{path}: value column is not numeric: {exc}") from exc
    return frame.select(time=pl.col("timestamp"), value=pl.col("value"))
