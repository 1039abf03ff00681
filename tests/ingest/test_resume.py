"""Stopping between batches and resuming: in process (a stop flag) and with a real SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.ingest.archive import checkpoint_key
from pipelines.store import Store
from tests.ingest.conftest import REPO, do_import, gz, post_count, store_env, write_jsonl


def _records(n: int) -> list[dict]:
    return [
        {"id": str(i), "created_at": f"2013-06-{20 + i % 5}T{i % 24:02d}:00:00Z", "text": f"post {i}"}
        for i in range(n)
    ]


def _stop_after(batches: int):
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= batches

    return should_stop


@pytest.mark.parametrize("compressed", [False, True])
def test_stop_after_k_batches_then_resume(store: Store, tmp_path: Path, compressed: bool):
    name = "posts.jsonl.gz" if compressed else "posts.jsonl"
    lines = "".join(json.dumps(r) + "\n" for r in _records(600)).encode()
    f = gz(tmp_path / name, lines) if compressed else tmp_path / name
    if not compressed:
        f.write_bytes(lines)

    first = do_import(store, f, batch_size=50, should_stop=_stop_after(4))
    assert first.interrupted and first.exit_code == 130
    assert (first.read, first.inserted) == (200, 200)
    assert post_count(store) == 200  # whole batches only
    ck = store.meta.get(checkpoint_key(f))
    assert (ck["status"], ck["line"]) == ("interrupted", 200)
    assert ck["offset"] == len(b"".join(lines.splitlines(keepends=True)[:200]))

    second = do_import(store, f, batch_size=50)
    assert not second.interrupted
    assert (second.read, second.inserted, second.present) == (400, 400, 0)  # resumed, not restarted
    assert post_count(store) == 600
    assert sum(r["n"] for r in store.rollups.ingest()) == 600
    assert store.meta.get(checkpoint_key(f))["status"] == "done"

    third = do_import(store, f, batch_size=50)  # a finished file is read again, inserting nothing
    assert (third.read, third.inserted, third.present) == (600, 0, 600)


def test_resume_csv_keeps_the_header_and_a_changed_file_starts_over(store: Store, tmp_path: Path):
    f = tmp_path / "rows.csv"
    f.write_text("id,created_at,text\n" + "".join(f"{i},2013-06-20T10:00:00Z,row {i}\n" for i in range(300)))
    first = do_import(store, f, batch_size=50, should_stop=_stop_after(2))
    assert (first.inserted, store.meta.get(checkpoint_key(f))["line"]) == (100, 101)
    second = do_import(store, f, batch_size=50)
    assert (second.read, second.inserted, second.quarantined) == (200, 200, 0)
    assert store.posts.get("rows:299")["text"] == "row 299"

    do_import(store, f, batch_size=50, should_stop=_stop_after(1))
    f.write_text("id,created_at,text\n" + "".join(f"{i},2013-06-20T10:00:00Z,row {i}\n" for i in range(310)))
    third = do_import(store, f, batch_size=50)
    assert (third.read, third.inserted, third.present) == (
        310,
        10,
        300,
    )  # fingerprint changed: from the start


def test_twitter_page_split_across_batches_resumes_at_the_page(store: Store, tmp_path: Path):
    pages = [
        {
            "data": [
                {
                    "id": str(10**18 + p * 10 + i),
                    "text": f"tweet {p}.{i}",
                    "created_at": "2020-01-01T00:00:00Z",
                }
                for i in range(3)
            ],
            "includes": {"users": []},
        }
        for p in range(4)
    ]
    f = write_jsonl(tmp_path / "pages.jsonl", pages)
    first = do_import(store, f, batch_size=4, should_stop=_stop_after(1))  # stops inside page 2
    assert first.inserted == 4
    assert store.meta.get(checkpoint_key(f))["line"] == 1  # after page 1, not mid-page
    second = do_import(store, f, batch_size=4)
    assert (second.read, second.inserted, second.present) == (9, 8, 1)
    assert post_count(store) == 12


def test_ctrl_c_stops_between_batches_and_a_rerun_resumes(store: Store, tmp_path: Path):
    n = 1500
    f = write_jsonl(tmp_path / "big.jsonl", _records(n))
    cmd = [sys.executable, "-m", "pipelines", "import", str(f), "--batch-size", "50"]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=store_env(store), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    key = checkpoint_key(f)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ck = store.meta.get(key)
        if ck and ck.get("line", 0) >= 100:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the import never saved a checkpoint")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: run the same command again to resume" in out
    assert "stopping after the current batch" in err
    ck = store.meta.get(key)
    stored = post_count(store)
    assert ck["status"] == "interrupted" and stored == ck["line"] < n  # nothing half-written

    rest = do_import(store, f, batch_size=500)
    assert (rest.read, rest.inserted, rest.present) == (n - stored, n - stored, 0)
    assert post_count(store) == n
