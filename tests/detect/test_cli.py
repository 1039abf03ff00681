"""The detect, eval-nab and eval-onsets commands end to end (real store, real files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.core.config import Settings
from pipelines.detect import lofo
from pipelines.store import Store
from pipelines.supervisor import process_specs


@pytest.fixture()
def cli(pipelines_cli):
    return pipelines_cli


def nab_folder(root: Path) -> tuple[Path, Path, int]:
    """Two NAB-format files of 4 days at 5 minutes; one labelled spike in the first."""
    rng = np.random.default_rng(3)
    times = [datetime(2015, 3, 1, 0, 2, 53) + timedelta(minutes=5 * i) for i in range(4 * 288)]
    spike = 3 * 288 + 100
    for name, level in (("a.csv", 30), ("b.csv", 8)):
        values = rng.poisson(level, len(times))
        if name == "a.csv":
            values[spike : spike + 3] = [400, 900, 500]
        pl.DataFrame(
            {"timestamp": [t.strftime("%Y-%m-%d %H:%M:%S") for t in times], "value": values}
        ).write_csv(root / name)
    windows = {
        "a.csv": [
            [f"{times[spike - 40]:%Y-%m-%d %H:%M:%S}.000000", f"{times[spike + 40]:%Y-%m-%d %H:%M:%S}.000000"]
        ],
        "b.csv": [],
    }
    (root / "windows.json").write_text(json.dumps(windows))
    return root, root / "windows.json", spike


def test_eval_nab_writes_nab_results_and_scores(cli, tmp_path: Path) -> None:
    data, windows, spike = nab_folder(tmp_path)
    out = tmp_path / "out"
    res = cli(
        "eval-nab", str(data), str(windows), "--method", "combined", "--out", str(out), "--workers", "1"
    )
    assert res.exit_code == 0, res.output
    assert "combined" in res.output and "standard" in res.output
    result = pl.read_csv(out / "combined" / "combined_a.csv")
    assert result.columns == ["timestamp", "value", "anomaly_score", "label"]
    assert result["label"].sum() == 81 and result["label"][spike] == 1
    assert int(result["anomaly_score"].arg_max()) in range(spike, spike + 3)
    assert result["anomaly_score"].min() >= 0 and result["anomaly_score"].max() < 1
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["combined"]) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert scores["combined"]["standard"]["null"] == -1.0


def test_eval_commands_refuse_bad_input(cli, tmp_path: Path) -> None:
    res = cli("eval-nab", str(tmp_path / "nowhere"), str(tmp_path / "w.json"))
    assert res.exit_code == 2 and "does not exist" in res.output
    (tmp_path / "w.json").write_text("[1, 2]")
    (tmp_path / "x.csv").write_text("timestamp,value\n2015-01-01 00:00:00,1\n")
    res = cli("eval-nab", str(tmp_path), str(tmp_path / "w.json"), "--workers", "1")
    assert res.exit_code == 2 and "expected an object of file -> windows" in res.output
    res = cli("eval-nab", str(tmp_path), str(tmp_path / "w.json"), "--method", "arima")
    assert res.exit_code == 2 and "arima" in res.output
    res = cli("eval-onsets", str(tmp_path))
    assert res.exit_code == 2 and "no event folders" in res.output


def test_detect_once_reports_a_cycle(cli, store: Store) -> None:
    t0 = datetime(2013, 9, 1, tzinfo=UTC)
    rng = np.random.default_rng(0)
    docs = []
    for h in range(6 * 24):
        hour = t0 + timedelta(hours=h)
        n = int(rng.poisson(20)) + (400 if h == 5 * 24 + 3 else 0)
        docs.append(
            {
                "_id": f"ingest|{hour.isoformat()}|news",
                "kind": "ingest",
                "hour": hour,
                "source": "news",
                "n": n,
            }
        )
    store.rollups.insert(docs)
    res = cli("detect", "--once")
    assert res.exit_code == 0, res.output
    assert "detect cycle" in res.output and "series scored" in res.output
    found = store.anomalies.find()
    assert [d["series"] for d in found] == ["all|count"]
    assert found[0]["start"] <= t0 + timedelta(days=5, hours=3) < found[0]["end"]
    assert cli("detect").exit_code == 2  # neither --loop nor --once


def test_detector_is_a_supervised_process() -> None:
    specs = {s.name: s for s in process_specs(Settings(vigil_load_sample=False))}
    assert specs["detector"].argv[1:] == ["-m", "pipelines", "detect", "--loop"]
    assert specs["detector"].oneshot is False


def test_eval_nab_lofo_reports_held_out_scores_per_file(cli, tmp_path: Path) -> None:
    data, _, _ = nab_folder(tmp_path)
    out = tmp_path / "out"
    res = cli("eval-nab", str(data), "--lofo", "--cache", str(tmp_path / "cache"), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "overall (held out)" in res.output and "in-sample" in res.output
    report = json.loads((out / "lofo.json").read_text())
    assert [f["file"] for f in report["profiles"]["standard"]["files"]] == [
        f"{data.name}/a.csv",
        f"{data.name}/b.csv",
    ]
    assert any(p.suffix == ".npz" for p in (tmp_path / "cache").iterdir())
    res = cli("eval-nab", str(data), "--lofo", "--transform", "cube")
    assert res.exit_code == 2 and "--transform" in res.output


def test_eval_nab_lofo_offers_the_context_options(cli, tmp_path: Path) -> None:
    data, _, _ = nab_folder(tmp_path)
    out = tmp_path / "out"
    args = ["eval-nab", str(data), "--lofo", "--method", "context", "--transform", "none"]
    res = cli(
        *args,
        "--soft",
        "0,1",
        "--edges",
        "width,quantile",
        "--grid",
        "likelihood_avg_hours=0,1",
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    report = json.loads((out / "lofo.json").read_text())
    base = len(lofo.grid(lofo.DEFAULT_BASE, lofo.DEFAULT_GRID | lofo.CONTEXT_GRID))
    assert report["variants"] == base * 8
    label = report["profiles"]["standard"]["files"][0]["variant"]
    for key in ("context_soft=", "context_edges=", "likelihood_avg_hours="):
        assert key in label
    bad_values = [["--edges", "median"], ["--soft", "x"], ["--likelihood", "-1"], ["--trim", "0.7"]]
    bad_values += [["--grid", "nope=1"], ["--grid", "context_orders=x"], ["--refresh", "1.5"]]
    for bad in bad_values:
        res = cli(*args, *bad)
        assert res.exit_code == 2 and bad[0] in res.output, res.output


def crisis_folder(root: Path, quiet_days: int = 2) -> tuple[Path, datetime]:
    """One CrisisLex-style event: a few tweets a day, then a surge of hundreds an hour."""
    event = root / "2020_test_flood"
    event.mkdir(parents=True)
    rng = np.random.default_rng(5)
    t0 = datetime(2020, 5, 1, 6, tzinfo=UTC)
    stamps = [t0 + timedelta(minutes=float(m)) for m in np.sort(rng.uniform(0, quiet_days * 1440, 30))]
    surge = t0 + timedelta(days=quiet_days, hours=3)
    stamps += [surge + timedelta(minutes=float(m)) for m in np.sort(rng.exponential(90, 1500))]
    lines = ["Timestamp, Tweet-ID, Included(Y/N)"] + [
        f"{s:%a %b %d %H:%M:%S +0000 %Y},{k},Y" for k, s in enumerate(sorted(stamps))
    ]
    (event / "tweetids_entire_period.csv").write_text("\n".join(lines) + "\n")
    (event / "event_description.json").write_text(json.dumps({"time": {"start_day": "2020-05-01"}}))
    return root, surge


def test_eval_onsets_detects_the_surge_within_minutes_and_nothing_before(cli, tmp_path: Path) -> None:
    root, surge = crisis_folder(tmp_path)
    res = cli("eval-onsets", str(root), "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)
    assert row["step_s"] == 300
    assert abs(datetime.fromisoformat(row["surge_start"]) - surge) < timedelta(minutes=5)
    assert 0 <= row["delay_from_surge_h"] <= 0.5
    assert row["false_alarms_before"] == 0
