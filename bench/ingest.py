"""Import benchmark: N resampled real posts through ``python -m pipelines import``'s code path.

Usage (repository root)::

    python bench/ingest.py [-n 100000] [--batch-size 1000] [--breakdown]

The N posts are the bundled sample's real tweets (``data/sample``, CrisisLexT26)
drawn at random with replacement, each given a new Snowflake id whose time is spread
in order over 60 days (so each copy is a new post at a new time), written as a
CrisisLex event folder (``tweets_labeled.csv.gz``), then imported by
:func:`pipelines.ingest.archive.run_import` into a fresh embedded SecantusDB (its own server
on a free port, a temporary folder, ``--sync-on-commit``, Vigil's indexes), exactly
as ``make run`` stores them. It prints posts/s of the import and of a re-import
(everything already present), the peak RSS and CPU seconds of the importer and of
the server process. ``--breakdown`` adds what bounds it: the reader and post model
alone (no database) and the server's ``insert_many`` of the same documents with and
without Vigil's secondary indexes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import random
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.core.post import build_post  # noqa: E402
from pipelines.ingest import importers  # noqa: E402
from pipelines.ingest.archive import ImportOptions, run_import  # noqa: E402
from pipelines.ingest.importers.base import ReadOptions  # noqa: E402
from pipelines.store import EmbeddedServer, Store  # noqa: E402
from pipelines.store.client import INDEXES  # noqa: E402

SAMPLE = REPO / "data" / "sample"
HEADER = "Tweet ID, Tweet Text, Information Source, Information Type, Informativeness\n"
EPOCH_MS = 1288834974657


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_rows() -> list[list[str]]:
    """The real labelled tweets of the bundled sample (text and labels)."""
    rows: list[list[str]] = []
    for f in sorted(SAMPLE.glob("*/tweets_labeled.csv.gz")):
        text = gzip.decompress(f.read_bytes()).decode("utf-8")
        reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
        next(reader)
        rows.extend(r for r in reader if len(r) == 5)
    if not rows:
        raise SystemExit(f"no sample under {SAMPLE}; run data/sample/build_sample.py")
    return rows


def make_input(folder: Path, n: int, seed: int = 7) -> Path:
    """A CrisisLex event folder of ``n`` resampled posts with new ids and times, in time order."""
    rng = random.Random(seed)
    rows = base_rows()
    start_ms = 1_600_000_000_000
    span_ms = 60 * 24 * 3600 * 1000
    times = sorted(start_ms + rng.randrange(span_ms) for _ in range(n))
    event = folder / "bench_event"
    event.mkdir(parents=True)
    with gzip.open(
        event / "tweets_labeled.csv.gz", "wt", encoding="utf-8", newline="", compresslevel=6
    ) as fh:
        fh.write(HEADER)
        w = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)  # as CrisisLex writes it
        for i, ms in enumerate(times):
            tid = ((ms - EPOCH_MS) << 22) | (i & 0x3FFFFF)
            w.writerow([str(tid), *rng.choice(rows)[1:]])
    return event


def _proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = 0.0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cpu, peak


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _insert_cost(docs: list[dict], server: EmbeddedServer, db: str, specs: list) -> tuple[float, float]:
    """(posts/s, server ms CPU per post) of ``insert_many`` into a fresh collection with ``specs``."""
    pid = server.process.pid if server.process else None
    store = Store(server.uri, db)
    for keys, opts in specs:
        store.db.posts.create_index(keys, **opts)
    cpu0 = _proc_stats(pid)[0] if pid else 0.0
    t = time.perf_counter()
    for i in range(0, len(docs), 1000):
        store.db.posts.insert_many([dict(d) for d in docs[i : i + 1000]], ordered=False)
    wall = time.perf_counter() - t
    cpu = (_proc_stats(pid)[0] - cpu0) if pid else 0.0
    store.client.close()
    return len(docs) / wall, 1000 * cpu / len(docs)


# The indexes issue 2 itself requires on posts; the others serve scoring and alerts.
REQUIRED = ("ts_-1", "source_1_ts_-1", "status_1_lease_until_1", "content_hash_1", "terms_1", "geo_2dsphere")


def per_index_costs(docs: list[dict], server: EmbeddedServer) -> None:
    """Server CPU each secondary index of ``posts`` costs per inserted post, given the others.

    Why leave-one-out: on SecantusDB the costs do not add up index by index (the server
    re-reads the whole index catalogue several times per document, so each index makes the
    others dearer); what dropping one index would save is all indexes minus all-but-that-one.
    """
    specs = {"_".join(f"{k}_{v}" for k, v in keys): (keys, opts) for keys, opts in INDEXES["posts"]}
    sample = docs
    _insert_cost(sample, server, "bench_idx_warm", [])  # first collection of a run pays set-up costs
    _rate, base = _insert_cost(sample, server, "bench_idx_none", [])
    _rate, full = _insert_cost(sample, server, "bench_idx_all", list(specs.values()))
    print(
        f"  {len(sample):,} posts: server CPU {base:.2f} ms/post with _id only, {full:.2f} with all "
        f"{len(specs)} secondary indexes; leaving one out saves:"
    )
    for i, name in enumerate(specs):
        _rate, ms = _insert_cost(sample, server, f"bench_idx_{i}", [v for k, v in specs.items() if k != name])
        tag = "required by issue 2" if name in REQUIRED else "scoring/alerts"
        print(f"    {name:<24} {full - ms:+.2f} ms  ({tag})")
    rate, ms = _insert_cost(sample, server, "bench_idx_req", [specs[n] for n in REQUIRED])
    print(
        f"  the six required indexes only: {rate:,.0f} posts/s, server CPU {ms:.2f} ms/post "
        f"(ceiling for one server process: {1000 / ms:,.0f} posts/s)"
    )


def breakdown(event: Path, server: EmbeddedServer, limit: int) -> None:
    """What bounds the import: client-side reading, and the server with and without indexes."""
    inp = importers.InputFile(event / "tweets_labeled.csv.gz", "crisislex")
    docs = []
    t = time.perf_counter()
    with importers.open_items(inp, ReadOptions()) as items:
        for item in items:
            docs.append(build_post(**item.fields).to_doc())
            if len(docs) >= limit:
                break
    client = len(docs) / (time.perf_counter() - t)
    print(f"  reader + post model only (no database): {client:,.0f} posts/s")
    all_specs = list(INDEXES["posts"])
    for label, specs in (("only _id", []), ("Vigil's indexes", all_specs)):
        rate, ms = _insert_cost(docs, server, f"bench_raw_{len(specs)}", specs)
        print(
            f"  server insert_many, {label} ({len(specs) + 1} indexes on posts): {rate:,.0f} posts/s, "
            f"server CPU {ms:.2f} ms/post"
        )
    per_index_costs(docs, server)
    small = docs[: min(len(docs), 2000)]
    for label, method in (
        ("store.posts.upsert (one commit per statement)", "upsert"),
        ("store.posts.insert (one commit per batch)", "insert"),
    ):
        store = Store(server.uri, f"bench_{method}")
        store.schema.ensure()
        t = time.perf_counter()
        for i in range(0, len(small), 1000):
            getattr(store.posts, method)([dict(d) for d in small[i : i + 1000]])
        print(f"  {label}, {len(small):,} posts: {len(small) / (time.perf_counter() - t):,.0f} posts/s")
        store.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="posts to import (default 100,000)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--breakdown", action="store_true", help="also measure what bounds the import")
    parser.add_argument("--breakdown-n", type=int, default=5_000, help="posts used by --breakdown")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        folder = Path(tmp)
        event = make_input(folder / "input", args.n)
        size = (event / "tweets_labeled.csv.gz").stat().st_size
        print(
            f"input: {args.n:,} posts resampled from {SAMPLE.relative_to(REPO)}, CrisisLex csv.gz, {size / 1e6:.1f} MB"
        )
        server = EmbeddedServer(folder / "db", _free_port())
        server.ensure_running()
        try:
            assert server.process is not None
            pid = server.process.pid
            store = Store(server.uri, "vigil")
            store.schema.ensure()
            opts = ImportOptions(batch_size=args.batch_size)
            cpu0, scpu0 = _self_cpu(), _proc_stats(pid)[0]
            stats = run_import(store, event, opts)
            cpu1, (scpu1, speak) = _self_cpu(), _proc_stats(pid)
            assert stats.inserted == args.n, stats.summary()
            print(f"import:    {stats.summary()}")
            print(f"           -> {stats.inserted / stats.seconds:,.0f} posts/s (batch {args.batch_size})")
            again = run_import(store, event, ImportOptions(batch_size=args.batch_size, restart=True))
            print(f"re-import: {again.summary()}")
            peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS:  importer {peak_self:,.0f} MB, SecantusDB server {speak:,.0f} MB")
            n = stats.inserted
            print(
                f"CPU (first import): importer {cpu1 - cpu0:,.1f} s ({1000 * (cpu1 - cpu0) / n:.2f} ms/post), "
                f"server {scpu1 - scpu0:,.1f} s ({1000 * (scpu1 - scpu0) / n:.2f} ms/post), "
                f"wall {stats.seconds:,.1f} s, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
            )
            store.client.close()
            if args.breakdown:
                print("breakdown:")
                breakdown(event, server, args.breakdown_n)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
