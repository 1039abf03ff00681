"""The dashboard's login gate and the permission checks every page and action calls.

Design: cookie-less. The browser holds nothing; the session token lives in
``st.session_state`` (server memory, one per browser tab and websocket), and the
session record (idle and absolute expiry, revocation) in the ``sessions`` collection
(:mod:`pipelines.auth.sessions`). Why: no cookie means nothing for another site to
ride (no CSRF), nothing readable by a script in the page, nothing left on a shared
computer after the tab closes. The price: reloading the page or opening a new tab asks
for the login again (the second factor included).

Every check runs in Python on the server: ``require_page(permission)`` at the top of
each page and ``require_action(permission)`` inside each action's branch re-read the
session and the user from the database, so logout, a disabled account or a role change
applies on the next click. Hidden buttons (``can``) are only a courtesy.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from components import data
from pipelines.auth import Auth, AuthPolicy, CurrentUser, LoginError, Throttled
from pipelines.auth.audit import audit
from pipelines.auth.roles import PERMISSIONS
from pipelines.auth.roles import can as role_can
from pipelines.auth.users import FIRST_USER_HINT
from pipelines.core.config import Settings
from pipelines.core.escape import markdown_text

TOKEN_KEY = "vigil_auth_token"
PENDING_KEY = "vigil_auth_pending"
CODES_KEY = "vigil_auth_recovery_codes"
ENDED_KEY = "vigil_auth_ended"

PAGE_PERMISSIONS: dict[str, str] = {
    "admin": "users.manage",
    "export": "export",
    "sources": "sources.view",
    "alerts": "alerts.view",
}
"""Permission needed to see a page in the menu, by the page's URL path ("read" otherwise).
The page itself checks again with :func:`require_page`."""


@st.cache_resource(show_spinner=False)
def get_auth() -> Auth:
    """One ``Auth`` per server process, over the dashboard's store."""
    return Auth(data.get_store(), AuthPolicy.from_settings(Settings()))


def client_address() -> str:
    """The client's IP address as Streamlit sees it (the key of per-client throttling).

    Behind a reverse proxy this is the proxy's address: every user then shares one
    client counter (see docs/security.md).
    """
    try:
        ip = st.context.ip_address
    except Exception:  # no browser context
        return "unknown"
    return ip[:100] if isinstance(ip, str) and ip else "unknown"  # AppTest gives a mock


def current_user() -> CurrentUser | None:
    """The logged-in user, re-validated against the database on every call."""
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        return None
    user = get_auth().current(token)
    if user is None:
        st.session_state.pop(TOKEN_KEY, None)  # expired or revoked
        st.session_state[ENDED_KEY] = True
    return user


def can(permission: str) -> bool:
    """Whether the current user holds ``permission`` (to decide what to show)."""
    user = current_user()
    return user is not None and role_can(user.role, permission)


def _refuse(user: CurrentUser | None, permission: str, where: str) -> None:
    if user is None:
        # Reached without the router (see _end_pages_directory_mode), or the session ended
        # during this visit: the login form, and nothing of the page.
        login_page()
        st.stop()
    exc = get_auth().deny(user, permission, where)
    st.error(f"Not allowed: {exc}.")
    st.stop()


