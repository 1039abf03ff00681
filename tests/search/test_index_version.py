"""An index of an older schema version is recreated and refilled, never half-used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tantivy
from tantivy import Query

from pipelines.search.aggregate import all_ids, count
from pipelines.search.index import SearchIndex, SearchIndexCorrupt, index_path, stored_version
from pipelines.search.indexer import Indexer, read_position
from pipelines.search.schema import SCHEMA_VERSION
from pipelines.store import Store
from tests.search.conftest import make_posts


def _old_index(path: Path) -> None:
    """A version-1 index as Vigil wrote it: ``words`` pre-tokenized raw, one document, a position."""
    path.mkdir(parents=True)
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, fast=True, tokenizer_name="raw")
    b.add_text_field("words", tokenizer_name="raw", index_option="position")
    index = tantivy.Index(b.build(), path=str(path))
    writer = index.writer(15_000_000, 1)
    writer.add_document(tantivy.Document(id="old:1"))
    writer.commit()
    writer.wait_merging_threads()
    (path / "vigil-version.json").write_text(json.dumps({"schema_version": 1}))
    (path / "vigil-position.json").write_text(json.dumps({"seq": 99}))


def test_an_old_version_is_refused_by_readers_and_rebuilt_by_the_indexer(
    store: Store, tmp_path: Path
) -> None:
    path = index_path(tmp_path)
    _old_index(path)
    with pytest.raises(SearchIndexCorrupt, match="schema version 1.*index --rebuild"):
        SearchIndex.open(path)
    store.posts.insert(make_posts(40))
    index = SearchIndex.open_or_create(path)
    assert stored_version(path) == SCHEMA_VERSION
    assert read_position(path) is None  # so `index --loop` rebuilds from MongoDB
    assert count(index.searcher(), Query.all_query()) == 0
    indexer = Indexer(store, index)
    assert indexer.rebuild() == 40
    indexer.close()
    assert all_ids(SearchIndex.open(path).searcher(), Query.all_query()) == store.posts.all_ids()


def test_a_missing_version_file_means_recreate(tmp_path: Path) -> None:
    path = index_path(tmp_path)
    _old_index(path)
    (path / "vigil-version.json").unlink()
    assert stored_version(path) is None
    index = SearchIndex.open_or_create(path)
    assert count(index.searcher(), Query.all_query()) == 0 and stored_version(path) == SCHEMA_VERSION
