"""Crawler benchmark: local feed servers -> ``scrapy crawl rss`` -> embedded store.

Starts an embedded SecantusDB (``--sync-on-commit``, on disk in a temp folder), one HTTP
server per loopback address (127.0.0.1, 127.0.0.2, ...: each is a separate host to Scrapy,
so per-host politeness applies as it would to real feeds), N RSS 2.0 pages spread over
them, one source per page, then runs ONE real ``scrapy crawl rss -a source=...`` process
over all sources with the crawler's own settings (robots.txt, AutoThrottle, download
delay, retries: all on). It prints posts stored per second of wall time (process start to
exit, Scrapy start-up included) and the crawl process's peak RSS; a second run shows the
cost of an all-304 incremental pass.

The pages are generated (titles and paragraphs drawn from a word list, unique guids,
RFC 822 dates, a GeoRSS point on every tenth item): this measures the crawler, not a feed.

Usage: python bench/crawl.py [--hosts 8] [--pages 25] [--items 50] [--fast]
(``--fast`` lifts the per-host delays, to see the pipeline's own ceiling.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.ingest.sources import validate_source  # noqa: E402
from pipelines.store import EmbeddedServer, Store  # noqa: E402

WORDS = [
    "flood",
    "storm",
    "earthquake",
    "council",
    "minister",
    "election",
    "protest",
    "market",
    "river",
    "bridge",
    "fire",
    "police",
    "hospital",
    "school",
    "vaccine",
    "drought",
    "harvest",
    "port",
    "strike",
    "airport",
    "rail",
    "court",
    "budget",
    "energy",
    "water",
    "village",
    "city",
    "coast",
    "mountain",
    "border",
    "refugees",
    "aid",
    "rescue",
    "warning",
    "outage",
    "heat",
    "wind",
    "rain",
    "snow",
    "report",
    "says",
    "officials",
    "residents",
    "local",
    "national",
    "government",
    "company",
    "workers",
    "union",
    "talks",
]


def feed_page(host: int, page: int, items: int, now: float) -> bytes:
    rng = random.Random(host * 100_000 + page)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:georss="http://www.georss.org/georss"><channel>',
        f"<title>Bench feed {host}-{page}</title><link>http://bench.invalid/{host}/{page}</link>",
        "<description>generated</description><language>en</language>",
    ]
    for i in range(items):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize()
        body = ". ".join(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize()
            for _ in range(rng.randint(3, 8))
        )
        geo = (
            f"<georss:point>{rng.uniform(-60, 60):.4f} {rng.uniform(-170, 170):.4f}</georss:point>"
            if i % 10 == 0
            else ""
        )
        out.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>http://bench.invalid/{host}/{page}/{i}</link>"
            f'<guid isPermaLink="false">bench-{host}-{page}-{i}</guid>'
            f"<pubDate>{formatdate(now - i * 60 - page, usegmt=True)}</pubDate>"
            f"<author>desk{rng.randint(1, 40)}@bench.invalid (Desk {rng.randint(1, 40)})</author>"
            f"<description>{escape('<p>' + body + '.</p>')}</description>{geo}</item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode()


def serve(addr: str, pages: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                body, status = b"User-agent: *\nAllow: /\n", 200
            else:
                body = pages.get(self.path, b"")
                status = 200 if body else 404
            etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer((addr, 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def crawl(store: Store, names: list[str], tmp: Path, fast: bool) -> tuple[float, dict, float]:
    summary = tmp / f"summary-{time.monotonic_ns()}.json"
    prof = os.environ.get("VIGIL_BENCH_PROFILE")
    runner = ["-m", "cProfile", "-o", prof, "-m"] if prof else ["-m"]
    cmd = [sys.executable, *runner, "scrapy", "crawl", "rss", "-a", "source=" + ",".join(names)]
    cmd += ["-s", f"VIGIL_SUMMARY_FILE={summary}", "-s", "LOG_LEVEL=WARNING"]
    if fast:
        cmd += [
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=False",
            "-s",
            "CONCURRENT_REQUESTS_PER_DOMAIN=16",
        ]
    env = {**os.environ, "MONGODB_URI": store.uri, "MONGODB_DB": store.db.name}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0 or not summary.exists():
        raise SystemExit(f"crawl failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads(summary.read_text())["sources"], cpu


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=8, help="loopback addresses (separate hosts)")
    ap.add_argument("--pages", type=int, default=25, help="feed pages per host")
    ap.add_argument("--items", type=int, default=50, help="items per page")
    ap.add_argument("--fast", action="store_true", help="no per-host delays (pipeline ceiling)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-crawl-"))
    db = EmbeddedServer(tmp / "db", _free_port())
    db.ensure_running()
    store = Store(db.uri, "bench_crawl")
    store.client.drop_database("bench_crawl")
    store.schema.ensure()
    now = time.time()
    servers, names = [], []
    for h in range(1, args.hosts + 1):
        addr = f"127.0.0.{h}"
        pages = {f"/feed/{p}.xml": feed_page(h, p, args.items, now) for p in range(args.pages)}
        srv = serve(addr, pages)
        servers.append(srv)
        port = srv.server_address[1]
        for p in range(args.pages):
            name = f"bench-{h}-{p}"
            store.sources.upsert(
                validate_source(
                    {"name": name, "kind": "rss", "url": f"http://{addr}:{port}/feed/{p}.xml"}
                ).to_doc()
            )
            names.append(name)
    total = args.hosts * args.pages * args.items
    print(
        f"{len(names)} feeds on {args.hosts} hosts, {total} items; settings: {'fast' if args.fast else 'polite defaults'}"
    )
    try:
        db_cpu0 = proc_cpu(db.process.pid) if db.process else 0.0
        wall, runs, cpu = crawl(store, names, tmp, args.fast)
        db_cpu = (proc_cpu(db.process.pid) if db.process else 0.0) - db_cpu0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        inserted = sum(r["inserted"] for r in runs.values())
        errors = sum(r["error_count"] for r in runs.values())
        stored = store.db.posts.count_documents({})
        print(f"first run : {inserted} posts stored ({stored} in the store, {errors} errors) in {wall:.1f} s")
        print(f"            {inserted / wall:.0f} posts/s end to end (Scrapy start-up included)")
        print(f"            crawl process CPU {cpu:.1f} s: {inserted / cpu:.0f} posts per CPU-second")
        print(
            f"            store server CPU {db_cpu:.1f} s; together {inserted / (cpu + db_cpu):.0f} posts per CPU-second"
        )
        print(f"            peak RSS of the crawl process: {peak_mb:.0f} MiB")
        print(
            f"            load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine)"
        )
        wall2, runs2, _ = crawl(store, names, tmp, args.fast)
        nm = sum(r["not_modified"] for r in runs2.values())
        ins2 = sum(r["inserted"] for r in runs2.values())
        print(f"second run: {ins2} posts inserted, {nm}/{len(names)} feeds answered 304, {wall2:.1f} s")
    finally:
        for srv in servers:
            srv.shutdown()
        store.close()
        db.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