def _end_pages_directory_mode(anonymous: bool) -> None:
    """Switch off Streamlit's "pages directory" mode for this process.

    Streamlit decides at start-up that an app with a ``pages/`` folder is a "pages
    directory" app, and then runs a page straight from its URL, without ``app.py``, until
    ``st.navigation`` is first called in the process (Streamlit 1.67,
    ``PagesManager.uses_pages_directory``; AppTest sets it again before every run). So the
    first visitor after a restart, asking for ``/explore``, bypasses the router; the page's
    own check stops them regardless. This ends the mode as ``st.navigation`` does; for an
    anonymous visitor it also reruns at once (nothing was drawn, no click can be lost), so
    the router shows the login form under the same address and the deep link survives.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if anonymous:
            st.rerun()


def require_page(permission: str, where: str | None = None) -> CurrentUser:
    """Stop the page unless the current user holds ``permission``; returns the user."""
    PERMISSIONS[permission]  # an unknown name fails loudly (KeyError), never open
    user = current_user()
    _end_pages_directory_mode(anonymous=user is None)
    if user is None or not role_can(user.role, permission):
        _refuse(user, permission, where or f"page:{permission}")
    assert user is not None
    return user


def require_action(permission: str, where: str | None = None) -> CurrentUser:
    """Stop this run unless the current user may do the action; returns the user.

    Call it inside the branch that performs the action (after the button was
    pressed), even when the button is only shown to users who may press it.
    """
    PERMISSIONS[permission]
    user = current_user()
    if user is None or not role_can(user.role, permission):
        _refuse(user, permission, where or f"action:{permission}")
    assert user is not None
    return user


def record(action: str, target: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Write an audit event as the current user (exports, acknowledgements, changes)."""
    user = current_user()
    audit(data.get_store(), user.username if user else None, action, target, details)


