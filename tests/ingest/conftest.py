"""Helpers for import tests: run the importer against the test store, in process or as a CLI."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest.archive import ImportOptions, ImportStats, run_import
from pipelines.store import Store

REPO = Path(__file__).resolve().parents[2]


def write_jsonl(path: Path, records: list[Any], opener: Any = open) -> Path:
    """One JSON value per line (``opener=gzip.open`` for a compressed file)."""
    with opener(path, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


def do_import(store: Store, path: Path, **opts: Any) -> ImportStats:
    """``run_import`` with keyword options (``fmt``, ``batch_size``, ``restart``, ``read``)."""
    should_stop = opts.pop("should_stop", lambda: False)
    return run_import(store, path, ImportOptions(**opts), should_stop=should_stop)


def post_count(store: Store) -> int:
    return store.db.posts.count_documents({})


def quarantined(store: Store) -> list[dict[str, Any]]:
    return list(store.db.quarantine.find({"kind": "import"}).sort("origin", 1))


def store_env(store: Store) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MONGODB_URI=store.uri, MONGODB_DB=store.db.name, PYTHONDONTWRITEBYTECODE="1")
    return env


@pytest.fixture()
def cli(pipelines_cli) -> Any:
    """Invoke ``python -m pipelines import ...`` in process against the test database."""
    return lambda *args: pipelines_cli("import", *args, catch_exceptions=False)
