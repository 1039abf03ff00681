"""``bench/search.py`` runs end to end on a tiny index: every cell answered and checked
against the independent count, the check able to fail, an index reused, a foreign folder
refused, the p95 rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import search as bench
from bench import search_posts as sp


@pytest.fixture()
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sp, "CHUNK", 1_000)  # several chunks even for a tiny run


def test_a_tiny_run_answers_every_cell_exactly(small_chunks: None, tmp_path: Path, capsys) -> None:
    out = bench.main(["-n", "2500", "--repeats", "2", "--index-dir", str(tmp_path / "idx"), "--keep"])
    assert out["wrong"] == 0
    assert set(out["results"]) == set(bench.SHAPES)
    for res in out["results"].values():
        assert set(bench.OPS) <= set(res)
        assert all(res[op]["exact"] and res[op]["p95"] >= res[op]["p50"] >= 0 for op in bench.OPS)
    assert out["results"]["everything"]["matches"] == 2500
    rolled = [name for name, res in out["results"].items() if bench.AGG in res]
    assert rolled == ["week_source", "place", "area", "everything"]  # the rollup's selections, and the
    assert all(out["results"][name][bench.AGG]["exact"] for name in rolled)  # aggregation beside it
    assert 0 < out["results"]["place"]["matches"] < 2500
    assert 0 < out["results"]["area"]["matches"] <= out["results"]["place"]["matches"]
    text = capsys.readouterr().out
    assert "posts/s" in text and "B/post" in text and "not exact: 0" in text
    # The same index is reused (query timings only) and kept.
    again = bench.main(["-n", "2500", "--repeats", "1", "--index-dir", str(tmp_path / "idx"), "--keep"])
    assert again["wrong"] == 0 and "reusing the index" in capsys.readouterr().out


def test_the_check_catches_a_wrong_answer(small_chunks: None) -> None:
    want = bench.expected(1500)
    kw = bench.SHAPES["term"]
    assert bench.check("count", want["term"]["count"], want["term"], 1500, kw)
    assert not bench.check("count", want["term"]["count"] + 1, want["term"], 1500, kw)
    top = want["everything"]["top_terms"]
    assert not bench.check("top_terms", [(top[0][0], top[0][1] - 1), *top[1:]], want["everything"], 1500, kw)
    # newest: an id outside the selection is refused
    post = next(p for p in sp.posts(1500) if "flood" not in p["terms"])
    assert not bench.check("newest_50", [post["_id"]], want["term"], 1500, kw)


def test_p95_is_the_95th_percentile_not_the_slowest() -> None:
    # the rule of bench/dashboard.py's pct: 19th of 20, 95th of 100 (int(0.95 * n) gave 20th, 96th)
    assert bench._p95([float(v) for v in range(20, 0, -1)]) == 19.0
    assert bench._p95([float(v) for v in range(1, 101)]) == 95.0
    assert bench._p95([3.0]) == 3.0


def test_a_foreign_folder_is_refused_not_emptied(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="holds no bench index"):
        bench.main(["-n", "10", "--repeats", "1", "--index-dir", str(tmp_path)])
    assert (tmp_path / "mine.txt").read_text() == "keep me"