def audit_events(limit: int, actor: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
    """Newest audit events (admins only: checked here as well as on the page)."""
    require_action("audit.view", "audit-log")
    return data.get_store().audit.events(limit, actor=actor, action=action)


def allowed_pages(pages: list[Any], user: CurrentUser) -> list[Any]:
    """The ``st.Page`` objects whose permission (by URL path) the user holds."""
    return [p for p in pages if role_can(user.role, PAGE_PERMISSIONS.get(p.url_path, "read"))]


def _under_every_address(screen: Any, title: str, url_path: str, pages: list[Any]) -> list[Any]:
    """``screen`` as the default page, and again (hidden) under every page's URL path."""

    def alias(path: str) -> Any:
        def page() -> None:
            screen()

        page.__name__ = f"{screen.__name__}_{path.replace('-', '_')}"
        return page

    out = [st.Page(screen, title=title, icon=":material/login:", url_path=url_path, default=True)]
    for p in pages:
        if p.url_path and p.url_path != url_path:
            out.append(st.Page(alias(p.url_path), title=title, url_path=p.url_path, visibility="hidden"))
    return out


def login_pages(pages: list[Any]) -> list[Any]:
    """What the router offers before login: the login form, also (hidden from the menu)
    under every page's URL path.

    Why: a shared link such as ``/explore?q=flood`` then shows the login form instead of
    Streamlit's "page not found" dialog, and after login the same URL opens that page
    with its filters. Nothing of the page itself runs before login.
    """
    return _under_every_address(login_page, "Log in", "login", pages)


# ---------------------------------------------------------------------- login screens


def _clear_login() -> None:
    for key in (PENDING_KEY, CODES_KEY):
        st.session_state.pop(key, None)


def _password_form(auth: Auth) -> None:
    with st.form("vigil_login", clear_on_submit=True):
        username = st.text_input("Username", max_chars=64, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=1024, autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return
    try:
        step = auth.login_password(username, password, client_address())
    except (LoginError, Throttled) as exc:
        st.error(str(exc))
        return
    st.session_state[PENDING_KEY] = {"token": step.token, "next": step.next, "user": step.username}
    st.rerun()


def _code_form(auth: Auth, pending: dict[str, str]) -> None:
    st.write(f"Signed in as **{markdown_text(pending['user'])}**: now the code from your authenticator app.")
    with st.form("vigil_totp", clear_on_submit=True):
        code = st.text_input(
            "6-digit code or a recovery code", max_chars=40, autocomplete="one-time-code", key="vigil_code"
        )
        submitted = st.form_submit_button("Verify", type="primary")
    if st.button("Start again", key="vigil_login_restart"):
        _clear_login()
        st.rerun()
    if not submitted:
        return
    try:
        token = auth.verify_second_factor(pending["token"], code, client_address())
    except Throttled as exc:
        st.error(str(exc))
        return
    except LoginError as exc:
        st.error(str(exc))
        if "expired" in str(exc):
            _clear_login()
        return
    _clear_login()
    st.session_state[TOKEN_KEY] = token
    st.rerun()


def _enrol_form(auth: Auth, pending: dict[str, str]) -> None:
    try:
        enrol = auth.start_enrolment(pending["token"])
    except LoginError as exc:
        st.error(str(exc))
        _clear_login()
        return
    st.subheader("Set up two-factor login")
    st.write(
        "Scan this code with an authenticator app (Aegis, FreeOTP, Google Authenticator, 1Password, ...), "
        "then enter the 6 digits it shows. You need the app at every login."
    )
    left, right = st.columns([1, 2])
    left.image(enrol.png, width=220, caption="otpauth QR code")
    right.caption("Cannot scan? Enter this key by hand (time-based, 6 digits, 30 s):")
    right.code(enrol.secret, language=None)
    with st.form("vigil_enrol", clear_on_submit=True):
        code = st.text_input(
            "6-digit code", max_chars=10, autocomplete="one-time-code", key="vigil_enrol_code"
        )
        submitted = st.form_submit_button("Confirm", type="primary")
    if not submitted:
        return
    try:
        token, codes = auth.finish_enrolment(pending["token"], code, client_address())
    except (LoginError, Throttled) as exc:
        st.error(str(exc))
        if "expired" in str(exc):
            _clear_login()
        return
    _clear_login()
    st.session_state[TOKEN_KEY] = token
    st.session_state[CODES_KEY] = codes
    st.rerun()


def login_page() -> None:
    """The only page shown before login."""
    st.title("Vigil")
    if st.session_state.pop(ENDED_KEY, False):
        st.warning("Your session has ended: log in again.")
    auth = get_auth()
    if auth.store.users.count() == 0:
        st.info("No user exists yet.")
        st.code(FIRST_USER_HINT, language=None)
        return
    pending = st.session_state.get(PENDING_KEY)
    if not pending:
        _password_form(auth)
    elif pending["next"] == "enrol":
        _enrol_form(auth, pending)
    else:
        _code_form(auth, pending)


def recovery_codes_page() -> None:
    """Shown once, right after enrolment: the recovery codes, then on to the dashboard."""
    st.title("Your recovery codes")
    st.warning(
        "Each code logs you in once without your phone. Save them somewhere safe now: "
        "Vigil keeps only their hashes and cannot show them again."
    )
    st.code("\n".join(st.session_state.get(CODES_KEY) or []), language=None)
    if st.button("I have saved them", type="primary", key="vigil_codes_saved"):
        st.session_state.pop(CODES_KEY, None)
        st.rerun()


def logout() -> None:
    token = st.session_state.pop(TOKEN_KEY, None)
    if token:
        get_auth().logout(token)
    _clear_login()


def render_account(user: CurrentUser) -> None:
    """Who is logged in, and the logout button (sidebar)."""
    with st.sidebar:
        st.caption(f"Signed in as **{markdown_text(user.username)}** ({user.role})")
        if st.button("Log out", key="vigil_logout", icon=":material/logout:"):
            logout()
            st.rerun()


def gate(pages: list[Any] | None = None) -> CurrentUser | None:
    """The router's gate: the logged-in user, or ``None`` (the router then shows only
    :func:`login_pages`). Right after enrolment it shows the recovery codes instead of
    ``pages`` (under their addresses, so a deep link still opens its page afterwards).
    """
    user = current_user()
    if user is None:
        return None
    if st.session_state.get(CODES_KEY):
        screens = _under_every_address(recovery_codes_page, "Recovery codes", "recovery-codes", pages or [])
        st.navigation(screens).run()
        st.stop()
    render_account(user)
    return user
