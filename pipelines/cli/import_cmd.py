"""``python -m pipelines import PATH``: archive import with a progress bar and clean Ctrl-C."""

from __future__ import annotations

import codecs
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from pipelines.cli import app
from pipelines.core.config import get_settings
from pipelines.ingest.archive import DEFAULT_BATCH, ImportOptions, ImportStats, run_import
from pipelines.ingest.importers import CHOICES
from pipelines.ingest.importers.base import ReadOptions
from pipelines.ingest.importers.mapping import parse_map_options
from pipelines.ingest.importers.streams import MAX_LINE_BYTES, InputError


class BarProgress:
    """A rich progress bar per file on stderr: bytes read, records, records/s, ETA."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.perf_counter()
        self.bar = Progress(
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            TextColumn("{task.fields[records]:>9,} records {task.fields[rate]:>6,.0f}/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task: TaskID | None = None
        self.bar.start()

    def start_file(self, label: str, total_bytes: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total)
        name = label if len(label) <= 28 else "…" + label[-27:]
        self.task = self.bar.add_task(name, total=max(total_bytes, 1), records=0, rate=0.0)

    def advance(self, position: int, stats: ImportStats) -> None:
        if self.task is None:
            return
        rate = stats.read / max(time.perf_counter() - self.started, 1e-6)
        self.bar.update(self.task, completed=position, records=stats.read, rate=rate)

    def notice(self, message: str) -> None:
        self.bar.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        self.bar.stop()


class LogProgress:
    """Without a terminal (``pipelines up``, CI): a plain line every ``every_s`` seconds."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.started = self.last = time.perf_counter()
        self.label = ""
        self.total = 1

    def start_file(self, label: str, total_bytes: int) -> None:
        self.label, self.total = label, max(total_bytes, 1)
        print(f"importing {label}", file=sys.stderr, flush=True)

    def advance(self, position: int, stats: ImportStats) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s:
            return
        self.last = now
        rate = stats.read / max(now - self.started, 1e-6)
        pct = min(100.0, 100.0 * position / self.total)
        print(
            f"  {self.label}: {pct:.0f}%, {stats.read:,} records, {rate:,.0f}/s", file=sys.stderr, flush=True
        )

    def notice(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class QuietProgress(LogProgress):
    def start_file(self, label: str, total_bytes: int) -> None:
        pass

    def advance(self, position: int, stats: ImportStats) -> None:
        pass


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """First Ctrl-C (or SIGTERM from the supervisor) asks for a stop between batches;
    a second Ctrl-C aborts at once."""
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        print(
            "\nstopping after the current batch (Ctrl-C again to abort at once)...",
            file=sys.stderr,
            flush=True,
        )

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="A file, or a folder of files / CrisisLex event folders.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"One of {', '.join(CHOICES)}; auto detects per file.")
    ] = "auto",
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            help="FIELD=PATH: post field (id ts text title url author lang lat lon engagement source "
            "meta.NAME) from a JSON path or CSV column. Repeatable.",
        ),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Source name of the posts.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000)] = DEFAULT_BATCH,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore saved positions; read from the start.")
    ] = False,
    encoding: Annotated[str, typer.Option("--encoding", help="Text encoding of the files.")] = "utf-8",
    max_line_bytes: Annotated[
        int, typer.Option("--max-line-bytes", min=1024, help="Longer lines/rows are quarantined.")
    ] = MAX_LINE_BYTES,
) -> None:
    """Import an archive (JSONL, CSV, Twitter v2, Pushshift, CrisisLex; gz/zst/bz2/xz)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        codecs.lookup(encoding)
        mapping = parse_map_options(maps or [])
        if fmt not in CHOICES:
            raise InputError(f"unknown --format {fmt!r}; choose one of {', '.join(CHOICES)}")
    except (LookupError, InputError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    opts = ImportOptions(
        fmt=fmt,
        read=ReadOptions(mapping=mapping, source=source, max_line_bytes=max_line_bytes, encoding=encoding),
        batch_size=batch_size,
        restart=restart,
    )
    from pipelines.store import Store, StoreError

    progress: BarProgress | LogProgress
    if quiet:
        progress = QuietProgress()
    elif err.is_terminal:
        progress = BarProgress(err)
    else:
        progress = LogProgress()
    try:
        with Store.open(get_settings()) as store, stop_on_signals() as stop:
            try:
                stats = run_import(store, path, opts, should_stop=stop.is_set, progress=progress)
            finally:
                progress.close()
    except StoreError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(3) from None
    except KeyboardInterrupt:
        err.print(
            "aborted: the last batch may be partly stored; run the command again to resume", markup=False
        )
        raise typer.Exit(130) from None
    for reason in stats.failed:
        err.print(f"error: {reason}", markup=False)
    if stats.quarantined:
        err.print(f"quarantined {stats.quarantined:,} records (kind 'import'), first reasons:", markup=False)
        for example in stats.examples:
            err.print(f"  {example}", markup=False)
    typer.echo(stats.summary())
    raise typer.Exit(stats.exit_code)
