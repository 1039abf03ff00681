"""Usernames and user records.

Usernames are ASCII, lowercase, 2 to 64 characters of letters, digits, ``.``, ``_``
and ``-``, starting and ending with a letter or digit. Why so strict: a name is shown
in the audit log and on the admin page, and ``аdmin`` (with a Cyrillic ``а``) must not
pass for ``admin``; input is NFKC-normalised and lowercased first, so fullwidth or
upper-case spellings map to the same account.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from pipelines.auth.roles import check_role

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])$")


class InvalidUsername(ValueError):
    """A username outside the allowed alphabet or length; the message shows it."""


def normalise_username(raw: Any) -> str:
    """NFKC + lowercase + strip; no validation (used for throttle keys of bad names)."""
    if not isinstance(raw, str):
        return ""
    return unicodedata.normalize("NFKC", raw).strip().lower()[:100]


def check_username(raw: Any) -> str:
    """The normalised username, or :class:`InvalidUsername` naming the problem."""
    if not isinstance(raw, str):
        raise InvalidUsername(f"a username must be text, not {type(raw).__name__}")
    name = normalise_username(raw)
    if not _NAME.match(name):
        raise InvalidUsername(
            f"invalid username {raw[:40]!r}: use 2-64 ASCII letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


def new_user_doc(
    username: str, role: str, password_hash: str, now: datetime, created_by: str
) -> dict[str, Any]:
    """The stored record of a new user (no second factor yet: enrolled at first login)."""
    return {
        "_id": username,
        "role": check_role(role),
        "active": True,
        "password_hash": password_hash,
        "password_changed": now,
        "totp_secret": None,
        "totp_last_step": None,
        "recovery_codes": [],
        "created": now,
        "created_by": created_by,
        "updated": now,
    }


FIRST_USER_HINT = (
    "No dashboard user exists yet, so nobody can log in. Create the first admin with:\n"
    "    .venv/bin/python -m pipelines user add NAME --admin\n"
    "(it asks for a password twice), then log in at the dashboard and scan the QR code "
    "with an authenticator app."
)
"""Shown by ``make run`` and by the login page while the ``users`` collection is empty."""
