"""``python -m pipelines user ...``: create and manage dashboard users.

There is no default account and no default password: the first admin is created with
``python -m pipelines user add NAME --admin``. The password is prompted twice (hidden),
or, for automation, read from one line of standard input (``--password-stdin``) or
from ``VIGIL_USER_PASSWORD``. The new user sets up two-factor login at first login.
Every change is written to the audit log with the actor ``cli:<OS user>``.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from pipelines.cli import app, setup_logging
from pipelines.core.config import get_settings

if TYPE_CHECKING:
    from pipelines.auth import Auth

user_app = typer.Typer(help="Create and manage dashboard users (roles: admin, analyst, viewer).")
app.add_typer(user_app, name="user")

T = TypeVar("T")


def _fail(msg: str) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(1)


@contextmanager
def _auth() -> Iterator[Auth]:
    from pipelines.auth import Auth, AuthPolicy
    from pipelines.store import Store, StoreError

    settings = get_settings()
    setup_logging("WARNING")
    try:
        store = Store.open(settings)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    try:
        yield Auth(store, AuthPolicy.from_settings(settings))
    finally:
        store.close()


def _run(fn: Callable[[], T]) -> T:
    """Turn the expected errors into one-line messages and exit code 1."""
    from pipelines.auth import InvalidUsername, UserError, WeakPassword

    try:
        return fn()
    except (InvalidUsername, UserError, WeakPassword, ValueError) as exc:
        raise _fail(str(exc)) from exc


def _read_password(from_stdin: bool, username: str) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise _fail("--password-stdin given but standard input is empty")
        return line.rstrip("\r\n")
    env = get_settings().vigil_user_password
    if env is not None:
        return env.get_secret_value()
    if not sys.stdin.isatty():
        raise _fail("no password: run in a terminal, pass --password-stdin, or set VIGIL_USER_PASSWORD")
    first = getpass.getpass(f"Password for {username}: ")
    second = getpass.getpass("Same password again: ")
    if first != second:
        raise _fail("the two passwords differ; nothing was changed")
    return first


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from one line of standard input.")
]


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Username: 2-64 of a-z 0-9 . _ -")],
    admin: Annotated[bool, typer.Option("--admin", help="Same as --role admin.")] = False,
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer.")] = "viewer",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user. They set up two-factor login (TOTP) at their first login."""
    from pipelines.auth import cli_actor

    if admin and role not in ("viewer", "admin"):
        raise _fail(f"--admin and --role {role} contradict each other")
    role = "admin" if admin else role
    password = _read_password(password_stdin, name)
    with _auth() as auth:
        doc = _run(lambda: auth.add_user(name, password, role, cli_actor()))
    typer.echo(f"created {doc['_id']} ({doc['role']}); they set up two-factor login at first login")


@user_app.command("list")
def list_users() -> None:
    """Every user with role, state and second-factor status (no secrets)."""
    from pipelines.auth import cli_actor

    with _auth() as auth:
        rows = auth.list_users(cli_actor())
    if not rows:
        typer.echo("no users yet: create the first admin with `python -m pipelines user add NAME --admin`")
        return
    typer.echo(f"{'username':<24} {'role':<8} {'active':<7} {'2fa':<4} {'codes':<5} last login")
    for r in rows:
        last = r["last_login"].strftime("%Y-%m-%d %H:%M") if r["last_login"] else "-"
        typer.echo(
            f"{r['username']:<24} {r['role']:<8} {'yes' if r['active'] else 'no':<7} "
            f"{'yes' if r['totp'] else 'no':<4} {r['recovery_codes_left']:<5} {last}"
        )


@user_app.command("disable")
def disable(name: str) -> None:
    """Disable a user and end their sessions now."""
    from pipelines.auth import cli_actor

    with _auth() as auth:
        _run(lambda: auth.set_active(name, False, cli_actor()))
    typer.echo(f"disabled {name}")


@user_app.command("enable")
def enable(name: str) -> None:
    """Re-enable a disabled user."""
    from pipelines.auth import cli_actor

    with _auth() as auth:
        _run(lambda: auth.set_active(name, True, cli_actor()))
    typer.echo(f"enabled {name}")


@user_app.command("set-role")
def set_role(name: str, role: str) -> None:
    """Change a user's role (admin, analyst, viewer); it applies on their next click."""
    from pipelines.auth import cli_actor

    with _auth() as auth:
        _run(lambda: auth.set_role(name, role, cli_actor()))
    typer.echo(f"{name} is now {role.strip().lower()}")


@user_app.command("reset-totp")
def reset_totp(name: str) -> None:
    """Forget a user's second factor and recovery codes; they enrol again at next login."""
    from pipelines.auth import cli_actor

    with _auth() as auth:
        _run(lambda: auth.reset_totp(name, cli_actor()))
    typer.echo(f"two-factor login of {name} reset: they set it up again at next login")


@user_app.command("passwd")
def passwd(name: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password for a user (their sessions end)."""
    from pipelines.auth import cli_actor

    password = _read_password(password_stdin, name)
    with _auth() as auth:
        _run(lambda: auth.set_password(name, password, cli_actor()))
    typer.echo(f"password of {name} changed")


@user_app.command("unlock")
def unlock(name: str) -> None:
    """Clear a user's failed-login count and lockout."""
    from pipelines.auth import cli_actor

    with _auth() as auth:
        was = _run(lambda: auth.unlock(name, cli_actor()))
    typer.echo(f"{name} unlocked" if was else f"{name} had no failed logins on record")
