"""Shared fixtures: a real SecantusDB server per test session, a fresh database per test.

The server is started through :class:`pipelines.store.EmbeddedServer`, the same code
``make run`` uses, on a free port with ``:memory:`` storage.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.store import EmbeddedServer, Store

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VIGIL_SHARED_DIR", REPO.parent / "shared"))
"""``../shared`` beside the checkout (CI puts it there); tests needing it skip without it."""

# Numba's on-disk cache keeps STUMPY's ~30 s compilation out of all but the first run.
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def db_server() -> Iterator[EmbeddedServer]:
    """One real SecantusDB for the whole session."""
    server = EmbeddedServer(":memory:", free_port())
    server.ensure_running()
    yield server
    server.stop()


@pytest.fixture()
def store(db_server: EmbeddedServer) -> Iterator[Store]:
    """A store on a database of its own, schema ensured, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    s = Store(db_server.uri, name)
    s.schema.ensure()
    yield s
    s.client.drop_database(name)
    s.client.close()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}")
    return SHARED


@pytest.fixture()
def pipelines_cli(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Run ``python -m pipelines ARGS`` in process against this test's database.

    ``MONGODB_URI``/``MONGODB_DB`` point at the test database and ``VIGIL_DATA_DIR`` at a
    temporary folder; the settings cache is cleared before and after. Keyword arguments go
    to ``CliRunner.invoke`` (e.g. ``catch_exceptions=False``).
    """
    from typer.testing import CliRunner

    from pipelines.cli import load_commands
    from pipelines.core.config import get_settings

    for k, v in {
        "MONGODB_URI": store.uri,
        "MONGODB_DB": store.db.name,
        "VIGIL_DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    app, runner = load_commands(), CliRunner()
    yield lambda *args, **kw: runner.invoke(app, list(args), **kw)
    get_settings.cache_clear()
