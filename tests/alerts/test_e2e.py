"""The path a user takes without the UI: the shipped ``alerts.example.yaml`` applied by the
CLI, ``python -m pipelines alerts --once`` over a store holding the bundled sample's typhoon
posts (scored), and a signed alert arriving at a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.alerts.receiver import ReplayGuard, verify
from pipelines.core.post import build_post, tweet_id_to_datetime
from pipelines.store import Store
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample" / "2013_Typhoon_Yolanda" / "tweets_labeled.csv.gz"


def sample_posts() -> list[dict]:
    """The bundled Typhoon Yolanda tweets as posts the scorer has finished with."""
    docs = []
    with gzip.open(SAMPLE, "rt", encoding="utf-8", errors="replace") as fh:
        rows = csv.reader(fh)
        next(rows)
        for row in rows:
            tid = row[0].strip().strip("'")
            doc = build_post(
                source="crisislex",
                native_id=tid,
                ts=tweet_id_to_datetime(tid),
                text=row[1],
                url=f"https://twitter.com/i/web/status/{tid}",
            ).to_doc()
            doc["status"] = "scored"
            doc["scores"] = {"sentiment": -0.2, "threat": 0.05, "hate": 0.0, "toxicity": 0.1, "places": []}
            docs.append(doc)
    return docs


def cli(store: Store, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        **env,
        "MONGODB_URI": store.uri,
        "MONGODB_DB": store.db.name,
        "VIGIL_ALERTS_FILE": "/nonexistent/alerts.yaml",
        "VIGIL_PUBLIC_URL": "http://vigil.test:8501",
    }
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_example_config_raises_a_signed_alert_on_the_sample(store: Store, http_receiver, tmp_path: Path):
    config = yaml.safe_load((REPO / "alerts.example.yaml").read_text())
    config["channels"][0]["url"] = http_receiver.url("/vigil")  # the receiver's free port
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(config))
    secret = "demo-secret"
    env = {"VIGIL_DEMO_WEBHOOK_SECRET": secret, "VIGIL_DATA_DIR": str(tmp_path)}
    store.posts.upsert(sample_posts())
    built = cli(store, "index", "--rebuild", env=env)  # what the indexer keeps up to date
    assert built.returncode == 0, built.stderr

    applied = cli(store, "alerts", "apply", str(path), env=env)
    assert applied.returncode == 0, applied.stderr
    assert "applied" in applied.stdout and '"rules": 3' in applied.stdout

    run = cli(store, "alerts", "--once", env=env)
    assert run.returncode == 0, run.stderr
    assert "alerts cycle" in run.stdout

    reqs = http_receiver.received("/vigil")
    assert len(reqs) == 1, [r.body[:200] for r in reqs]
    payload = verify(secret, reqs[0].body, reqs[0].headers, guard=ReplayGuard())
    alert = payload["alert"]
    assert alert["kind"] == "volume" and alert["rule"] == "Typhoon weekly volume"
    assert alert["watchlist"] == "Typhoon Yolanda" and alert["observed"] >= 5
    assert alert["link"].startswith("http://vigil.test:8501/explore?watchlist=typhoon-yolanda")
    assert all("twitter.com" in p["url"] for p in alert["posts"])

    # The watchlist's series (from the index) counts exactly what its filter selects.
    from pipelines.search import signals
    from pipelines.search.index import SearchIndex, index_path
    from pipelines.search.watchlists import Watchlist

    wl = Watchlist.from_doc(store.alerts.get_config("watchlists", "typhoon-yolanda"))
    index = SearchIndex.open(index_path(tmp_path))
    hours = signals.watch_rollups(index.searcher(), index.schema, wl)
    assert sum(h["n"] for h in hours) == store.db.posts.count_documents(wl.to_mongo()) > 100
    assert sum(h["sum"]["sentiment"] for h in hours) == pytest.approx(-0.2 * sum(h["n"] for h in hours))

    # Running again sends nothing new; the history command shows the delivery.
    again = cli(store, "alerts", "--once", env=env)
    assert again.returncode == 0 and len(http_receiver.received("/vigil")) == 1
    hist = cli(store, "alerts", "history", env=env)
    assert "sent" in hist.stdout and "local-webhook" in hist.stdout


def test_cli_refuses_bad_config_with_one_line(store: Store, tmp_path: Path):
    path = tmp_path / "alerts.yaml"
    path.write_text("rules:\n  - name: r\n    kind: volume\n")
    out = cli(store, "alerts", "apply", str(path), env={})
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {path}: rules[0] (r): rule: a volume rule needs a watchlist"
    out = cli(store, "watchlists", "add", "Bad", "--query", "flood OR", env={})
    assert out.returncode == 2 and "query:" in out.stderr
    out = cli(
        store, "watchlists", "add", "Calgary flood", "--query", "flood", "--near", "51.05,-114.07,30", env={}
    )
    assert out.returncode == 0 and "watchlist calgary-flood saved" in out.stdout
    assert store.alerts.get_config("watchlists", "calgary-flood")["geo"] == {
        "lat": 51.05,
        "lon": -114.07,
        "km": 30.0,
    }


def test_once_refuses_to_run_beside_a_running_loop(store: Store):
    assert store.meta.take_lease("alerts", "alerts-other", 120)
    out = cli(store, "alerts", "--once", env={})
    assert out.returncode == 2 and "another alerts loop is running" in out.stderr
    store.meta.release_lease("alerts", "alerts-other")
    out = cli(store, "alerts", "--once", env={})
    assert out.returncode == 0, out.stderr
    assert store.meta.take_lease("alerts", "alerts-third", 120)  # the CLI gave its lease back on exit
