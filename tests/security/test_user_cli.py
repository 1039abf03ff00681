"""``python -m pipelines user ...``: the commands in-process (typer's runner) against the
test database, then as a user runs them: a real subprocess, and a pseudo-terminal for
the hidden password prompt (getpass, asked twice)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import sys
import termios
import time

from typer.testing import CliRunner

from pipelines.cli import load_commands
from pipelines.core.config import get_settings
from pipelines.store import Store
from tests.conftest import REPO

PASSWORD = "a long enough password"


def _env(store: Store, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_USER_PASSWORD"}
    env.update(MONGODB_URI=store.uri, MONGODB_DB=store.db.name, **extra)
    return env


def run(runner: CliRunner, *args: str, stdin: str | None = None, **env: str):
    if env:
        get_settings.cache_clear()
    res = runner.invoke(load_commands(), ["user", *args], input=stdin, env=env or None)
    get_settings.cache_clear()
    return res


def cli(store: Store, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "user", *args],
        cwd=REPO,
        env=_env(store, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def test_add_list_role_disable_reset(store: Store, runner: CliRunner):
    r = run(runner, "add", "Root", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert "created root (admin)" in r.output
    user = store.users.get("root")
    assert user["role"] == "admin" and user["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in str(user)

    r = run(runner, "add", "ann", "--role", "analyst", VIGIL_USER_PASSWORD=PASSWORD + "!")
    assert r.exit_code == 0, r.output

    r = run(runner, "add", "root", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 1 and "error: a user named 'root' already exists" in r.output

    r = run(runner, "set-role", "ann", "viewer")
    assert r.exit_code == 0 and store.users.get("ann")["role"] == "viewer"
    r = run(runner, "set-role", "ann", "superuser")
    assert r.exit_code == 1 and "unknown role 'superuser'" in r.output

    r = run(runner, "disable", "root")
    assert r.exit_code == 1 and "last active admin" in r.output
    r = run(runner, "disable", "ann")
    assert r.exit_code == 0 and store.users.get("ann")["active"] is False

    store.users.update("root", {"totp_secret": "JBSWY3DPEHPK3PXP", "recovery_codes": ["h"]})
    r = run(runner, "reset-totp", "root")
    assert r.exit_code == 0 and store.users.get("root")["totp_secret"] is None

    r = run(runner, "list")
    lines = r.output.splitlines()
    assert lines[0].split()[:4] == ["username", "role", "active", "2fa"]
    assert lines[1].split()[:4] == ["ann", "viewer", "no", "no"]
    assert lines[2].split()[:4] == ["root", "admin", "yes", "no"]
    assert "$argon2" not in r.output

    actions = [(e["actor"].split(":")[0], e["action"], e["target"]) for e in reversed(store.audit.events())]
    assert actions == [
        ("cli", "user.add", "root"),
        ("cli", "user.add", "ann"),
        ("cli", "user.role", "ann"),
        ("cli", "user.disable", "ann"),
        ("cli", "user.totp_reset", "root"),
    ]


def test_no_password_no_user(store: Store, runner: CliRunner):
    # No terminal, no --password-stdin, no VIGIL_USER_PASSWORD: refused, nothing created.
    r = run(runner, "add", "root", "--admin")
    assert r.exit_code == 1
    assert "no password" in r.output and store.users.get("root") is None
    r = run(runner, "add", "root", "--admin", "--password-stdin", stdin="short\n")
    assert r.exit_code == 1 and "at least 12 characters" in r.output
    r = run(runner, "add", "аdmin", "--admin", "--password-stdin", stdin=PASSWORD + "\n")  # Cyrillic а
    assert r.exit_code == 1 and "invalid username" in r.output
    assert store.users.count() == 0


def _pty_run(store: Store, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (its controlling tty), answering each prompt."""
    master, slave = os.openpty()

    def _ctty() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "user", *args],
        cwd=REPO,
        env=_env(store),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=_ctty,
        close_fds=True,
    )
    os.close(slave)
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            asked = out.count(b"assword")  # "Password for ...:", "Same password again:"
            if pending and asked > len(answers) - len(pending) and out.rstrip().endswith(b":"):
                os.write(master, pending.pop(0).encode() + b"\n")
        elif proc.poll() is not None:
            break
    code = proc.wait(30)
    with contextlib.suppress(OSError):
        os.close(master)
    return code, out.decode(errors="replace")


def test_password_prompted_twice_on_a_terminal(store: Store):
    code, out = _pty_run(store, ["add", "root", "--admin"], [PASSWORD, PASSWORD + "x"])
    assert code == 1 and "the two passwords differ" in out, out
    assert store.users.get("root") is None
    code, out = _pty_run(store, ["add", "root", "--admin"], [PASSWORD, PASSWORD])
    assert code == 0 and "created root (admin)" in out, out
    assert out.count("assword") == 2 and PASSWORD not in out  # prompted twice, never echoed


def test_real_entry_point(store: Store):
    r = cli(store, "add", "root", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = cli(store, "list")
    assert r.returncode == 0 and r.stdout.splitlines()[1].split()[:2] == ["root", "admin"]
