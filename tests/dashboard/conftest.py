"""A search-index reader over the test store (the read side answers through the index)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.read.queries import Reader
from pipelines.search.index import SearchIndex, index_path
from pipelines.store import Store
from tests.ui.conftest import reindex


@pytest.fixture()
def make_reader(store: Store, tmp_path: Path) -> Callable[[], Reader]:
    """Call after seeding: rebuilds the index of ``tmp_path/vigil-data`` and opens a reader."""
    data_dir = tmp_path / "vigil-data"
    data_dir.mkdir(exist_ok=True)

    def build() -> Reader:
        reindex(store, data_dir)
        return Reader(store, SearchIndex.open(index_path(data_dir)))

    return build
