"""Scrapy settings of Vigil's crawler: polite by default.

Every value can be overridden per run with ``-s NAME=VALUE`` (tests shorten waits).
The User-Agent names Vigil and the operator's contact URL (``VIGIL_CRAWL_CONTACT``),
so a site owner can reach whoever runs the crawl.
"""

from __future__ import annotations

from pipelines import __version__
from pipelines.core.config import get_settings

_cfg = get_settings()

BOT_NAME = "vigil"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = f"Vigil/{__version__} (+{_cfg.vigil_crawl_contact}; self-hosted news monitoring)"
ROBOTSTXT_OBEY = True

# Politeness: few parallel requests per host, adaptive delay, short timeouts.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DNS_TIMEOUT = 10

# Retries: few, spaced out, Retry-After honoured up to a cap (see crawler.middlewares).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
VIGIL_RETRY_AFTER_MAX = float(_cfg.vigil_crawl_retry_after_max_s)
VIGIL_BACKOFF_BASE = 1.0
VIGIL_BACKOFF_MAX = 30.0

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.SharedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.PoliteRetryMiddleware": 550,
    "crawler.middlewares.ConditionalRequestMiddleware": 560,
    "crawler.middlewares.SourceAuthMiddleware": 570,
}
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.ErrorAccountingMiddleware": 45,
}
ITEM_PIPELINES = {
    "crawler.pipelines.CleanPipeline": 100,
    "crawler.pipelines.ValidatePipeline": 200,
    "crawler.pipelines.StorePipeline": 300,
}
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "crawler.extensions.CrawlReport": 500,
}
VIGIL_STORE_BATCH = 200
VIGIL_SUMMARY_FILE = None

COOKIES_ENABLED = False
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawler.extensions.QuietLogFormatter"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FEED_EXPORT_ENCODING = "utf-8"
