"""Per-source accounting of one crawl: counts, errors, cursor and HTTP validators.

A crawl process may serve several sources of one kind; each gets a :class:`SourceRun`.
The spider, the middlewares and the item pipeline update it; at the end
:mod:`crawler.extensions` saves the cursor and validators on the source (only when
storage worked, so a failed write is retried next time) and writes the summary the
scheduler records in ``crawl_runs``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MAX_ERRORS = 20
"""Errors kept per run; the count keeps going (a dead host must not make a huge document)."""


@dataclass
class SourceRun:
    """What happened to one source during one crawl process."""

    name: str
    requests: int = 0
    responses: int = 0
    not_modified: int = 0
    items: int = 0
    inserted: int = 0
    existing: int = 0
    dropped: int = 0
    cross_posts: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    store_failed: bool = False
    cursor: dict[str, Any] = field(default_factory=dict)
    prev_validators: dict[str, dict[str, str]] = field(default_factory=dict)
    validators: dict[str, dict[str, str]] = field(default_factory=dict)

    def error(self, message: str) -> None:
        """Record one error (deduplicated, the first :data:`MAX_ERRORS` kept)."""
        self.error_count += 1
        if message not in self.errors and len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def advance(self, key: str, value: Any) -> None:
        """Move a cursor forward only (newest id or time seen)."""
        if value is None:
            return
        old = self.cursor.get(key)
        if old is None or _key(value) > _key(old):
            self.cursor[key] = value

    @property
    def status(self) -> str:
        """``ok``, ``partial`` (errors but something came through) or ``error``."""
        if not self.error_count and not self.store_failed:
            return "ok"
        if self.responses or self.items or self.not_modified:
            return "partial"
        return "error"

    def summary(self) -> dict[str, Any]:
        """The JSON-able outcome the scheduler stores in ``crawl_runs``."""
        out = asdict(self)
        for k in ("prev_validators", "validators", "cursor"):
            out.pop(k)
        out["status"] = self.status
        out["error"] = self.errors[0] if self.errors else None
        return out


def _key(value: Any) -> tuple[int, Any]:
    # Numeric ids (Mastodon's old integers, its snowflake strings, HN ids) compare as numbers.
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str) and value.isdigit():
        return (0, int(value))
    return (1, str(value))
