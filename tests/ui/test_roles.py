"""The role matrix in AppTest: every page of ``pages/`` x every role (and nobody), run
*directly*, without the router's menu, so the page's own server-side check is what
is tested; then every admin action with a user whose role changed between the page
being drawn and the button being pressed (the button was visible; the click must
still be refused)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.auth import PAGE_PERMISSIONS
from pipelines.auth import ROLES, Auth, can
from pipelines.store import Store
from tests.ui.conftest import _CHEAP, APP, TEST_PASSWORD, login

PAGES_DIR = Path(APP).parent / "pages"
PAGES = sorted(p.stem for p in PAGES_DIR.glob("*.py") if p.stem != "__init__")
NOT_ALLOWED = "Not allowed"


def permission_of(page: str) -> str:
    return PAGE_PERMISSIONS.get(page, "read")


def _run_page(page: str, store: Store, role: str | None) -> AppTest:
    at = AppTest.from_file(str(PAGES_DIR / f"{page}.py"), default_timeout=60)
    if role is None:
        del at.session_state["vigil_auth_token"]
    else:
        login(at, store, role)
    return at.run()


def _content(at: AppTest) -> int:
    """How many content elements the page drew (beyond the refusal)."""
    kinds = (
        "dataframe",
        "metric",
        "button",
        "text_input",
        "selectbox",
        "multiselect",
        "tabs",
        "download_button",
    )
    return sum(len(at.get(k)) for k in kinds) + len(at.title)


@pytest.mark.parametrize("page", PAGES)
def test_page_matrix(page: str, app_store: Store):
    """One page x every role and nobody (one store per page, one fresh session per role)."""
    permission = permission_of(page)
    for role in [*ROLES, None]:
        at = _run_page(page, app_store, role)
        assert not at.exception, (role, at.exception)
        if role is None:  # the login form, and nothing of the page
            assert [t.label for t in at.text_input] == ["Username", "Password"]
            assert [t.value for t in at.title] == ["Vigil"]
            assert [b.label for b in at.button] == ["Log in"]
            assert _content(at) == 4  # that title, those two fields, that button: nothing else
        elif can(role, permission):
            assert not [e for e in at.error if e.value.startswith(NOT_ALLOWED)], role
            assert _content(at) > 0, role
        else:
            assert [e.value for e in at.error] == [
                f"{NOT_ALLOWED}: test-{role} ({role}) may not {_help(permission)}."
            ]
            assert _content(at) == 0, role
            denied = app_store.audit.events(1, action="permission.denied")
            assert denied and denied[0]["actor"] == f"test-{role}"
            assert denied[0]["details"]["permission"] == permission


def _help(permission: str) -> str:
    from pipelines.auth.roles import PERMISSION_HELP

    return PERMISSION_HELP[permission]


def test_matrix_covers_the_expected_refusals():
    """The table above refuses what the issue says: viewers never reach admin or export."""
    assert "admin" in PAGES and not can("viewer", permission_of("admin"))
    assert not can("analyst", permission_of("admin")) and can("admin", permission_of("admin"))
    if "export" in PAGES:
        assert not can("viewer", permission_of("export")) and can("analyst", permission_of("export"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_checks_first(page: str):
    """The first statement after the imports is ``auth.require_page(...)``."""
    tree = ast.parse((PAGES_DIR / f"{page}.py").read_text())
    body = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)]
    body = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    first = body[0]
    call = first.value if isinstance(first, ast.Expr | ast.Assign) else None
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "auth.require_page", (
        f"pages/{page}.py must start with auth.require_page(...), not {ast.unparse(first)[:60]!r}"
    )


def test_router_menu_per_role(app_store: Store):
    """The menu offers each role only the pages it may open (hiding is a courtesy)."""
    seen = {}
    for role in ROLES:
        at = AppTest.from_file(APP, default_timeout=60)
        login(at, app_store, role)
        at.run()
        assert not at.exception
        # pylint: disable=protected-access -- AppTest keeps the navigation registry here
        seen[role] = sorted(str(info.get("url_pathname") or "") for info in at._registered_pages.values())
    for role, paths in seen.items():
        expected = sorted(("" if p == "overview" else p) for p in PAGES if can(role, permission_of(p)))
        assert paths == expected, role


# ---------------------------------------------------------------- admin actions

ADMIN = "pages/admin.py"


def _admin_page(store: Store) -> AppTest:
    Auth(store, passwords=_CHEAP).add_user("other-admin", TEST_PASSWORD, "admin", "cli:test")
    Auth(store, passwords=_CHEAP).add_user("bob", TEST_PASSWORD, "analyst", "cli:test")
    at = AppTest.from_file(str(PAGES_DIR.parent / ADMIN), default_timeout=60)
    login(at, store, "admin", "root")
    at.run()
    assert not at.exception
    at.selectbox(key="admin_target").set_value("bob")
    return at


ACTIONS = {
    "add user": (
        lambda at: (
            at.text_input(key="admin_new_name").input("carol"),
            at.text_input(key="admin_new_pw1").input(TEST_PASSWORD),
            at.text_input(key="admin_new_pw2").input(TEST_PASSWORD),
            at.button(key="FormSubmitter:admin_add_user-Add user").click(),
        ),
        lambda s: s.users.get("carol") is not None,
    ),
    "set role": (
        lambda at: (
            at.selectbox(key="admin_role").set_value("viewer"),
            at.button(key="admin_set_role").click(),
        ),
        lambda s: s.users.get("bob")["role"] == "viewer",
    ),
    "disable": (
        lambda at: at.button(key="admin_disable").click(),
        lambda s: s.users.get("bob")["active"] is False,
    ),
    "reset two-factor": (
        lambda at: at.button(key="admin_reset_totp").click(),
        lambda s: s.users.get("bob")["totp_secret"] is None,
    ),
    "set password": (
        lambda at: (
            at.text_input(key="admin_pw1").input("a brand new password"),
            at.text_input(key="admin_pw2").input("a brand new password"),
            at.button(key="FormSubmitter:admin_password-Set password").click(),
        ),
        lambda s: s.users.get("bob")["password_hash"] != s.users.get("bob")["old_hash"],
    ),
}


@pytest.mark.parametrize("demoted_to", [None, "analyst"])
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_admin_actions_check_the_role_at_click_time(action: str, demoted_to: str | None, app_store: Store):
    at = _admin_page(app_store)
    # Markers to tell "changed" from "unchanged" for every action.
    bob = app_store.users.get("bob")
    app_store.users.update("bob", {"totp_secret": "JBSWY3DPEHPK3PXP", "old_hash": bob["password_hash"]})
    if demoted_to:
        app_store.users.update("root", {"role": demoted_to})  # demoted while the page is open
    do, changed = ACTIONS[action]
    do(at)
    at.run()
    assert not at.exception
    if demoted_to is None:
        assert changed(app_store), action
        assert not [e for e in at.error if e.value.startswith(NOT_ALLOWED)]
    else:
        assert not changed(app_store), f"{action} happened for a {demoted_to}"
        assert [e.value for e in at.error] == [f"{NOT_ALLOWED}: root ({demoted_to}) may not manage users."]
        # Refused by the page's check or the action's own check, both at click time.
        denied = app_store.audit.events(1, action="permission.denied")[0]
        assert denied["actor"] == "root" and denied["target"].split(":")[0] in ("page", "admin")


ACTION_SCRIPT = """
import streamlit as st
from components import auth

if st.button("Do it", key="do_it"):  # drawn for everyone on purpose: the check is what counts
    user = auth.require_action(PERMISSION, "test:do-it")
    st.success(f"done by {user.username}")
"""


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", ["export", "users.manage"])
def test_require_action_refuses_a_drawn_button(permission: str, role: str, app_store: Store):
    """A control that is drawn (by mistake, or a stale page) still cannot act for the wrong role."""
    at = AppTest.from_string(ACTION_SCRIPT.replace("PERMISSION", repr(permission)), default_timeout=60)
    login(at, app_store, role)
    at.run()
    at.button(key="do_it").click().run()
    assert not at.exception, at.exception
    if can(role, permission):
        assert [s.value for s in at.success] == [f"done by test-{role}"]
    else:
        assert not at.success
        assert [e.value for e in at.error] == [
            f"{NOT_ALLOWED}: test-{role} ({role}) may not {_help(permission)}."
        ]
        denied = app_store.audit.events(1, action="permission.denied")[0]
        assert (denied["actor"], denied["target"]) == (f"test-{role}", "test:do-it")
