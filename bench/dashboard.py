"""Dashboard benchmark: render times per page through the running server.

    python -m bench.dashboard --posts 1000000 --loads 20 [--data-dir DIR] [--reuse]

1. Fills an embedded SecantusDB (``DIR/db``, kept for ``--reuse``) with ``--posts``
   resampled real posts and their rollups (:mod:`bench.fill`), and builds the search
   index (``DIR/search-index``, rebuilt unless ``--reuse`` finds one holding every post).
2. Starts the dashboard as ``pipelines up`` does (``streamlit run components/launch.py``:
   ``app.py`` with cacheable hashed component files) against it, creates a user, and opens
   one logged-in Chromium tab (Playwright, Debian chromium).
3. For each page, ``--loads`` times: navigates with the sidebar link (a Streamlit rerun,
   as a user clicking through) and measures until the page is drawn: its heading and
   marker element are there, the run is over (``stApp``'s ``data-test-script-state`` is
   ``notRunning``), no element of the previous run is left (``data-stale``), and what the
   browser draws after the run has been drawn: every chart of Overview and Explore, the
   Map's clusters or points inside the map's frame (:data:`DRAWN`). The first load of a page is
   reported separately (cold caches: a fresh server); later loads hit the 30 s query
   cache unless it expired meanwhile, as for a user clicking around. The time at which
   the marker alone appeared (the end point before issue 13's review) is printed too.
4. Prints p50 / p95 per page, and the query times underneath (no Streamlit) so the
   figures can be explained.

Why through the browser: a page "renders" when the user sees it; the websocket's
``script_finished`` message comes earlier than the browser's drawing of big tables and
charts. Why not the marker and the status widget ("Running...") alone: the widget shows
only once a run has lasted 0.5 s, so a shorter run never shows it, and a page's marker is
often drawn before the rest of its run (Overview's metrics come first): that end point
stopped the clock while the page was still being drawn.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from pipelines.store import EmbeddedServer, Store

REPO = Path(__file__).resolve().parent.parent
PAGES = {  # sidebar title -> (test id | text) drawn when the page is complete
    "Overview": ("id", "stMetric"),
    "Explore": ("text", "newest first."),  # the table's caption (breakdown tables hide in an expander)
    "Map": ("id", "stDownloadButton"),  # after the map and the table of its posts
    "Anomalies": ("id", "stMarkdownContainer"),
    "Sources": ("id", "stDataFrame"),
}
_CHARTS_DRAWN = (
    "(() => { const c = [...document.querySelectorAll('[data-testid=stVegaLiteChart]')];"
    " return c.every((e) => e.querySelector('canvas, svg')); })()"
)
DRAWN = {  # sidebar title -> JS true once what the browser draws after the run is there
    "Overview": _CHARTS_DRAWN,  # every chart (the run is over, so all are mounted): Vega draws after it
    "Explore": _CHARTS_DRAWN,
    "Map": "(() => { const f = document.querySelector('iframe[title=\"streamlit_folium.st_folium\"]');"
    " const d = f && f.contentDocument; return !!d && d.querySelectorAll("
    "'.leaflet-interactive, .leaflet-marker-icon').length > 0; })()",
}
RUN_OVER = """(title) => {
  const app = document.querySelector('[data-testid=stApp]');
  const heading = [...document.querySelectorAll('h1')].some((h) => h.textContent.trim().startsWith(title));
  return heading && app && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelectorAll('[data-stale=true]').length === 0;
}"""
PASSWORD = "bench password for the dashboard"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _archive_span(store: Any, clock: Any) -> Any:
    """Overview's span were this store an archive (its oldest hour read from a year of rollups).

    Why: a live store's span reads nothing; an archive's reads its oldest hour. Before
    issue 13's fix that was a sorted read of the whole ``posts.ts`` index (~110 s per end
    at 1M posts), which this list left out.
    """
    from datetime import timedelta

    from pipelines.read import spans
    from pipelines.read.queries import DataClock

    archive = DataClock(
        end=clock.end, archive=True, newest_hour=clock.newest_hour or clock.end - timedelta(hours=1)
    )
    return spans.overview_span(archive, spans.oldest_hour(store, archive))


def page_queries(reader: Any) -> dict[str, list[tuple[str, Any]]]:
    """Per page, the queries it runs when nothing is cached (what ``components/data.py`` calls).

    Mirrors the pages with their default filters (Explore and Map: "Last 7 days"), so the
    sum per page is the database and index part of an uncached render.
    """
    from pipelines.read import health, mapview, options, spans, triage
    from pipelines.read import queries as Q
    from pipelines.search.filters import Filters

    store = reader.store
    clock = Q.data_clock(store)
    since, until = Q.preset_range(clock, "Last 7 days")
    f = Filters.make(since=since, until=until)
    window = Q.TimeWindow.last_days_of_data(store, 7)
    today = Filters.make(since=window.until - (window.until - window.since) / 7, until=window.until)
    sidebar = [
        ("data clock (rollups)", lambda: Q.data_clock(store).end),
        ("filter options (rollups + index)", lambda: len(options.filter_options(store, reader).places)),
    ]
    return {
        "Overview": [
            ("data clock (rollups)", lambda: Q.data_clock(store).end),
            ("default window (rollups)", lambda: Q.TimeWindow.last_days_of_data(store, 7).since),
            ("overview figures (rollups)", lambda: Q.overview(store, window).posts_today),
            (
                "timeline span (rollups)",
                lambda: spans.overview_span(clock, spans.oldest_hour(store, clock)).since,
            ),
            ("timeline span if an archive (rollups)", lambda: _archive_span(store, clock).since),
            ("open anomalies", lambda: triage.anomaly_list(store, ("open",)).height),
            ("posts per hour 7 d (rollups)", lambda: Q.posts_per_hour(store, window).height),
            ("anomaly markers", lambda: triage.anomaly_markers(store, window.since, window.until).height),
            ("source health", lambda: health.source_health(store).height),
            ("top terms 24 h", lambda: Q.top_terms(reader, today).height),
            ("latest alerts", lambda: triage.latest_alerts(store).height),
            ("latest posts", lambda: Q.latest_posts(reader).height),
        ],
        "Explore": [
            *sidebar,
            ("timeline 7 d", lambda: Q.timeline(reader, f).hourly.height),
            ("count 7 d", lambda: Q.count_matching(reader, f)),
            ("posts page 1", lambda: Q.posts_page(reader, f).height),
        ],
        "Map": [
            *sidebar,
            ("map view 7 d (points or clusters)", lambda: mapview.map_view(reader, f).located),
            ("table page 1 (located)", lambda: mapview.located_posts(reader, f, mapview.TABLE_PAGE)[0]),
        ],
        "Anomalies": [("anomaly list", lambda: triage.anomaly_list(store, ()).height)],
        "Sources": [("source health", lambda: health.source_health(store).height)],
        "Explore, other filters": [
            *[
                item
                for q in ("flood", "earthquake OR quake", '"state of emergency"', "-flood")
                for item in (
                    (f"keyword timeline+count {q!r}", partial(_count, reader, f.replace(query=q))),
                    (f"keyword page 1 {q!r}", partial(_page_rows, reader, f.replace(query=q))),
                )
            ],
            # The breakdown's tabs run only while its expander is open (one tab at a time).
            ("breakdown opened: top terms 7 d (term rollup)", lambda: Q.top_terms(reader, f).height),
            (
                "breakdown tabs: source, lang, places 7 d",
                lambda: sum(Q.breakdown(reader, f, b).height for b in ("source", "lang", "places")),
            ),
            ("page 10, 7 d", lambda: Q.posts_page(reader, f, 9).height),
            ("threat >= 0.5, 7 d", lambda: Q.count_matching(reader, f.replace(threat=(0.5, 1.0)))),
            ("breakdown: sources, 7 d", lambda: Q.breakdown(reader, f, "source").height),
            ("score summary, 7 d", lambda: Q.score_summary(reader, f).height),
        ],
    }


def _count(reader: Any, f: Any) -> int:
    from pipelines.read import queries as Q

    Q.timeline(reader, f)
    return Q.count_matching(reader, f)


def _page_rows(reader: Any, f: Any) -> int:
    from pipelines.read import queries as Q

    return Q.posts_page(reader, f).height


def build_index(store: Store, data_dir: Path, reuse: bool) -> Any:
    """The search index of ``data_dir`` holding every post (rebuilt unless reusable)."""
    from pipelines.read.queries import Reader
    from pipelines.search.index import SearchIndex, index_path
    from pipelines.search.indexer import Indexer

    index = SearchIndex.open_or_create(index_path(data_dir))
    have = sum(int(r["n"]) for r in store.rollups.sums("ingest", []))
    if not (reuse and index.searcher().num_docs == have):
        indexer = Indexer(store, index)
        t0 = time.perf_counter()
        n = indexer.rebuild()
        indexer.close()
        print(f"indexed {n:,} posts in {time.perf_counter() - t0:.0f} s", flush=True)
    return Reader(store, index)


def query_times(reader: Any) -> list[tuple[str, str, float, str]]:
    """``(page, query, seconds, result)`` for every query of :func:`page_queries`, run once."""
    out: list[tuple[str, str, float, str]] = []
    for page, items in page_queries(reader).items():
        for label, fn in items:
            t0 = time.perf_counter()
            r = fn()
            out.append((page, label, time.perf_counter() - t0, str(r)[:40]))
    return out


def load_page(page: Any, title: str, marker: tuple[str, str]) -> tuple[float, float]:
    """``(marker seen, page drawn)`` seconds after clicking ``title`` in the sidebar."""
    t0 = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
    kind, value = marker
    found = page.get_by_test_id(value) if kind == "id" else page.get_by_text(value)
    found.first.wait_for(timeout=120_000)
    seen = time.perf_counter() - t0
    page.wait_for_function(RUN_OVER, arg=title, timeout=120_000, polling=10)
    if title in DRAWN:
        page.wait_for_function(DRAWN[title], timeout=120_000, polling=10)
    return seen, time.perf_counter() - t0


def dashboard_script(tree: Path) -> Path:
    """What ``pipelines up`` starts in ``tree``: ``components/launch.py`` (``app.py`` as an
    ``st.App`` with cacheable hashed component files), or ``app.py`` in a tree before it."""
    launcher = tree / "components" / "launch.py"
    return launcher if launcher.is_file() else tree / "app.py"


def measure(url: str, user: str, loads: int) -> dict[str, list[tuple[float, float]]]:
    """Per page, ``(marker seen, page drawn)`` seconds after the click, for ``loads + 1`` loads."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    times: dict[str, list[tuple[float, float]]] = {p: [] for p in PAGES}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        _login(page, url, user)
        for _ in range(loads + 1):
            for title, marker in PAGES.items():
                times[title].append(load_page(page, title, marker))
        b.close()
    return times


