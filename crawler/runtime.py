"""The crawl process's link to Vigil: one store connection and the source definitions.

A ``scrapy crawl`` process reads ``MONGODB_URI`` / ``MONGODB_DB`` like every Vigil
process (the scheduler passes the running store's URI). The connection is opened
once and shared by the spider, the middlewares and the item pipeline.
"""

from __future__ import annotations

import atexit
import threading

from pipelines.core.config import get_settings
from pipelines.ingest.sources import InvalidSource, SourceDef, validate_source
from pipelines.store import Store

_lock = threading.Lock()
_store: Store | None = None


def get_store() -> Store:
    """The process-wide store (connects on first use, closed at exit)."""
    global _store
    with _lock:
        if _store is None:
            _store = Store.open(get_settings(), ensure_schema=False)
            atexit.register(_store.close)
        return _store


def load_sources(names: list[str], kind: str) -> tuple[dict[str, SourceDef], dict[str, dict]]:
    """Definitions and saved ``state`` of the named sources, which must be of ``kind``.

    Raises :class:`InvalidSource` naming the problem (unknown name, other kind, a
    stored definition that no longer validates).
    """
    store = get_store()
    defs: dict[str, SourceDef] = {}
    states: dict[str, dict] = {}
    for name in names:
        doc = store.sources.get(name)
        if doc is None:
            raise InvalidSource(f"unknown source {name!r} (see: python -m pipelines sources list)")
        src = validate_source(doc)
        if src.kind != kind:
            raise InvalidSource(
                f"source {name!r} is of kind {src.kind!r}; run it with `scrapy crawl {src.kind}`"
            )
        defs[name] = src
        states[name] = doc.get("state") or {}
    return defs, states
