"""``pipelines search --count`` against an independent recount, on a real store of 40,000+ posts.

    python -m bench.search_count [--posts 40000] [--data-dir DIR] [--reuse]

Why: issue 13 is done when the CLI's count is exact on 40,000+ posts with over 10,000
matches. This fills an embedded SecantusDB (``DIR/db``) with ``--posts`` resampled real
posts (:func:`bench.fill.fill`: CrisisLex T26 tweets from ``../shared/data``, else the
bundled sample; times over the last 30 days), builds the index with the real indexer
(``python -m pipelines index --rebuild`` as a subprocess), then for each query of
:data:`QUERIES` runs ``python -m pipelines search QUERY --count --limit 0 [filters]`` as a
subprocess and compares its last line with a recount in Python: every post read back from
MongoDB, tested with :func:`pipelines.search.matches` (the keyword language's Python
evaluator) and the filters' own comparisons. Prints each query, both numbers, and ``equal``
or ``DIFFERENT``; exits 1 when any differs. No figure is asserted beyond that equality.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.search import matches, parse
from pipelines.store import EmbeddedServer, Store

REPO = Path(__file__).resolve().parent.parent

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("-flood", {}),
    ("-(flood OR earthquake) -typhoon", {}),
    ("earthquake OR train OR philippines OR bangladesh OR typhoon OR people OR fire OR help OR floods", {}),
    ("-flood", {"since_days": 15}),
    ("-flood", {"sources": ["cl-other", "cl-flood"]}),
    ('-"state of emergency"', {"langs": ["en"], "since_days": 20, "until_days": 2}),
    ('-rescue* -"state of emergency"', {"sources": ["cl-other", "cl-earthquake"]}),
    ("earthquake OR train OR philippines OR bangladesh OR typhoon OR people", {"since_days": 25}),
    ("", {}),
]
"""Queries, most with over 10,000 matches at 40,000 posts (the last: everything), some with filters.
``since_days``/``until_days`` count whole days back from the fill's newest possible time."""


def _day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def resolve(opts: dict[str, Any], end: datetime) -> dict[str, Any]:
    """Concrete filters: day offsets become UTC midnights before the fill's end."""
    out = {k: v for k, v in opts.items() if not k.endswith("_days")}
    if "since_days" in opts:
        out["since"] = _day(end - timedelta(days=opts["since_days"]))
    if "until_days" in opts:
        out["until"] = _day(end - timedelta(days=opts["until_days"]))
    return out


def cli_args(query: str, f: dict[str, Any]) -> list[str]:
    """``pipelines search`` arguments for one query and its filters."""
    args = ["search", "--count", "--limit", "0"]
    for key, flag in (("since", "--since"), ("until", "--until")):
        if key in f:
            args += [flag, f[key].isoformat()]
    for key, flag in (("sources", "--source"), ("langs", "--lang")):
        for v in f.get(key, []):
            args += [flag, v]
    return [*args, "--", query]  # "--": a query starting with "-" is not an option


def recount(posts: list[dict[str, Any]], query: str, f: dict[str, Any]) -> int:
    """The independent count: the Python evaluator and plain comparisons over the posts."""
    tree = parse(query)
    n = 0
    for p in posts:
        ts = p["ts"] if p["ts"].tzinfo else p["ts"].replace(tzinfo=UTC)
        if "since" in f and ts < f["since"]:
            continue
        if "until" in f and ts >= f["until"]:
            continue
        if f.get("sources") and p.get("source") not in f["sources"]:
            continue
        if f.get("langs") and p.get("lang") not in f["langs"]:
            continue
        n += tree is None or matches(tree, p.get("terms") or [], p.get("text") or "")
    return n


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args], env=env, cwd=REPO, capture_output=True, text=True
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--posts", type=int, default=40_000)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "vigil-bench-search-count")
    ap.add_argument("--reuse", action="store_true", help="keep a complete fill of --data-dir")
    ap.add_argument("--port", type=int, default=27419)
    args = ap.parse_args(argv)

    from bench.fill import fill, fill_state

    server = EmbeddedServer(args.data_dir / "db", args.port)
    uri = server.ensure_running(timeout_s=300)
    store = Store(uri, "vigil")
    try:
        state = fill_state(store)
        if not (args.reuse and state and state.get("complete") and state.get("n") == args.posts):
            store.client.drop_database("vigil")
            store.schema.ensure()
            print(f"filling {args.posts:,} posts ...", flush=True)
            print("fill:", fill(store, args.posts, log=lambda m: print(m, flush=True)), flush=True)
            state = fill_state(store)
        assert state is not None
        end = state["end"] if state["end"].tzinfo else state["end"].replace(tzinfo=UTC)
        env = {**os.environ, "MONGODB_URI": uri, "MONGODB_DB": "vigil", "VIGIL_DATA_DIR": str(args.data_dir)}
        t0 = time.perf_counter()
        built = run_cli(env, "index", "--rebuild")
        if built.returncode:
            raise SystemExit(f"index --rebuild failed: {built.stderr.strip()[-500:]}")
        print(f"index --rebuild: {time.perf_counter() - t0:.1f} s", flush=True)
        fields = {"ts": 1, "terms": 1, "text": 1, "source": 1, "lang": 1}
        posts = list(store.posts.iterate({}, batch_size=5000, projection=fields))
        print(f"posts read back from MongoDB: {len(posts):,}")
        print(f"{'cli --count':>12} {'recount':>10}  result     query and filters")
        differ = 0
        for query, opts in QUERIES:
            f = resolve(opts, end)
            res = run_cli(env, *cli_args(query, f))
            last = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else f"exit {res.returncode}"
            want = recount(posts, query, f)
            same = last == str(want)
            differ += not same
            shown = " ".join(repr(a) if " " in a or not a else a for a in cli_args(query, f)[1:])
            print(f"{last:>12} {want:>10,}  {'equal' if same else 'DIFFERENT':9}  {shown}", flush=True)
        print(f"queries: {len(QUERIES)}, different: {differ}")
        return 1 if differ else 0
    finally:
        store.client.close()
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
