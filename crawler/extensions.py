"""End of a crawl: save each source's cursor and validators, report the outcome.

Runs on ``spider_closed``, after the item pipeline's final flush. State is saved only
for a source whose posts were all stored: otherwise the old validators stay, the next
run gets full responses again, and nothing is lost to a failed write. The summary
(one JSON object per source) goes to the file named by ``VIGIL_SUMMARY_FILE``, which
the scheduler reads into ``crawl_runs``; a manual ``scrapy crawl`` logs it instead.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.logformatter import LogFormatter

from crawler.runtime import get_store

log = logging.getLogger(__name__)


class CrawlReport:
    """Scrapy extension (``EXTENSIONS``) writing state and the run summary."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.summary_file = crawler.settings.get("VIGIL_SUMMARY_FILE")

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Any, reason: str) -> None:
        runs = getattr(spider, "runs", {}) or {}
        now = datetime.now(UTC)
        out: dict[str, Any] = {}
        for name, run in runs.items():
            if reason not in ("finished",) and not run.errors:
                run.error(f"crawl stopped early: {reason}")
            if not run.store_failed and name in getattr(spider, "sources", {}):
                try:
                    get_store().sources.update_state(
                        name,
                        cursor=run.cursor,
                        validators=list(run.validators.values()),
                        last_fetch=now,
                    )
                except Exception as exc:  # the run is still reported, with this error
                    run.error(f"could not save crawl state: {str(exc)[:200]}")
            out[name] = run.summary()
            log.info(
                "source %s: %s, %d items, %d new, %d existing, %d dropped, %d not modified, %d errors%s",
                name,
                out[name]["status"],
                run.items,
                run.inserted,
                run.existing,
                run.dropped,
                run.not_modified,
                run.error_count,
                f" (first: {run.errors[0]})" if run.errors else "",
            )
        if self.summary_file:
            path = Path(self.summary_file)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"reason": reason, "sources": out}, default=str))
            tmp.replace(path)


class QuietLogFormatter(LogFormatter):
    """A dropped item is one INFO line with its reason (it is in ``quarantine`` in full)."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> dict[str, Any]:
        return {"level": logging.INFO, "msg": "Dropped: %(exception)s", "args": {"exception": exception}}
