"""Open or create the search index in ``VIGIL_DATA_DIR``, with errors that say how to rebuild.

The index is derived from MongoDB and can always be rebuilt, so every problem with it
(missing, corrupt, of another schema version, locked by another writer) is a
:class:`SearchIndexError` whose message ends with the command that fixes it. Nothing
here touches MongoDB. One process writes (the indexer); any number of readers open
:class:`SearchIndex` and call :meth:`SearchIndex.searcher`, which reloads so they see
the indexer's latest commit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import tantivy

from pipelines.search.schema import SCHEMA_VERSION, build_schema

INDEX_DIRNAME = "search-index"
POSITION_FILENAME = "vigil-position.json"
"""The indexer's stored position (:mod:`pipelines.search.indexer`); an empty index has none."""
REBUILD_HINT = "rebuild it with: python -m pipelines index --rebuild"
WRITER_HEAP_BYTES = 64_000_000


class SearchIndexError(RuntimeError):
    """The index cannot be used; the message names the problem and the rebuild command."""


class SearchIndexMissing(SearchIndexError):
    """No index yet (build it with ``index --rebuild``, or start ``index --loop``)."""


class SearchIndexCorrupt(SearchIndexError):
    """Unreadable files or another schema version."""


class SearchIndexLocked(SearchIndexError):
    """Another process holds the writer lock (only one indexer may run)."""


def index_path(data_dir: Path | str) -> Path:
    """Where the index of a data directory lives."""
    return Path(data_dir) / INDEX_DIRNAME


def _version_file(path: Path) -> Path:
    return path / "vigil-version.json"


def stored_version(path: Path | str) -> int | None:
    """The schema version an index was created with; ``None`` when unreadable or absent."""
    try:
        version = json.loads(_version_file(Path(path)).read_text()).get("schema_version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, int) else None


class SearchIndex:
    """An open index: ``searcher()`` for readers, ``writer()`` for the one indexer."""

    def __init__(self, path: Path, index: tantivy.Index) -> None:
        self.path = path
        self.index = index
        self.schema = index.schema

    @classmethod
    def open(cls, path: Path | str) -> SearchIndex:
        """Open an existing index; :class:`SearchIndexError` when missing or unreadable."""
        path = Path(path)
        if not (path / "meta.json").is_file():
            raise SearchIndexMissing(
                f"no search index at {path}; build it with: python -m pipelines index --rebuild"
            )
        try:
            meta = json.loads(_version_file(path).read_text())
            if meta.get("schema_version") != SCHEMA_VERSION:
                raise SearchIndexCorrupt(
                    f"search index at {path} has schema version {meta.get('schema_version')}, "
                    f"this Vigil needs {SCHEMA_VERSION}; {REBUILD_HINT}"
                )
            index = tantivy.Index(build_schema(), path=str(path), reuse=True)
            index.searcher()
        except SearchIndexError:
            raise
        except (OSError, ValueError, RuntimeError) as exc:
            raise SearchIndexCorrupt(f"search index at {path} is unreadable ({exc}); {REBUILD_HINT}") from exc
        return cls(path, index)

    @classmethod
    def create(cls, path: Path | str) -> SearchIndex:
        """Create an empty index at ``path`` (its parent must exist or be creatable).

        An index already there is replaced (its files are collected by the next writer);
        its stored position is removed, since positions describe what an index holds, and
        so is the term rollup. The term-id vocabulary stays (append-only: ids keep their
        terms; the indexer replaces it only when it is unusable, :mod:`pipelines.search.termids`).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / POSITION_FILENAME).unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):  # the term rollup describes the old index
            (path / ("vigil-terms.sqlite" + suffix)).unlink(missing_ok=True)
        try:
            index = tantivy.Index(build_schema(), path=str(path), reuse=False)
        except (OSError, ValueError, RuntimeError) as exc:
            raise SearchIndexError(f"cannot create a search index at {path}: {exc}") from exc
        _version_file(path).write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
        return cls(path, index)

    @classmethod
    def open_or_create(cls, path: Path | str) -> SearchIndex:
        """The indexer's way in: open, or create when there is none yet.

        An index of another schema version (or with no readable version file, as after a
        kill during creation) is recreated empty without its position, so the indexer
        refills it from MongoDB: the index is derived, and an upgrade must not need a
        manual step. Other problems (unreadable files, a lock) still raise.
        """
        path = Path(path)
        if not (path / "meta.json").is_file() or stored_version(path) != SCHEMA_VERSION:
            return cls.create(path)
        return cls.open(path)

    def searcher(self) -> tantivy.Searcher:
        """A searcher on the latest commit (reloads: sees what the indexer committed)."""
        try:
            self.index.reload()
            return self.index.searcher()
        except (OSError, ValueError, RuntimeError) as exc:
            raise SearchIndexCorrupt(
                f"search index at {self.path} is unreadable ({exc}); {REBUILD_HINT}"
            ) from exc

    def generation(self) -> str:
        """An id of the index's latest commit: a hash of its ``meta.json``.

        Why: a reader's result cached under it is exact until the next commit (every
        commit, merge or rebuild rewrites ``meta.json`` atomically: new opstamp, segment
        ids), so a page can keep a result for as long as the index is unchanged instead of
        recounting every 30 s, and never shows a result the index no longer gives. A few
        KB read per call (~0.1 ms at 1M posts).
        """
        try:
            return hashlib.blake2b((self.path / "meta.json").read_bytes(), digest_size=16).hexdigest()
        except OSError as exc:
            raise SearchIndexCorrupt(
                f"search index at {self.path} is unreadable ({exc}); {REBUILD_HINT}"
            ) from exc

    def writer(self) -> tantivy.IndexWriter:
        """The single writer; :class:`SearchIndexLocked` when another process holds it."""
        try:
            return self.index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        except (OSError, ValueError, RuntimeError) as exc:
            if "lock" in str(exc).lower():
                raise SearchIndexLocked(
                    f"search index at {self.path} is locked by another indexer ({exc}); stop it first, "
                    "or if none runs remove the .tantivy-writer.lock file and "
                    "rebuild with: python -m pipelines index --rebuild"
                ) from exc
            raise SearchIndexCorrupt(
                f"search index at {self.path} cannot be written ({exc}); {REBUILD_HINT}"
            ) from exc