def _login(page: Any, url: str, user: str) -> None:
    import pyotp

    page.goto(url, wait_until="networkidle")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Set up two-factor login").wait_for(timeout=120_000)
    secret = page.get_by_test_id("stCode").first.inner_text().strip()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("button", name="I have saved them").click(timeout=60_000)
    page.get_by_text(f"Signed in as {user}").wait_for(timeout=60_000)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--loads", type=int, default=20)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "vigil-bench-dashboard")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="keep the posts already in --data-dir (an interrupted fill resumes where it stopped)",
    )
    ap.add_argument("--fill-only", action="store_true", help="fill (or finish filling) the store, then stop")
    ap.add_argument("--queries-only", action="store_true", help="print the query times, skip the browser")
    ap.add_argument("--port", type=int, default=27418)
    ap.add_argument("--ui-port", type=int, default=8618)
    args = ap.parse_args()

    server = EmbeddedServer(args.data_dir / "db", args.port)
    # A long heartbeat timeout: reading 1M posts in _id order keeps the embedded server busy
    # past pymongo's default 20 s, whose failed heartbeat cancels the rebuild's read.
    uri = server.ensure_running(timeout_s=300) + "&connectTimeoutMS=600000"
    store = Store(uri, "vigil")
    store.schema.ensure()
    from bench.fill import fill, fill_state

    state = fill_state(store)
    if not args.reuse or state is None:
        store.client.drop_database("vigil")
        store.schema.ensure()
        state = None
    if state is None or not state.get("complete"):
        n = int(state["n"]) if state else args.posts
        print(f"filling {n:,} posts ...", flush=True)
        print("fill:", fill(store, n, log=lambda m: print(m, flush=True)), flush=True)
    have = sum(int(r["n"]) for r in store.rollups.sums("ingest", []))
    print(f"store holds {have:,} posts", flush=True)
    if args.fill_only:
        store.client.close()
        server.stop()
        return 0

    reader = build_index(store, args.data_dir, args.reuse)
    print(f"\nquery times (direct, no Streamlit, no cache; load average {_load()}):")
    totals: dict[str, float] = {}
    for page, label, dt, r in query_times(reader):
        totals[page] = totals.get(page, 0.0) + dt
        print(f"  {page:10s} {label:45s} {dt * 1000:8.0f} ms   {r}")
    for page, total in totals.items():
        print(f"  {page:10s} {'= all queries of the page':45s} {total * 1000:8.0f} ms")
    if args.queries_only:
        store.client.close()
        server.stop()
        return 0

    user = f"bench-{int(time.time())}"  # a new user each run: its first login enrols TOTP
    env = {**os.environ, "MONGODB_URI": uri, "MONGODB_DB": "vigil", "VIGIL_DATA_DIR": str(args.data_dir)}
    subprocess.run(
        [sys.executable, "-m", "pipelines", "user", "add", user, "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    ui = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(dashboard_script(REPO)),
            "--server.port", str(args.ui_port), "--server.headless", "true",
            "--server.address", "127.0.0.1",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(8)
        times = measure(f"http://127.0.0.1:{args.ui_port}", user, args.loads)
        load = _load()
        rss = {"app (streamlit)": _peak_rss_mb(ui.pid)}
        if server.process is not None:
            rss["store (SecantusDB)"] = _peak_rss_mb(server.process.pid)
    finally:
        ui.terminate()
        ui.wait(20)
        store.client.close()
        server.stop()
    print(
        f"\npage render times through the server ({args.loads} loads each after 1 cold; load average {load}):"
    )
    print(
        f"  {'page':10s} {'cold s':>8s} {'p50 s':>8s} {'p95 s':>8s}   marker only: {'p50 s':>6s} {'p95 s':>6s}"
    )
    for title, ts in times.items():
        cold, warm = ts[0][1], [t for _, t in ts[1:]]
        marker = [m for m, _ in ts[1:]]
        print(
            f"  {title:10s} {cold:8.2f} {statistics.median(warm):8.2f} {pct(warm, 0.95):8.2f}"
            f"                {statistics.median(marker):6.2f} {pct(marker, 0.95):6.2f}"
        )
    print("peak RSS: " + ", ".join(f"{k} {v:,.0f} MB" for k, v in rss.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
