"""``python -m pipelines up``: start and watch every Vigil process; stop them all on Ctrl-C.

The supervisor owns the embedded store (when ``MONGODB_URI`` is unset) and hands its
URI to every child through ``MONGODB_URI``, so children never start servers of their
own. Long-running children are restarted with backoff when they die; one-shot jobs
(the sample import) run once. On SIGINT or SIGTERM every child gets SIGTERM, then
SIGKILL after a grace period, and the store is stopped last. Children also get
``PR_SET_PDEATHSIG`` so that even a SIGKILLed supervisor leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.core.config import REPO_ROOT, Settings

log = logging.getLogger("vigil.up")


@dataclass
class ProcessSpec:
    """One supervised process: its name, its command and whether it runs once."""

    name: str
    argv: list[str]
    oneshot: bool = False
    env: dict[str, str] = field(default_factory=dict)


def _module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def process_specs(settings: Settings) -> list[ProcessSpec]:
    """Every process of the stack, in start order. Later stages add themselves here."""
    specs: list[ProcessSpec] = []
    sample = Path(settings.vigil_sample_dir)
    if settings.vigil_load_sample and sample.is_dir():
        specs.append(ProcessSpec("sample-import", _module("pipelines", "import", str(sample)), oneshot=True))
    specs.append(
        ProcessSpec(
            "dashboard",
            _module(
                "streamlit",
                "run",
                # app.py behind components/launch.py's st.App: content-hashed component
                # files cacheable (components/assetcache.py); cwd is the repository root.
                str(REPO_ROOT / "components" / "launch.py"),
                "--server.port",
                str(settings.vigil_ui_port),
                "--server.address",
                settings.vigil_ui_host,
                "--server.headless",
                "true",
            ),
        )
    )
    specs.append(ProcessSpec("crawler", _module("pipelines", "crawl", "--loop")))
    specs.append(ProcessSpec("scorer", _module("pipelines", "score", "--loop")))
    specs.append(ProcessSpec("alerts", _module("pipelines", "alerts", "--loop")))
    specs.append(ProcessSpec("detector", _module("pipelines", "detect", "--loop")))
    specs.append(ProcessSpec("indexer", _module("pipelines", "index", "--loop")))
    return specs


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when the supervisor dies (no orphans)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Supervisor:
    """Runs :class:`ProcessSpec` children, restarting the long-running ones."""

    def __init__(self, specs: list[ProcessSpec], env: dict[str, str], grace_s: float = 10.0) -> None:
        self.specs = specs
        self.env = env
        self.grace_s = grace_s
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = {}
        self.next_start: dict[str, float] = {}
        self.done: set[str] = set()
        self._stop = threading.Event()
        self._pumps: list[threading.Thread] = []

    def _start(self, spec: ProcessSpec) -> None:
        env = {**self.env, **spec.env}
        proc = subprocess.Popen(
            spec.argv,
            env=env,
            cwd=str(REPO_ROOT),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.procs[spec.name] = proc
        t = threading.Thread(target=self._pump, args=(spec.name, proc), daemon=True)
        t.start()
        self._pumps.append(t)
        log.info("started %s (pid %d)", spec.name, proc.pid)

    @staticmethod
    def _pump(name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            sys.stdout.write(f"[{name}] {line.decode('utf-8', 'replace')}")
            sys.stdout.flush()

    def stop(self) -> None:
        self._stop.set()

    def run(self, on_tick: Callable[[], None] | None = None) -> int:
        """Start everything and watch until :meth:`stop` (or a signal) is called."""
        for spec in self.specs:
            self._start(spec)
        try:
            while not self._stop.wait(0.5):
                if on_tick:
                    on_tick()
                self._reap()
        finally:
            self.shutdown()
        return 0

    def _reap(self) -> None:
        now = time.monotonic()
        for spec in self.specs:
            if spec.name in self.done:
                continue
            proc = self.procs.get(spec.name)
            if proc is None:
                if now >= self.next_start.get(spec.name, 0):
                    self._start(spec)
                continue
            code = proc.poll()
            if code is None:
                continue
            del self.procs[spec.name]
            if spec.oneshot:
                self.done.add(spec.name)
                log.info("%s finished with exit code %d", spec.name, code)
                continue
            n = self.restarts[spec.name] = self.restarts.get(spec.name, 0) + 1
            delay = min(60.0, 2.0 ** min(n, 6))
            self.next_start[spec.name] = now + delay
            log.warning("%s exited with code %d; restarting in %.0f s", spec.name, code, delay)

    def shutdown(self) -> None:
        """SIGTERM every child, wait up to the grace period, then SIGKILL stragglers."""
        live = {n: p for n, p in self.procs.items() if p.poll() is None}
        for proc in live.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        deadline = time.monotonic() + self.grace_s
        for name, proc in live.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s: killing it", name, self.grace_s)
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        for t in self._pumps:
            t.join(timeout=1)


def _explain_first_user(store: object) -> None:
    """Say in the log how to create the first user while there is none (auth, issue 8)."""
    from pipelines.auth.users import FIRST_USER_HINT

    if store.users.count() == 0:  # type: ignore[attr-defined]
        for line in FIRST_USER_HINT.splitlines():
            log.warning(line)


def run_stack(settings: Settings) -> int:
    """Open the store (starting the embedded server if needed), then supervise the rest."""
    from pipelines.store import Store
    from pipelines.store.client import safe_uri

    store = Store.open(settings)
    env = dict(os.environ)
    env["MONGODB_URI"] = store.uri
    env["PYTHONUNBUFFERED"] = "1"
    specs = process_specs(settings)
    sup = Supervisor(specs, env)

    def _signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping every process", signal.Signals(signum).name)
        sup.stop()

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    server = store.server

    def _watch_store() -> None:
        # The embedded server is a child too: restart it if it died (same folder, same data).
        if server is not None and server.owned and server.process and server.process.poll() is not None:
            log.warning("embedded store exited (code %s): restarting it", server.process.returncode)
            server.process = None
            server.ensure_running()

    log.info(
        "Vigil is starting: dashboard on http://localhost:%d, store %s",
        settings.vigil_ui_port,
        "embedded (" + str(settings.db_path) + ")" if server and server.owned else safe_uri(store.uri),
    )
    _explain_first_user(store)
    try:
        return sup.run(on_tick=_watch_store)
    finally:
        store.close()
        log.info("Vigil stopped")
