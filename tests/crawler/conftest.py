"""Helpers for crawler tests: a fixture HTTP server and real ``scrapy crawl`` subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest.sources import validate_source
from pipelines.store import Store
from tests.crawler.fixture_server import FixtureServer

REPO = Path(__file__).resolve().parents[2]

FAST = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "VIGIL_BACKOFF_BASE": "0.1",
    "LOG_LEVEL": "WARNING",
}
"""Politeness stays on (robots.txt, retries, Retry-After); only the fixed delays go."""


def store_env(store: Store) -> dict[str, str]:
    env = dict(os.environ)
    env["MONGODB_URI"] = store.uri
    env["MONGODB_DB"] = store.db.name
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def add_sources(store: Store, *defs: dict[str, Any]) -> None:
    for d in defs:
        store.sources.upsert(validate_source(d).to_doc())


def run_crawl(
    store: Store,
    kind: str,
    names: list[str],
    tmp_path: Path,
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``scrapy crawl KIND -a source=...`` for real; returns the per-source summaries."""
    summary = tmp_path / f"summary-{kind}-{len(list(tmp_path.iterdir()))}.json"
    cmd = [sys.executable, "-m", "scrapy", "crawl", kind, "-a", "source=" + ",".join(names)]
    for k, v in {**FAST, **(settings or {}), "VIGIL_SUMMARY_FILE": str(summary)}.items():
        cmd += ["-s", f"{k}={v}"]
    proc = subprocess.run(
        cmd, cwd=REPO, env={**store_env(store), **(env or {})}, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary.exists(), proc.stderr[-3000:]
    out = json.loads(summary.read_text())["sources"]
    out["_log"] = proc.stderr
    return out


@pytest.fixture()
def server() -> Iterator[FixtureServer]:
    srv = FixtureServer().start()
    yield srv
    srv.stop()
