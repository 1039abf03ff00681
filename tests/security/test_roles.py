"""The permission table: each role against each permission, as the issue specifies it
(admin: users, sources, settings; analyst: watchlists, exports, acknowledgements;
viewer: read only), and the failure modes of ``require``."""

from __future__ import annotations

import pytest

from pipelines.auth import PERMISSIONS, ROLES, PermissionDenied, can, check_role, require
from pipelines.auth.roles import PERMISSION_HELP, table
from pipelines.auth.service import CurrentUser

# The specification, written out by hand: a change to the table must change this too.
SPEC = {
    "read": {"admin", "analyst", "viewer"},
    "sources.view": {"admin", "analyst", "viewer"},
    "alerts.view": {"admin", "analyst", "viewer"},
    "export": {"admin", "analyst"},
    "anomalies.ack": {"admin", "analyst"},
    "watchlists.edit": {"admin", "analyst"},
    "alerts.edit": {"admin", "analyst"},
    "sources.edit": {"admin"},
    "settings.edit": {"admin"},
    "users.manage": {"admin"},
    "audit.view": {"admin"},
}


def _user(role: str) -> CurrentUser:
    from datetime import UTC, datetime

    return CurrentUser(f"u-{role}", role, "sid", datetime.now(UTC))


@pytest.mark.parametrize("permission", sorted(SPEC))
@pytest.mark.parametrize("role", ROLES)
def test_matrix(role: str, permission: str):
    allowed = role in SPEC[permission]
    assert can(role, permission) is allowed
    if allowed:
        assert require(_user(role), permission).role == role
    else:
        with pytest.raises(PermissionDenied, match=f"u-{role} \\({role}\\) may not"):
            require(_user(role), permission)


def test_table_is_exactly_the_spec():
    assert {p: set(r) for p, r in PERMISSIONS.items()} == SPEC
    assert set(PERMISSION_HELP) == set(PERMISSIONS)
    assert [g.permission for g in table()] == list(PERMISSIONS)


def test_viewer_changes_nothing():
    assert [p for p in PERMISSIONS if can("viewer", p)] == ["read", "sources.view", "alerts.view"]


@pytest.mark.parametrize("permission", sorted(SPEC))
def test_logged_out_is_refused_everything(permission: str):
    with pytest.raises(PermissionDenied, match="log in to"):
        require(None, permission)
    assert not can(None, permission)


def test_unknown_permission_fails_closed():
    with pytest.raises(KeyError):
        can("admin", "expor")  # a typo in a page must not grant anything
    with pytest.raises(KeyError):
        require(None, "delete.everything")


@pytest.mark.parametrize("bad", ["root", "", "Admin ", {"$ne": 1}, "viewer\x00admin"])
def test_unknown_roles(bad):
    if isinstance(bad, str) and bad.strip().lower() in ROLES:
        assert check_role(bad) == "admin"
        return
    with pytest.raises(ValueError, match="unknown role"):
        check_role(bad)
    assert not any(can(bad if isinstance(bad, str) else None, p) for p in PERMISSIONS)
