"""The real stack (`python -m pipelines up`, what `make run` runs) on a temporary data
folder, and headless Debian Chromium driven by Playwright against it.

Screenshots go to ``tests/artifacts/`` (ignored by git) so a person can look at them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.store import Store, local_uri
from tests.conftest import REPO, free_port

ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Stack:
    """A running ``pipelines up`` process group."""

    proc: subprocess.Popen[bytes]
    url: str
    db_uri: str
    data_dir: Path
    log: Path

    def store(self) -> Store:
        return Store(self.db_uri, "vigil")


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`pipelines up` exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s:\n{log.read_text()[-3000:]}")


def group_pids(pgid: int) -> list[int]:
    """Live processes of a process group (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def start_stack(data_dir: Path, **env_extra: str) -> Stack:
    ui_port, db_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "MONGODB_DB")}
    env.update(
        VIGIL_DATA_DIR=str(data_dir),
        VIGIL_DB_PORT=str(db_port),
        VIGIL_UI_PORT=str(ui_port),
        PYTHONUNBUFFERED="1",
        **env_extra,
    )
    log = data_dir / "up.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "up"],
        cwd=REPO,
        env=env,
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal would give `make run`
    )
    url = f"http://127.0.0.1:{ui_port}"
    _wait_http(f"{url}/_stcore/health", proc, log)
    return Stack(proc, url, local_uri(db_port), data_dir, log)


def stop_stack(stack: Stack, timeout_s: float = 30) -> list[int]:
    """Ctrl-C the whole group as a terminal would; return pids still alive after it."""
    pgid = stack.proc.pid
    try:
        os.killpg(pgid, signal.SIGINT)
    except ProcessLookupError:
        return []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and group_pids(pgid):
        time.sleep(0.3)
    left = group_pids(pgid)
    for pid in left:  # never leave anything behind a failed test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    stack.proc.wait(10)
    return left


# ---------------------------------------------------------------------- logging in

E2E_PASSWORD = "e2e password for the browser tests"


@dataclass
class Account:
    """A user created through the CLI; ``secret`` is learnt at enrolment."""

    name: str
    role: str
    secret: str | None = None
    last_step: int = -1


_ACCOUNTS: dict[tuple[str, str], Account] = {}


def create_user(stack: Stack, name: str, role: str) -> Account:
    """``python -m pipelines user add`` against the stack's store, as an operator would."""
    key = (stack.db_uri, name)
    if key in _ACCOUNTS:
        return _ACCOUNTS[key]
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_USER_PASSWORD"}
    env.update(MONGODB_URI=stack.db_uri, MONGODB_DB="vigil")
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "user", "add", name, "--role", role, "--password-stdin"],
        cwd=REPO,
        env=env,
        input=E2E_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    _ACCOUNTS[key] = Account(name, role)
    return _ACCOUNTS[key]


def _fresh_code(account: Account) -> str:
    """A TOTP code of a step not used yet (codes are single-use: wait for the next step)."""
    import pyotp

    assert account.secret is not None
    totp = pyotp.TOTP(account.secret)
    while totp.timecode(datetime.now(UTC)) <= account.last_step:
        time.sleep(0.5)
    now = datetime.now(UTC)
    account.last_step = totp.timecode(now)
    return totp.at(now)


def login(page, stack: Stack, name: str = "e2e-admin", role: str = "admin", path: str = "") -> Account:
    """Open ``path`` and log in through the real form: password, then TOTP (enrolling at the
    first login). Sessions are per tab and page load, so every ``goto`` needs a new login."""
    account = create_user(stack, name, role)
    page.goto(f"{stack.url}{path}", wait_until="networkidle")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if account.secret is None:
        page.get_by_text("Set up two-factor login").wait_for(timeout=60_000)
        account.secret = page.get_by_test_id("stCode").first.inner_text().strip()
        page.get_by_label("6-digit code").fill(_fresh_code(account))
        page.get_by_role("button", name="Confirm").click()
        page.get_by_role("button", name="I have saved them").click(timeout=60_000)
    else:
        field = page.get_by_label("6-digit code or a recovery code")
        field.wait_for(timeout=60_000)
        field.fill(_fresh_code(account))
        page.get_by_role("button", name="Verify").click()
    # .first: for a moment after login two lines can say it (the sidebar's and the page's).
    page.get_by_text(f"Signed in as {name}").first.wait_for(timeout=60_000)
    return account


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("vigil-data"))
    yield s
    stop_stack(s)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
