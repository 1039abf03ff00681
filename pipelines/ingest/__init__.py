"""Ingest: how posts enter the store (stage 1 of the flow).

- :mod:`pipelines.ingest.importers`        archive readers (JSONL, CSV, Pushshift, Twitter v2, CrisisLex)
- :mod:`pipelines.ingest.archive`          archive import: readers -> posts -> store, resumable
- :mod:`pipelines.ingest.sources`          crawl source definitions and their validation
- :mod:`pipelines.ingest.crawl_scheduler`  runs due crawls (the Scrapy crawler in ``crawler/``)
"""
