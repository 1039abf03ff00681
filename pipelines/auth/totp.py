"""Second factor: TOTP (RFC 6238, ``pyotp``), QR enrolment and one-time recovery codes.

A code is accepted for the current 30-second step and one step either side (clock
drift), and only if its step is later than the last accepted one: a code seen on the
wire or over a shoulder cannot be replayed. The store records the step with one
conditional update, so two simultaneous logins with the same code succeed once.

Recovery codes are 80 random bits each (16 base32 characters, shown once as
``xxxx-xxxx-xxxx-xxxx``). They are stored as SHA-256 hashes: with 80 bits of entropy a
slow hash adds nothing, and each is removed atomically when used, so it works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

RECOVERY_CODES = 10
RECOVERY_CODE_BYTES = 10  # 80 bits -> 16 base32 characters
DRIFT_STEPS = 1

_DIGITS = re.compile(r"^\d{6}$")
_RECOVERY = re.compile(r"^[a-z2-7]{16}$")


def new_secret() -> str:
    """A fresh 160-bit base32 TOTP secret."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_png(uri: str, scale: int = 6) -> bytes:
    """The URI as a PNG QR code (``segno``, pure Python)."""
    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def code_at(secret: str, when: datetime) -> str:
    """The code an authenticator shows at ``when`` (tests and the CLI use it)."""
    return pyotp.TOTP(secret).at(when)


def matching_step(secret: str, code: str, when: datetime, drift: int = DRIFT_STEPS) -> int | None:
    """The time step ``code`` belongs to, within ``drift`` steps of ``when``; else ``None``.

    Constant-time comparison for each candidate step.
    """
    if not _DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(when)
    found = None
    for offset in range(-drift, drift + 1):
        step = now_step + offset
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def normalise_code(raw: str) -> str:
    """Strip blanks and dashes and lowercase, so ``ABCD-efgh 2345-6723`` is accepted."""
    return re.sub(r"[\s\-]", "", str(raw)).lower()[:64]


def looks_like_totp(code: str) -> bool:
    return bool(_DIGITS.match(code))


def looks_like_recovery(code: str) -> bool:
    return bool(_RECOVERY.match(code))


@dataclass(frozen=True)
class RecoveryCodes:
    """Codes to show the user once, and the hashes to store."""

    codes: tuple[str, ...]
    hashes: tuple[str, ...]


def recovery_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_recovery_codes(n: int = RECOVERY_CODES) -> RecoveryCodes:
    """``n`` fresh codes formatted ``xxxx-xxxx-xxxx-xxxx`` and their hashes."""
    codes = []
    for _ in range(n):
        raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return RecoveryCodes(tuple(codes), tuple(recovery_hash(c) for c in codes))
