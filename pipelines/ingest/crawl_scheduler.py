"""The crawl scheduler: runs each due source as its own ``scrapy crawl`` subprocess.

Why subprocesses: Twisted's reactor cannot be restarted inside one process, and a
spider that crashes, leaks or hangs must not take the scheduler with it. Each run:

1. takes the source's lock in MongoDB (one atomic conditional update with a lease,
   so no two runs of a source overlap, across processes and machines);
2. records a ``crawl_runs`` document (``running``), starts
   ``python -m scrapy crawl KIND -a source=NAME`` from the repository root with the
   store's URI in its environment, and kills its whole process group at the
   source's ``timeout_s``;
3. reads the summary the crawl wrote (counts, errors), closes the run as ``ok``,
   ``partial``, ``error``, ``timeout`` or ``crashed``, schedules the next run (the
   interval after success; after failures the interval doubles each time, up to
   ``VIGIL_CRAWL_MAX_BACKOFF_S``) and releases the lock.

This module never imports Scrapy; it only starts it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.core.config import REPO_ROOT, Settings
from pipelines.ingest.sources import InvalidSource, load_sources_file, validate_source
from pipelines.store import Store

log = logging.getLogger("vigil.crawl")

LOCK_MARGIN_S = 60
"""The lock lease outlives the run's timeout by this much (time to kill and record)."""


