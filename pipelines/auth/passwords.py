"""Password hashing with Argon2id (``argon2-cffi``) and the password policy.

Why Argon2id: memory-hard, the winner of the Password Hashing Competition and the first
choice of OWASP's cheat sheet. The hash string carries its own parameters, so a hash
made with older (cheaper) parameters still verifies; :meth:`Passwords.verify` then
says it needs a rehash and the login path stores a new one.

Policy (NIST SP 800-63B): a minimum length, a maximum length (so a megabyte "password"
costs nothing), not the username; no composition rules, no expiry.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_CHARS = 1024


class WeakPassword(ValueError):
    """A password the policy refuses; the message says why (never the password)."""


@dataclass(frozen=True)
class Verdict:
    """Outcome of a verification: ``ok``, and whether the stored hash should be replaced."""

    ok: bool
    needs_rehash: bool = False


def normalise(password: str) -> str:
    """NFKC form, so the same password typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFKC", password)


@dataclass
class Passwords:
    """Hashes and verifies passwords; one instance per process is enough.

    Parameters
    ----------
    hasher:
        The Argon2 hasher; the default is argon2-cffi's RFC 9106 low-memory profile.
        Tests pass a cheaper one and check that a login rehashes it.
    min_chars:
        Shortest acceptable password.
    """

    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    min_chars: int = 12
    _dummy: str | None = field(default=None, init=False, repr=False)

    def check_policy(self, password: str, username: str = "") -> str:
        """Return the normalised password or raise :class:`WeakPassword`."""
        if not isinstance(password, str):
            raise WeakPassword("the password must be text")
        pw = normalise(password)
        if len(pw) < self.min_chars:
            raise WeakPassword(f"the password needs at least {self.min_chars} characters (got {len(pw)})")
        if len(pw) > MAX_PASSWORD_CHARS:
            raise WeakPassword(f"the password is longer than {MAX_PASSWORD_CHARS} characters")
        if "\x00" in pw:
            raise WeakPassword("the password contains a NUL character")
        if username and pw.casefold() == username.casefold():
            raise WeakPassword("the password must not be the username")
        if len(set(pw)) < 3:
            raise WeakPassword("the password repeats one or two characters only")
        return pw

    def hash(self, password: str, username: str = "") -> str:
        """Hash a new password after checking the policy."""
        return self.hasher.hash(self.check_policy(password, username))

    def verify(self, stored_hash: str | None, password: str) -> Verdict:
        """Check ``password`` against ``stored_hash`` in roughly constant time.

        With no stored hash (unknown user) a dummy hash is verified anyway, so a
        caller cannot tell "no such user" from "wrong password" by timing.
        """
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
            return Verdict(False)
        pw = normalise(password)
        if stored_hash is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash("vigil-dummy-password-for-timing")
            stored_hash, pw = self._dummy, pw + "\x00never"
        try:
            self.hasher.verify(stored_hash, pw)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict(False)
        return Verdict(True, self.hasher.check_needs_rehash(stored_hash))
