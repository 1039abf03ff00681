"""Archive import: read files, build posts, store them in batches, resume after a stop.

``python -m pipelines import PATH`` lands here through :func:`run_import`. Readers
(:mod:`pipelines.ingest.importers`) turn files into records; each record becomes a post
through :func:`pipelines.core.post.build_post` or is quarantined with its reason and raw
payload. Posts are written in unordered batches whose duplicates count as "already
present", so importing a file twice inserts nothing the second time.

After every batch the file's position is saved in ``meta`` (``import:<path>``, with a
fingerprint of the file). A stop request is honoured between batches only, so the
store never holds half a batch, and the next run starts where the last batch ended.
Records of the batch in flight when a process is killed outright are simply read
again: already present, nothing doubled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pipelines.core.post import InvalidPost, build_post
from pipelines.ingest import importers
from pipelines.ingest.importers import InputFile, Item, ReadOptions
from pipelines.ingest.importers.streams import (
    STREAM_ERRORS,
    InputError,
    describe_stream_error,
    fingerprint,
    sniff_compression,
)
from pipelines.store import Store

QUARANTINE_KIND = "import"
DEFAULT_BATCH = 1000
MAX_EXAMPLES = 10


@dataclass
class ImportOptions:
    """What ``python -m pipelines import`` was asked to do."""

    fmt: str = "auto"
    read: ReadOptions = field(default_factory=ReadOptions)
    batch_size: int = DEFAULT_BATCH
    restart: bool = False
    """Ignore saved positions and read every file from its start."""


@dataclass
class ImportStats:
    """Counts of one run; every record read is inserted, already present or quarantined."""

    read: int = 0
    inserted: int = 0
    present: int = 0
    quarantined: int = 0
    files: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    """``origin: reason`` of the first quarantined records, to show the user."""
    interrupted: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        """The closing line: the four counts, then files, time and rate."""
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        extra = f"{self.files} file{'s' * (self.files != 1)}"
        if self.failed:
            extra += f", {len(self.failed)} failed"
        if self.interrupted:
            extra += ", interrupted: run the same command again to resume"
        return (
            f"read {self.read:,}, inserted {self.inserted:,}, already present {self.present:,}, "
            f"quarantined {self.quarantined:,} ({extra}; {self.seconds:.1f} s, {rate:,.0f} records/s)"
        )

    @property
    def exit_code(self) -> int:
        """130 when stopped, 1 when no record could be read as a post, else 0."""
        if self.interrupted:
            return 130
        return 0 if self.inserted + self.present > 0 else 1


class Progress(Protocol):
    """What the import reports while it runs (a progress bar, a log, or nothing)."""

    def start_file(self, label: str, total_bytes: int) -> None: ...

    def advance(self, position: int, stats: ImportStats) -> None: ...

    def notice(self, message: str) -> None: ...


class NoProgress:
    def start_file(self, label: str, total_bytes: int) -> None:
        pass

    def advance(self, position: int, stats: ImportStats) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


def checkpoint_key(path: Path) -> str:
    return f"import:{path.resolve()}"


@dataclass
class _Batch:
    docs: list[dict[str, Any]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0


class _FileImport:
    """Imports one file: batches, quarantine, checkpoints."""

    def __init__(self, store: Store, inp: InputFile, opts: ImportOptions, stats: ImportStats, now: datetime):
        self.store, self.inp, self.opts, self.stats, self.now = store, inp, opts, stats, now
        self.key = checkpoint_key(inp.path)
        self.label = inp.label
        self.fingerprint = fingerprint(inp.path)
        self.batch = _Batch()
        self.read_here = 0
        self.last: tuple[int, int] | None = None
        """Resume position after the last record read (across batches)."""

    def start_position(self, notice: Callable[[str], None]) -> tuple[int, int]:
        if self.opts.restart:
            return (0, 0)
        ck = self.store.meta.get(self.key)
        if not ck or ck.get("status") == "done" or not ck.get("offset"):
            return (0, 0)
        if ck.get("fingerprint") != self.fingerprint:
            notice(f"{self.label}: changed since the interrupted import: reading it from the start")
            return (0, 0)
        notice(f"{self.label}: resuming after line {ck['line']:,} (saved {ck.get('updated')})")
        return (int(ck["offset"]), int(ck["line"]))

    def add(self, item: Item) -> None:
        self.stats.read += 1
        self.read_here += 1
        b = self.batch
        b.size += 1
        self.last = item.resume
        if item.error is not None:
            self.reject(item, item.error)
            return
        try:
            post = build_post(**item.fields, now=self.now)  # type: ignore[arg-type]
        except InvalidPost as exc:
            self.reject(item, str(exc))
            return
        b.docs.append(post.to_doc())
        b.items.append(item)

    def reject(self, item: Item, reason: str) -> None:
        origin = f"{self.label}:{item.line}"
        self.batch.rejects.append(
            {
                "kind": QUARANTINE_KIND,
                "reason": reason,
                "raw": item.raw,
                "origin": origin,
                "format": self.inp.fmt,
            }
        )
        if len(self.stats.examples) < MAX_EXAMPLES:
            self.stats.examples.append(f"{origin}: {reason}")

    def flush(self, status: str = "running") -> None:
        b, stats = self.batch, self.stats
        if b.docs:
            result, refused = self.store.posts.insert(b.docs)
            stats.inserted += result.inserted
            stats.present += result.existing
            for index, reason in refused:
                self.reject(b.items[index], reason)
        if b.rejects:
            self.store.quarantine.add_many(b.rejects)
            stats.quarantined += len(b.rejects)
        if self.last is not None:
            offset, line = self.last
            self.store.meta.set(
                self.key,
                status=status,
                fingerprint=self.fingerprint,
                offset=offset,
                line=line,
                format=self.inp.fmt,
                updated=datetime.now(UTC),
            )
        self.batch = _Batch()


def import_file(
    store: Store,
    inp: InputFile,
    opts: ImportOptions,
    stats: ImportStats,
    *,
    should_stop: Callable[[], bool],
    progress: Progress,
    now: datetime,
) -> None:
    """Import one file into ``store``, adding to ``stats`` (see :func:`run_import`)."""
    stats.files += 1
    try:
        job = _FileImport(store, inp, opts, stats, now)
        size = inp.path.stat().st_size
    except OSError as exc:
        stats.failed.append(f"{inp.label}: cannot read the file: {exc.strerror or exc}")
        return
    start = job.start_position(progress.notice)
    progress.start_file(inp.label, size)
    try:
        with importers.open_items(inp, opts.read, start) as items:
            for item in items:
                job.add(item)
                if job.batch.size >= opts.batch_size:
                    job.flush()
                    progress.advance(items.position(), stats)
                    if should_stop():
                        job.flush("interrupted")
                        stats.interrupted = True
                        return
            position = items.position()
    except InputError as exc:
        job.flush("failed")
        stats.failed.append(str(exc))
        return
    except STREAM_ERRORS as exc:
        job.flush("failed")
        line = job.last[1] if job.last else start[1]
        reason = describe_stream_error(sniff_compression(inp.path), exc)
        stats.failed.append(f"{inp.label}: {reason} after line {line:,}; the records before it are stored")
        return
    job.flush("done")
    progress.advance(position, stats)
    if job.read_here == 0 and start == (0, 0):
        stats.failed.append(f"{inp.label}: no records found in the file")


def run_import(
    store: Store,
    path: Path,
    opts: ImportOptions | None = None,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> ImportStats:
    """Import every file under ``path``; returns the counts (never raises for bad input).

    ``should_stop`` is asked after each batch (the CLI's Ctrl-C handler sets it);
    when it says yes, the batch is stored, the position saved, and the run ends with
    ``stats.interrupted`` set. Input problems land in ``stats.failed`` as one-line
    reasons; only a store failure (:class:`~pipelines.store.StoreError`) raises.
    """
    opts = opts or ImportOptions()
    progress = progress or NoProgress()
    stats = ImportStats()
    started = time.perf_counter()
    now = datetime.now(UTC)
    try:
        files, skipped = importers.plan(path, opts.fmt)
    except InputError as exc:
        stats.failed.append(str(exc))
        return stats
    stats.skipped = [str(p) for p in skipped]
    if not files:
        stats.failed.append(
            f"{path}: no importable files (looked for .jsonl .ndjson .json .csv .tsv, CrisisLex folders)"
        )
    for i, inp in enumerate(files):
        if i and should_stop():  # between files too, not only between batches
            stats.interrupted = True
            break
        import_file(store, inp, opts, stats, should_stop=should_stop, progress=progress, now=now)
        stats.seconds = time.perf_counter() - started
        if stats.interrupted:
            break
    stats.seconds = time.perf_counter() - started
    return stats
