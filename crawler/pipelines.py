"""Item pipeline: clean -> validate -> store (Scrapy ``ITEM_PIPELINES``, in that order).

* :class:`CleanPipeline` applies the pure steps of :mod:`crawler.cleaning`.
* :class:`ValidatePipeline` builds the post with :func:`pipelines.core.post.build_post`; a
  rejected item is written to ``quarantine`` (kind ``crawl``) with its reason and raw
  payload, then dropped with that reason. Items without a date get the spider's
  fallback date and ``meta.ts_estimated: true``.
* :class:`StorePipeline` upserts posts in batches (``$setOnInsert`` by ``_id``, so a
  second crawl inserts nothing) and flags cross-posts (same ``content_hash`` already
  seen from another source), counting everything per source.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from scrapy.exceptions import DropItem

from crawler.cleaning import clean_item
from crawler.items import PostItem, RejectedItem
from crawler.runtime import get_store
from pipelines.core.post import InvalidPost, build_post
from pipelines.store import StoreError

log = logging.getLogger(__name__)


def _run(crawler: Any, source: str) -> Any:
    return (getattr(crawler.spider, "runs", None) or {}).get(source)


def _raw_of(item: PostItem) -> Any:
    raw = item.raw if item.raw is not None else {k: v for k, v in asdict(item).items() if k != "raw"}
    return raw


class _Base:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        return cls(crawler)


class CleanPipeline(_Base):
    """HTML to text, entities, control characters, whitespace (see :mod:`crawler.cleaning`)."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PostItem):
            return clean_item(item)
        return item


class ValidatePipeline(_Base):
    """:func:`build_post` or quarantine + ``DropItem`` with the reason."""

    def open_spider(self) -> None:
        self.store = get_store()

    def _reject(self, source: str, reason: str, raw: Any, origin: str | None) -> None:
        run = _run(self.crawler, source)
        if run is not None:
            run.dropped += 1
        try:
            self.store.quarantine.add("crawl", reason, raw, origin=origin, source=source)
        except StoreError as exc:
            log.error("could not quarantine a rejected item of %s: %s", source, exc)
            if run is not None:
                run.store_failed = True
                run.error(str(exc))
        raise DropItem(f"{source}: {reason}")

    def process_item(self, item: Any) -> Any:
        if isinstance(item, RejectedItem):
            self._reject(item.source, item.reason, item.raw, item.origin)
        if not isinstance(item, PostItem):
            return item
        meta = dict(item.meta)
        ts = item.ts
        if (ts is None or ts == "") and item.ts_fallback is not None:
            ts = item.ts_fallback
            meta["ts_estimated"] = True
        try:
            post = build_post(
                source=item.source,
                native_id=item.native_id,
                ts=ts,
                text=item.text,
                title=item.title,
                url=item.url,
                author=item.author,
                lang=item.lang,
                lat=item.lat,
                lon=item.lon,
                engagement=item.engagement,
                meta=meta,
            )
        except InvalidPost as exc:
            origin = f"{item.source}:{item.native_id}"
            self._reject(item.source, str(exc), _raw_of(item), origin)
        return post.to_doc()


class StorePipeline(_Base):
    """Batched idempotent inserts off the reactor thread, cross-post flags, per-source counts.

    A batch is written in a worker thread (``asyncio.to_thread``) so that downloading and
    parsing go on while MongoDB works; counts are updated back on the reactor thread.
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.batch_size = crawler.settings.getint("VIGIL_STORE_BATCH", 200)
        self.buffer: list[dict[str, Any]] = []

    def open_spider(self) -> None:
        self.store = get_store()

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, dict) and "_id" in item:
            self.buffer.append(item)
            run = _run(self.crawler, item["source"])
            if run is not None:
                run.advance("newest_ts", item["ts"])
            if len(self.buffer) >= self.batch_size:
                await self.flush()
        return item

    def _write(self, docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str], set[str]]:
        # One document per _id per batch (a feed may list an entry twice).
        unique = list({d["_id"]: d for d in docs}.values())
        res = self.store.posts.insert_new(unique)
        new_ids = set(res.inserted_ids or [])
        crossed = set(self.store.posts.mark_cross_posts([d for d in unique if d["_id"] in new_ids]))
        return unique, new_ids, crossed

    async def flush(self) -> None:
        docs, self.buffer = self.buffer, []
        if not docs:
            return
        try:
            unique, new_ids, crossed = await asyncio.to_thread(self._write, docs)
        except Exception as exc:  # any storage failure fails the batch, and the run says so
            log.error("storing %d posts failed: %s", len(docs), exc)
            for name in {d["source"] for d in docs}:
                run = _run(self.crawler, name)
                if run is not None:
                    run.store_failed = True
                    run.error(f"storing posts failed: {str(exc)[:200]}")
            return
        for d in unique:
            run = _run(self.crawler, d["source"])
            if run is None:
                continue
            if d["_id"] in new_ids:
                run.inserted += 1
            else:
                run.existing += 1
            if d["_id"] in crossed:
                run.cross_posts += 1

    async def close_spider(self) -> None:
        await self.flush()
