"""The embedded SecantusDB server: started as a child process, reused when it already answers.

With ``MONGODB_URI`` set, Vigil uses that server as given (credentials included).
Unset, :class:`EmbeddedServer` runs the embedded default, SecantusDB, as a child
process bound to 127.0.0.1 with ``--sync-on-commit`` (without it a crash loses
acknowledged writes). Before starting one it pings the port: a server that already
answers (another Vigil process on the same data folder, or a Streamlit rerun) is
reused, so there is one server per data folder.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from pipelines.store.common import StoreError

log = logging.getLogger(__name__)


def ping(uri: str, timeout_ms: int = 500) -> bool:
    """True when a MongoDB-wire server answers ``ping`` at ``uri`` within the timeout."""
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def local_uri(port: int, host: str = "127.0.0.1") -> str:
    """Connection string of an embedded server on this machine."""
    return f"mongodb://{host}:{port}/?directConnection=true"


class EmbeddedServer:
    """SecantusDB as a child process: one per data folder, reused when already up.

    Parameters
    ----------
    storage_path:
        WiredTiger home, or ``":memory:"`` for a throw-away server (tests).
    port:
        TCP port on 127.0.0.1; the server never binds another interface.
    """

    def __init__(self, storage_path: Path | str, port: int, host: str = "127.0.0.1") -> None:
        self.storage_path = str(storage_path)
        self.port = port
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    @property
    def uri(self) -> str:
        return local_uri(self.port, self.host)

    @property
    def owned(self) -> bool:
        """True when this object started the server (and so must stop it)."""
        return self.process is not None

    def _pidfile(self) -> Path | None:
        if self.storage_path == ":memory:":
            return None
        return Path(self.storage_path) / "vigil-server.json"

    def ensure_running(self, timeout_s: float = 60.0) -> str:
        """Reuse a server answering on the port, else start one; returns the URI."""
        if ping(self.uri):
            log.info("embedded store already answering on %s: reusing it", self.uri)
            return self.uri
        pidfile = self._pidfile()
        if pidfile is not None:
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
            self._log_file = open(Path(self.storage_path) / "secantus.log", "ab")  # noqa: SIM115
        cmd = [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--storage-path",
            self.storage_path,
            "--sync-on-commit",
            "--log-level",
            "WARNING",
        ]
        log.info("starting embedded store: %s", " ".join(cmd))
        self.process = subprocess.Popen(
            cmd,
            stdout=self._log_file or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                # Lost a race with another process starting the same server: reuse it.
                if ping(self.uri, 2000):
                    return self.uri
                raise StoreError(
                    f"embedded SecantusDB exited with code {code} on port {self.port} "
                    f"(storage {self.storage_path}); see secantus.log there, or set MONGODB_URI"
                )
            if ping(self.uri, 300):
                if pidfile is not None:
                    pidfile.write_text(json.dumps({"pid": self.process.pid, "port": self.port}))
                return self.uri
            time.sleep(0.1)
        self.stop()
        raise StoreError(f"embedded SecantusDB did not answer on {self.uri} within {timeout_s:.0f} s")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the server if this object started it (SIGINT, then SIGTERM, then SIGKILL)."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            for sig, wait in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                proc.kill()
                proc.wait(5)
        pidfile = self._pidfile()
        if pidfile is not None:
            with contextlib.suppress(OSError):
                pidfile.unlink()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
