"""Database exposure: the embedded server listens on 127.0.0.1 only, and credentials in
``MONGODB_URI`` reach a real SecantusDB started with ``--auth`` exactly as given."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from pipelines.core.config import Settings
from pipelines.store import EmbeddedServer, Store, StoreError, local_uri, ping
from pipelines.supervisor import process_specs
from tests.conftest import free_port


def _listening(port: int) -> list[str]:
    """Local addresses with a socket in LISTEN state on ``port`` (from /proc/net/tcp*)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                addr, hexport = fields[1].split(":")
                if int(hexport, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                    found.append(addr)
    return found


def _other_ipv4() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for UDP connect
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_embedded_server_listens_on_loopback_only(db_server: EmbeddedServer):
    addrs = _listening(db_server.port)
    assert addrs == ["0100007F"], addrs  # 127.0.0.1, and nothing else (no 0.0.0.0, no ::)
    other = _other_ipv4()
    if other is not None:
        with socket.socket() as s, pytest.raises(OSError):
            s.settimeout(2)
            s.connect((other, db_server.port))
    assert db_server.uri == local_uri(db_server.port) and "127.0.0.1" in db_server.uri


def test_dashboard_binds_loopback_by_default():
    spec = next(s for s in process_specs(Settings()) if s.name == "dashboard")
    assert spec.argv[spec.argv.index("--server.address") + 1] == "127.0.0.1"


# ---------------------------------------------------------------- SecantusDB --auth


def _start(path: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)]
        + ["--storage-path", str(path), "--sync-on-commit", "--log-level", "WARNING", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import time

    deadline = time.monotonic() + 60
    while not ping(local_uri(port), 300):
        assert proc.poll() is None and time.monotonic() < deadline, "secantus did not start"
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """SecantusDB with a provisioned user, restarted with ``--auth`` (the documented steps)."""
    path, port = tmp_path_factory.mktemp("authdb"), free_port()
    proc = _start(path, port)
    try:
        with MongoClient(local_uri(port)) as c:
            c.admin.command(
                "createUser", "vigil", pwd="s3cret-pa55", roles=[{"role": "readWrite", "db": "vigil"}]
            )
    finally:
        _stop(proc)
    proc = _start(path, port, "--auth")
    yield port
    _stop(proc)


def _uri(port: int, cred: str = "") -> str:
    return f"mongodb://{cred}127.0.0.1:{port}/?directConnection=true&authSource=admin"


def test_credentials_in_mongodb_uri_are_used_as_given(auth_server: int):
    uri = _uri(auth_server, "vigil:s3cret-pa55@")
    store = Store.open(Settings(mongodb_uri=uri, mongodb_db="vigil"))
    try:
        assert store.server is None and store.uri == uri  # no embedded server, URI untouched
        assert store.schema.version() is not None
        store.users.insert({"_id": "probe", "role": "viewer"})
        assert store.users.get("probe")["role"] == "viewer"
    finally:
        store.close()


def test_auth_server_refuses_missing_or_wrong_credentials(auth_server: int):
    with pytest.raises(StoreError, match="requires authentication|Unauthorized") as none:
        Store.open(Settings(mongodb_uri=_uri(auth_server), mongodb_db="vigil"))
    assert "cannot prepare the database" in str(none.value)
    with pytest.raises(StoreError, match="authentication failed") as wrong:
        Store.open(Settings(mongodb_uri=_uri(auth_server, "vigil:not-it@"), mongodb_db="vigil"))
    # The error names the server but never the password.
    assert "not-it" not in str(wrong.value) and "***@127.0.0.1" in str(wrong.value)
