"""Every spider module imports and is registered under its source kind."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.spiders import SPIDER_TYPES, spider_class
from crawler.spiders.base import SourceSpider
from pipelines.ingest.sources import KINDS

REPO = Path(__file__).resolve().parents[2]


def test_registry_matches_the_source_kinds() -> None:
    assert tuple(SPIDER_TYPES) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_every_spider_module_imports_and_names_its_kind(kind: str) -> None:
    importlib.import_module(SPIDER_TYPES[kind])
    cls = spider_class(kind)
    assert issubclass(cls, SourceSpider)
    assert cls.name == kind


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no spider for source kind 'twitter'"):
        spider_class("twitter")


def test_scrapy_finds_exactly_the_registered_spiders() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == sorted(KINDS)
    assert "several spiders with the same name" not in out.stderr


def test_pipelines_never_imports_scrapy() -> None:
    code = (
        "import sys, pipelines.ingest.sources, pipelines.ingest.crawl_scheduler, pipelines.cli.crawl_cmd;"
        "print('scrapy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
