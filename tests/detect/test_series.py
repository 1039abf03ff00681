"""Series from rollups: regular buckets, gaps filled, every key and metric of the rollup contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipelines.detect.series import SeriesId, build_series, infer_step, nab_frame, regularize

H0 = datetime(2024, 5, 1, tzinfo=UTC)


def h(i: int) -> datetime:
    return H0 + timedelta(hours=i)


def test_regularize_fills_gaps_and_sums_duplicates() -> None:
    t = np.array(
        ["2024-01-01T00:10", "2024-01-01T03:00", "2024-01-01T03:20", "2024-01-01T01:00"],
        dtype="datetime64[s]",
    )
    out = regularize(t, np.array([1.0, 2.0, 3.0, 4.0]), 3600)
    assert out["value"].to_list() == [1.0, 4.0, 0.0, 5.0]
    assert out["time"].dt.hour().to_list() == [0, 1, 2, 3]
    means = regularize(t[:2], np.array([0.5, 0.7]), 3600, fill=None)
    assert means["value"].to_list()[1:3] == [None, None] or np.isnan(means["value"].to_numpy()[1])
    assert regularize(t[:0], np.zeros(0), 3600).height == 0
    with pytest.raises(ValueError, match="positive"):
        regularize(t, np.ones(4), 0)


def test_infer_step() -> None:
    t = np.array([0, 300, 600, 1200, 1500], dtype="datetime64[s]")
    assert infer_step(t) == 300
    with pytest.raises(ValueError, match="1 point"):
        infer_step(t[:1])
    with pytest.raises(ValueError, match="increase"):
        infer_step(t[::-1])


def test_series_id_round_trip() -> None:
    sid = SeriesId("place:St. John's", "mean:threat")
    assert SeriesId.parse(str(sid)) == sid
    assert (sid.kind, sid.value, sid.is_count) == ("place", "St. John's", False)
    assert SeriesId.parse("all") == SeriesId("all", "count")
    with pytest.raises(ValueError, match="not a series id"):
        SeriesId.parse("|count")


def rollups() -> list[dict]:
    docs = []
    for i in (0, 1, 3):  # hour 2 missing everywhere
        docs.append({"kind": "ingest", "hour": h(i), "source": "bbc", "n": 10 + i})
        docs.append({"kind": "ingest", "hour": h(i), "source": "rss", "n": 5})
        docs.append(
            {
                "kind": "score",
                "hour": h(i),
                "source": "bbc",
                "lang": "en",
                "n": 8,
                "sum": {"sentiment": -4.0, "threat": 2.0, "hate": 0.8, "toxicity": 1.6},
                "high": {"threat": 2, "hate": 0, "toxicity": 1},
                "topics": {"politics": 3},
            }
        )
        docs.append(
            {
                "kind": "score",
                "hour": h(i),
                "source": "rss",
                "lang": "en",
                "n": 2,
                "sum": {"threat": 1.0},
                "high": {"threat": 1},
            }
        )
        docs.append(
            {
                "kind": "place",
                "hour": h(i),
                "place": "Calgary",
                "country": "CA",
                "lat": 51.05,
                "lon": -114.07,
                "n": 30,
                "sum": {"threat": 3.0},
            }
        )
        docs.append(
            {
                "kind": "watch",
                "hour": h(i),
                "watchlist": "acme",
                "n": 25,
                "sum": {"sentiment": 5.0},
                "high": {"threat": 1},
            }
        )
    docs.append({"kind": "unknown", "hour": h(0), "n": 99})
    return docs


def test_build_series_covers_every_kind_of_rollup() -> None:
    series = build_series(rollups(), min_total=0)
    ids = {str(s) for s in series}
    for expected in (
        "all|count",
        "source:bbc|count",
        "source:rss|count",
        "lang:en|count",
        "lang:en|mean:threat",
        "lang:en|high:threat",
        "all|mean:sentiment",
        "all|high:threat",
        "place:Calgary|count",
        "place:Calgary|mean:threat",
        "watch:acme|count",
        "watch:acme|mean:sentiment",
        "watch:acme|high:threat",
    ):
        assert expected in ids, expected
    assert series[SeriesId("all")]["value"].to_list() == [15.0, 16.0, 0.0, 18.0]  # gap filled with 0
    assert series[SeriesId("source:bbc")]["value"].to_list() == [10.0, 11.0, 0.0, 13.0]
    # Means are sums over posts divided by posts, per bucket: (2 + 1) / (8 + 2); no posts -> null.
    threat = series[SeriesId("lang:en", "mean:threat")]
    assert threat["value"].to_list()[0] == pytest.approx(0.3)
    assert threat["value"].to_list()[2] is None
    assert series[SeriesId("lang:en", "high:threat")]["value"].to_list() == [3.0, 3.0, 0.0, 3.0]
    # Only the bbc rollup reports sentiment: the mean is over the posts that carry the score.
    assert series[SeriesId("all", "mean:sentiment")]["value"][0] == pytest.approx(-4.0 / 8)


def test_thin_keys_are_dropped_and_the_busiest_kept() -> None:
    series = build_series(rollups(), min_total=30)
    keys = {s.key for s in series}
    assert "source:rss" not in keys  # 15 posts in all
    assert "source:bbc" in keys  # 34
    two = build_series(rollups(), min_total=0, max_series=2)
    assert {s.key for s in two} == {"all", "place:Calgary"}  # "all" always, then the busiest
    only = build_series(rollups(), min_total=0, metrics=["count"])
    assert {s.metric for s in only} == {"count"}
    assert build_series([]) == {}


def test_nab_frame_reads_and_rejects(tmp_path: Path) -> None:
    good = tmp_path / "a.csv"
    good.write_text("timestamp,value\n2015-01-01 00:00:00,3\n2015-01-01 00:05:00,4\n")
    frame = nab_frame(str(good))
    assert frame.columns == ["time", "value"] and frame["value"].to_list() == [3.0, 4.0]
    bad = tmp_path / "b.csv"
    bad.write_text("time,count\n2015-01-01 00:00:00,3\n")
    with pytest.raises(ValueError, match="missing column"):
        nab_frame(str(bad))
    text = tmp_path / "c.csv"
    text.write_text("timestamp,value\n2015-01-01 00:00:00,three\n")
    with pytest.raises(ValueError, match="not numeric"):
        nab_frame(str(text))