def _die_with_parent() -> None:
    """Own process group (so a timeout kills scrapy and anything it started) + PDEATHSIG."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


@dataclass
class Running:
    """A crawl subprocess in flight."""

    run_id: str
    name: str
    kind: str
    interval_s: int
    timeout_s: int
    proc: subprocess.Popen[bytes]
    started: datetime
    deadline: float
    summary_path: Path
    log_path: Path
    failures: int


def seed_sources(store: Store, path: Path, *, replace: bool = False) -> tuple[list[str], list[str]]:
    """Add the definitions of a ``sources.yaml`` (existing names kept unless ``replace``).

    Returns the names written and one reason per refused entry.
    """
    defs, errors = load_sources_file(path)
    written = []
    for src in defs:
        if not replace and store.sources.get(src.name) is not None:
            continue
        store.sources.upsert(src.to_doc())
        written.append(src.name)
    return written, errors


class CrawlScheduler:
    """Launches, watches and records crawl subprocesses; see the module docstring."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        concurrency: int | None = None,
        scrapy_settings: dict[str, str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.concurrency = concurrency or settings.vigil_crawl_concurrency
        self.scrapy_settings = dict(scrapy_settings or {})
        self.log_dir = Path(log_dir or Path(settings.vigil_data_dir) / "crawl")
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.running: dict[str, Running] = {}

    # ------------------------------------------------------------------ launching

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MONGODB_URI"] = self.store.uri
        env["MONGODB_DB"] = self.store.db.name
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def launch(self, doc: dict[str, Any]) -> Running | None:
        """Start one source's crawl unless its lock is held; ``None`` when not started."""
        name = doc.get("name", "?")
        try:
            src = validate_source(doc)
        except InvalidSource as exc:
            self._record_refused(name, str(exc))
            return None
        if name in self.running:
            return None
        if self.store.sources.claim(name, self.owner, src.timeout_s + LOCK_MARGIN_S) is None:
            log.info("crawl %s: already running elsewhere (lock held); skipped", name)
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        run_id = uuid.uuid4().hex
        summary = self.log_dir / f"{name}.{run_id}.json"
        log_path = self.log_dir / f"{name}.log"
        argv = [sys.executable, "-m", "scrapy", "crawl", src.kind, "-a", f"source={name}"]
        for k, v in {**self.scrapy_settings, "VIGIL_SUMMARY_FILE": str(summary)}.items():
            argv += ["-s", f"{k}={v}"]
        now = datetime.now(UTC)
        self.store.crawl_runs.start(
            {
                "_id": run_id,
                "source": name,
                "kind": src.kind,
                "started": now,
                "deadline": now + timedelta(seconds=src.timeout_s + LOCK_MARGIN_S),
                "owner": self.owner,
            }
        )
        with open(log_path, "wb") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=str(REPO_ROOT),
                    env=self._env(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                self.store.crawl_runs.finish(
                    run_id, status="crashed", ended=now, error=f"cannot start scrapy: {exc}"
                )
                self.store.sources.release(name, self.owner)
                return None
        state = doc.get("state") or {}
        r = Running(
            run_id=run_id,
            name=name,
            kind=src.kind,
            interval_s=src.interval_s,
            timeout_s=src.timeout_s,
            proc=proc,
            started=now,
            deadline=time.monotonic() + src.timeout_s,
            summary_path=summary,
            log_path=log_path,
            failures=int(state.get("consecutive_failures") or 0),
        )
        self.running[name] = r
        self.store.sources.update_state(name, last_start=now)
        return r

    def _record_refused(self, name: str, reason: str) -> None:
        now = datetime.now(UTC)
        self.store.crawl_runs.start(
            {
                "_id": uuid.uuid4().hex,
                "source": name,
                "started": now,
                "ended": now,
                "deadline": now,
                "owner": self.owner,
                "status": "error",
                "error": reason,
            }
        )
        self.store.sources.update_state(
            name, next_due=now + timedelta(seconds=self.settings.vigil_crawl_max_backoff_s), last_error=reason
        )
        log.warning("crawl %s: refused: %s", name, reason)

    # ------------------------------------------------------------------ watching

    def poll(self) -> list[dict[str, Any]]:
        """Finish runs whose process ended or ran past its timeout; returns their records."""
        done = []
        for name, r in list(self.running.items()):
            code = r.proc.poll()
            timed_out = False
            if code is None:
                if time.monotonic() < r.deadline:
                    continue
                timed_out = True
                code = self._kill(r)
            done.append(self._finish(r, code, timed_out=timed_out))
            del self.running[name]
        return done

    @staticmethod
    def _kill(r: Running, grace_s: float = 5.0) -> int:
        """SIGTERM the run's process group, SIGKILL it after a grace period."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(r.proc.pid, sig)
            try:
                return r.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                continue
        return r.proc.wait()

    def _finish(self, r: Running, code: int, *, timed_out: bool, interrupted: bool = False) -> dict[str, Any]:
        ended = datetime.now(UTC)
        summary = self._read_summary(r)
        src_sum = (summary or {}).get(r.name) or {}
        fields: dict[str, Any] = {
            k: src_sum.get(k, 0)
            for k in (
                "items",
                "inserted",
                "existing",
                "dropped",
                "not_modified",
                "cross_posts",
                "requests",
                "responses",
            )
        }
        fields["errors"] = src_sum.get("errors", [])
        fields["error_count"] = src_sum.get("error_count", 0)
        if interrupted:
            status, error = "interrupted", "the scheduler stopped during the run"
        elif timed_out:
            status = "timeout"
            error = f"killed after {r.timeout_s} s (the source's timeout_s): the spider hung or was too slow"
        elif not src_sum:
            status, error = (
                "crashed",
                f"scrapy exited with code {code} without a summary: {self._log_tail(r)}",
            )
        else:
            status, error = src_sum.get("status", "error"), src_sum.get("error")
            if code != 0 and status == "ok":
                status, error = "crashed", f"scrapy exited with code {code}: {self._log_tail(r)}"
        failures = 0 if status in ("ok", "partial") else r.failures + 1
        if failures:
            delay = min(self.settings.vigil_crawl_max_backoff_s, r.interval_s * 2 ** (failures - 1))
        else:
            delay = r.interval_s
        fields.update(
            status=status,
            error=error,
            ended=ended,
            duration_s=round((ended - r.started).total_seconds(), 3),
            exit_code=code,
        )
        self.store.crawl_runs.finish(r.run_id, **fields)
        self.store.sources.update_state(
            r.name,
            last_run=ended,
            last_status=status,
            last_error=error,
            consecutive_failures=failures,
            next_due=ended + timedelta(seconds=delay),
        )
        self.store.sources.release(r.name, self.owner)
        with contextlib.suppress(OSError):
            r.summary_path.unlink()
        line = (
            f"crawl {r.name}: {status} in {fields['duration_s']:.1f} s, "
            f"{fields['inserted']} new of {fields['items']} items, {fields['dropped']} dropped"
        )
        if error:
            line += f"; {error}"
        line += f"; next run in {_human(delay)}"
        (log.info if status in ("ok", "partial") else log.warning)(line)
        return {"source": r.name, "run_id": r.run_id, **fields}

    @staticmethod
    def _read_summary(r: Running) -> dict[str, Any] | None:
        try:
            return json.loads(r.summary_path.read_text()).get("sources")
        except (OSError, ValueError):
            return None

    @staticmethod
    def _log_tail(r: Running) -> str:
        """The last error-looking line of the run's log (for a crash without a summary)."""
        try:
            lines = r.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        for line in reversed(lines[-200:]):
            if "Error" in line or "ERROR" in line:
                return line.strip()[:300]
        return (lines[-1].strip()[:300] if lines else "empty log") + f" (log: {r.log_path})"

    # ------------------------------------------------------------------ entry points

    def due(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Enabled sources whose ``state.next_due`` has passed (or that never ran)."""
        now = now or datetime.now(UTC)
        out = []
        for doc in self.store.sources.list_all(enabled=True):
            nxt = (doc.get("state") or {}).get("next_due")
            if nxt is None or nxt <= now:
                out.append(doc)
        out.sort(key=lambda d: (d.get("state") or {}).get("next_due") or datetime.min.replace(tzinfo=UTC))
        return out

    def run_once(self, names: list[str] | None = None, poll_s: float = 0.2) -> list[dict[str, Any]]:
        """Run the named sources (or every due one) to completion, ``concurrency`` at a time."""
        if names:
            docs = []
            for n in names:
                doc = self.store.sources.get(n)
                if doc is None:
                    raise InvalidSource(f"unknown source {n!r} (see: python -m pipelines sources list)")
                docs.append(doc)
        else:
            docs = self.due()
        results: list[dict[str, Any]] = []
        queue = list(docs)
        while queue or self.running:
            while queue and len(self.running) < self.concurrency:
                doc = queue.pop(0)
                if self.launch(doc) is None:
                    results.append(
                        {"source": doc.get("name"), "status": "skipped", "error": "lock held or refused"}
                    )
            results.extend(self.poll())
            if self.running:
                time.sleep(poll_s)
        return results

    def loop(self, stop: threading.Event, tick_s: float = 2.0) -> None:
        """Run due sources until ``stop`` is set; then end the runs in flight."""
        abandoned = self.store.crawl_runs.abandon()
        if abandoned:
            log.info("marked %d crawl run(s) left running by a dead scheduler as abandoned", abandoned)
        log.info("crawl scheduler started (%d at a time)", self.concurrency)
        try:
            while not stop.is_set():
                self.poll()
                free = self.concurrency - len(self.running)
                if free > 0:
                    for doc in self.due():
                        if free <= 0:
                            break
                        if doc["name"] not in self.running and self.launch(doc) is not None:
                            free -= 1
                stop.wait(tick_s)
        finally:
            for r in list(self.running.values()):
                code = self._kill(r)
                self._finish(r, code, timed_out=False, interrupted=True)
            self.running.clear()
            log.info("crawl scheduler stopped")


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
