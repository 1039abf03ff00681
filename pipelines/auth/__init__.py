"""Users, roles, two-factor login, sessions and the audit log.

One module per job: :mod:`.roles` (the permission table), :mod:`.passwords` (Argon2id),
:mod:`.totp` (TOTP, QR, recovery codes), :mod:`.throttle` (delays and lockouts),
:mod:`.sessions` (server-side sessions), :mod:`.audit` (the audit log), :mod:`.users`
(usernames and records), :mod:`.admin` (user administration) and :mod:`.service` (the
login flow tying them together).
Nothing here imports streamlit; the dashboard's gate is ``components/auth.py``.
"""

from pipelines.auth.audit import audit, cli_actor, safe_details
from pipelines.auth.passwords import Passwords, WeakPassword
from pipelines.auth.roles import PERMISSIONS, ROLES, PermissionDenied, can, check_role, require
from pipelines.auth.service import (
    Auth,
    AuthPolicy,
    CurrentUser,
    Enrolment,
    LoginError,
    LoginStep,
    UserError,
)
from pipelines.auth.throttle import Throttled, ThrottlePolicy
from pipelines.auth.users import InvalidUsername, check_username

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "Auth",
    "AuthPolicy",
    "CurrentUser",
    "Enrolment",
    "InvalidUsername",
    "LoginError",
    "LoginStep",
    "Passwords",
    "PermissionDenied",
    "ThrottlePolicy",
    "Throttled",
    "UserError",
    "WeakPassword",
    "audit",
    "can",
    "check_role",
    "check_username",
    "cli_actor",
    "require",
    "safe_details",
]
