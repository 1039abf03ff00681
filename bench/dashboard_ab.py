"""Two dashboards side by side: page loads of two trees interleaved, for a fair before/after.

    git archive BEFORE_COMMIT | tar -x -C /tmp/before
    python -m bench.dashboard_ab /tmp/before . --loads 20 --data-dir DIR [--port 27431]

Why: on a shared machine the load average moves by a factor of two within minutes, so two
benchmark runs one after the other compare the machine, not the code. This starts one
dashboard per tree (``streamlit run TREE/components/launch.py``, or ``TREE/app.py`` in a tree without the launcher, as its ``pipelines up`` would) against the same store and search index
(``DIR``, filled by :mod:`bench.dashboard`; the store must already answer on ``--port``, or
is started as ``bench.dashboard`` does), logs a new user into each in its own browser
context, and loads every page of :data:`bench.dashboard.PAGES` (or those of ``--pages``) once in A, once in B
(B first on odd rounds), with :mod:`bench.dashboard`'s end point: the run is over, nothing
stale is left, the chart / map is drawn. Prints cold / p50 / p95 per page and tree, the
marker-only p50, the websocket bytes received per load, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.dashboard import PAGES, PASSWORD, _login, dashboard_script, load_page, pct
from pipelines.store import EmbeddedServer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("--loads", type=int, default=20)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--port", type=int, default=27418)
    ap.add_argument("--ui-ports", type=int, nargs=2, default=(8661, 8662))
    ap.add_argument(
        "--pages",
        nargs="+",
        choices=list(PAGES),
        default=list(PAGES),
        help="only these pages, in this order (at least two: a page is loaded by leaving another)",
    )
    args = ap.parse_args()
    if len(args.pages) < 2:
        ap.error("--pages needs at least two pages (a load navigates from one page to the next)")
    pages = {title: PAGES[title] for title in args.pages}
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    server = EmbeddedServer(args.data_dir / "db", args.port)
    uri = server.ensure_running(timeout_s=300) + "&connectTimeoutMS=600000"
    env = {**os.environ, "MONGODB_URI": uri, "MONGODB_DB": "vigil", "VIGIL_DATA_DIR": str(args.data_dir)}
    trees = {"A": args.tree_a.resolve(), "B": args.tree_b.resolve()}
    user = f"bench-ab-{int(time.time())}"
    procs = []
    for (k, tree), port in zip(trees.items(), args.ui_ports, strict=True):
        subprocess.run(
            [sys.executable, "-m", "pipelines", "user", "add", user + k, "--role", "admin", "--password-stdin"],
            input=PASSWORD + "\n", text=True, env=env, cwd=tree, capture_output=True, check=True,
        )  # fmt: skip
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    str(dashboard_script(tree)),
                    "--server.port",
                    str(port),
                    "--server.headless",
                    "true",
                    "--server.address",
                    "127.0.0.1",
                ],
                env=env,
                cwd=tree,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        )
    times: dict[str, dict[str, list[tuple[float, float, float]]]] = {k: {p: [] for p in pages} for k in trees}
    loads: list[float] = []
    try:
        for port in args.ui_ports:
            _wait_healthy(port)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            tabs, received = {}, {k: [0] for k in trees}
            for k, port in zip(trees, args.ui_ports, strict=True):
                tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                tab.on(
                    "websocket",
                    lambda ws, k=k: ws.on("framereceived", lambda m, k=k: received[k].append(len(m))),
                )
                _login(tab, f"http://127.0.0.1:{port}", user + k)
                tabs[k] = tab
            for i in range(args.loads + 1):
                loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
                for title, marker in pages.items():
                    for k in "AB" if i % 2 == 0 else "BA":
                        tabs[k].bring_to_front()
                        received[k] = [0]
                        seen, drawn = load_page(tabs[k], title, marker)
                        times[k][title].append((seen, drawn, sum(received[k]) / 1024))
            browser.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
        server.stop()
    print(f"A = {trees['A']}\nB = {trees['B']}")
    print(
        f"{args.loads} warm loads per page and tree after 1 cold, interleaved; load average during: "
        f"min {min(loads):.1f}, median {statistics.median(loads):.1f}, max {max(loads):.1f}"
    )
    print(
        f"  {'page':10s} {'tree':4s} {'cold s':>7s} {'p50 s':>6s} {'p95 s':>6s} {'marker p50':>10s} {'KB/load':>8s}"
    )
    for title in pages:
        for k in trees:
            rows = times[k][title]
            warm = [d for _, d, _ in rows[1:]]
            print(
                f"  {title:10s} {k:4s} {rows[0][1]:7.2f} {statistics.median(warm):6.2f} {pct(warm, 0.95):6.2f}"
                f" {statistics.median([s for s, _, _ in rows[1:]]):10.2f}"
                f" {statistics.median([b for _, _, b in rows[1:]]):8.0f}"
            )
    return 0


def _wait_healthy(port: int, timeout_s: float = 180.0) -> None:
    """Until the dashboard on ``port`` answers its health check (a fixed sleep was too short
    on a loaded machine: the first login then timed out)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the dashboard on port {port} did not start within {timeout_s:.0f} s")
        time.sleep(0.5)


if __name__ == "__main__":
    raise SystemExit(main())
