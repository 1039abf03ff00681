"""The crawl scheduler with real ``scrapy crawl`` subprocesses: records, locks, timeouts, backoff."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.core.config import Settings
from pipelines.ingest.crawl_scheduler import CrawlScheduler, seed_sources
from pipelines.store import Store
from tests.conftest import free_port
from tests.crawler.conftest import FAST, REPO, add_sources, store_env
from tests.crawler.fixture_server import FixtureServer, fixture_route

FEED = "rss/nrcan_earthquakes_en_2018-10-01.georss.rss.xml"


def _scheduler(store: Store, tmp_path: Path, **kw: object) -> CrawlScheduler:
    settings = Settings(vigil_data_dir=tmp_path, vigil_crawl_max_backoff_s=3600)
    return CrawlScheduler(store, settings, scrapy_settings=dict(FAST), log_dir=tmp_path / "logs", **kw)  # type: ignore[arg-type]


def test_crawl_once_cli_fills_the_store_and_records_the_run(
    store: Store, server: FixtureServer, tmp_path: Path
) -> None:
    server.routes["/feed.xml"] = fixture_route(FEED)
    env = {**store_env(store), "VIGIL_DATA_DIR": str(tmp_path)}
    add = subprocess.run(
        [sys.executable, "-m", "pipelines", "sources", "add", "quakes", "--kind", "rss", "--url", server.url("/feed.xml")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "crawl", "--once", "--source", "quakes"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "quakes: ok, 6 new of 6 items, 0 dropped" in out.stdout
    assert len(store.posts.find({"source": "quakes"}, limit=100)) == 6
    (run,) = store.crawl_runs.recent("quakes")
    assert (run["status"], run["inserted"], run["items"], run["exit_code"]) == ("ok", 6, 6, 0)
    assert run["ended"] >= run["started"]
    src = store.sources.get("quakes")
    assert src["lock"] is None
    assert src["state"]["last_status"] == "ok" and src["state"]["consecutive_failures"] == 0
    assert (src["state"]["next_due"] - src["state"]["last_run"]).total_seconds() == pytest.approx(900, abs=1)
    assert src["state"]["validators"][0]["etag"]


def test_unknown_source_is_a_clear_cli_error(store: Store, tmp_path: Path) -> None:
    env = {**store_env(store), "VIGIL_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "crawl", "--once", "--source", "nope"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "unknown source 'nope'" in out.stderr


def test_a_held_lock_means_no_second_run(store: Store, tmp_path: Path) -> None:
    add_sources(store, {"name": "quakes", "kind": "rss", "url": "http://127.0.0.1:9/x.xml"})
    assert store.sources.claim("quakes", "someone-else", 600) is not None
    results = _scheduler(store, tmp_path).run_once(["quakes"])
    assert results == [{"source": "quakes", "status": "skipped", "error": "lock held or refused"}]
    assert store.crawl_runs.recent("quakes") == []
    assert store.sources.get("quakes")["lock"]["owner"] == "someone-else"


def test_unreachable_source_records_a_clear_error_and_backs_off(store: Store, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    add_sources(
        store, {"name": "dead", "kind": "rss", "url": f"http://127.0.0.1:{port}/feed.xml", "interval_s": 60}
    )
    sched = _scheduler(store, tmp_path)
    (first,) = sched.run_once(["dead"])
    assert first["status"] == "error"
    assert first["error"] == f"connection refused by 127.0.0.1:{port}: http://127.0.0.1:{port}/feed.xml"
    state = store.sources.get("dead")["state"]
    assert state["consecutive_failures"] == 1
    assert (state["next_due"] - state["last_run"]).total_seconds() == pytest.approx(60, abs=1)
    sched.run_once(["dead"])
    state = store.sources.get("dead")["state"]
    assert state["consecutive_failures"] == 2
    assert (state["next_due"] - state["last_run"]).total_seconds() == pytest.approx(120, abs=1)
    assert [r["status"] for r in store.crawl_runs.recent("dead")] == ["error", "error"]
    assert store.sources.get("dead")["lock"] is None


def test_a_hanging_crawl_is_killed_at_its_timeout(
    store: Store, server: FixtureServer, tmp_path: Path
) -> None:
    server.routes["/slow.xml"] = fixture_route(FEED, delay_s=60)
    add_sources(store, {"name": "slow", "kind": "rss", "url": server.url("/slow.xml"), "timeout_s": 5})
    t0 = time.monotonic()
    (res,) = _scheduler(store, tmp_path).run_once(["slow"])
    took = time.monotonic() - t0
    assert res["status"] == "timeout"
    assert "killed after 5 s" in res["error"]
    assert 5 <= took < 30
    assert store.sources.get("slow")["lock"] is None
    assert store.sources.get("slow")["state"]["consecutive_failures"] == 1


def test_a_crawl_that_dies_without_a_summary_is_recorded_as_crashed(store: Store, tmp_path: Path) -> None:
    add_sources(store, {"name": "x", "kind": "rss", "url": "http://127.0.0.1:9/x.xml"})
    sched = _scheduler(store, tmp_path)
    sched.scrapy_settings["VIGIL_STORE_BATCH"] = "lots"  # the item pipeline cannot even start
    (res,) = sched.run_once(["x"])
    assert res["status"] == "crashed"
    assert res["exit_code"] != 0
    assert "without a summary" in res["error"] and "ValueError" in res["error"]


def test_the_loop_runs_due_sources_and_stops_cleanly(
    store: Store, server: FixtureServer, tmp_path: Path
) -> None:
    server.routes["/feed.xml"] = fixture_route(FEED)
    add_sources(
        store,
        {"name": "a", "kind": "rss", "url": server.url("/feed.xml")},
        {"name": "b", "kind": "rss", "url": server.url("/feed.xml"), "enabled": False},
    )
    sched = _scheduler(store, tmp_path)
    stop = threading.Event()
    t = threading.Thread(target=sched.loop, args=(stop,), kwargs={"tick_s": 0.2})
    t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        r.get("status") == "ok" for r in store.crawl_runs.recent("a")
    ):
        time.sleep(0.3)
    stop.set()
    t.join(30)
    assert not t.is_alive()
    runs = store.crawl_runs.recent("a")
    assert [r["status"] for r in runs] == ["ok"]  # not due again within its 15 minutes
    assert store.crawl_runs.recent("b") == []  # disabled
    assert store.sources.get("a")["state"]["next_due"] > datetime.now(UTC)


def test_seeding_adds_new_sources_only(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("sources:\n  - {name: hn, kind: hackernews, interval_s: 60}\n  - {name: bad, kind: rss}\n")
    written, errors = seed_sources(store, f)
    assert written == ["hn"] and len(errors) == 1 and "needs url" in errors[0]
    store.sources.set_enabled("hn", False)
    assert seed_sources(store, f)[0] == []  # an operator's change is not overwritten
    assert store.sources.get("hn")["enabled"] is False
    assert seed_sources(store, f, replace=True)[0] == ["hn"]


def test_supervisor_runs_the_crawler_loop() -> None:
    from pipelines.supervisor import process_specs

    specs = {s.name: s for s in process_specs(Settings(vigil_load_sample=False))}
    assert specs["crawler"].argv[1:] == ["-m", "pipelines", "crawl", "--loop"]
    assert specs["crawler"].oneshot is False


def test_sources_cli_round_trip(store: Store, tmp_path: Path, pipelines_cli) -> None:
    def cli(*args: str) -> Any:
        return pipelines_cli("sources", *args)

    bad = cli("add", "wn", "--kind", "reddit", "-p", "listing=search")
    assert bad.exit_code == 2 and "error: source 'wn': params: listing 'search' needs q" in bad.output
    ok = cli("add", "wn", "--kind", "reddit", "-p", "subreddit=worldnews", "--interval", "600")
    assert ok.exit_code == 0, ok.output
    assert cli("add", "wn", "--kind", "hackernews").exit_code == 2  # exists
    assert cli("disable", "wn").exit_code == 0
    listing = cli("list").output
    assert "wn" in listing and " no " in listing and "600s" in listing
    assert store.sources.get("wn")["params"] == {"subreddit": "worldnews"}
    assert store.sources.get("wn")["enabled"] is False
    assert cli("remove", "wn").exit_code == 0
    assert store.sources.get("wn") is None
    assert cli("enable", "wn").exit_code == 2
