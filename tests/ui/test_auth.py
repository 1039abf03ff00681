"""The login gate in AppTest: nothing but the login page before login; the whole flow
through the real forms (password, TOTP enrolment with QR, recovery codes, TOTP at the
next login, logout); errors shown; expired sessions sent back to the login page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
from streamlit.testing.v1 import AppTest

from pipelines.auth import Auth
from pipelines.auth.sessions import session_id
from pipelines.store import Store
from tests.ui.conftest import _CHEAP, APP, TEST_PASSWORD, TOKEN_KEY, login


def _new(app: str = APP) -> AppTest:
    return AppTest.from_file(app, default_timeout=60)


def _login_form(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.code] + [t.value for t in at.title]
    return "\n".join(parts + [e.value for e in at.error] + [i.value for i in at.info])


def test_nothing_but_the_login_page_before_login(app_store_anonymous: Store):
    Auth(app_store_anonymous, passwords=_CHEAP).add_user("alice", TEST_PASSWORD, "admin", "cli:test")
    at = _new().run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert not at.metric and not at.dataframe and not at.sidebar.button  # no page content, no logout
    assert "Total posts" not in _texts(at)


def test_no_user_yet_explains_how_to_create_one(app_store_anonymous: Store):
    at = _new().run()
    assert not at.exception and not at.text_input
    assert "python -m pipelines user add NAME --admin" in _texts(at)


def test_full_login_flow_through_the_forms(app_store_anonymous: Store):
    store = app_store_anonymous
    Auth(store, passwords=_CHEAP).add_user("alice", TEST_PASSWORD, "analyst", "cli:test")
    at = _new().run()

    # Wrong password: a generic error, still on the login page.
    _login_form(at, "alice", "not the password")
    assert [e.value for e in at.error] == ["wrong username or password"]
    assert TOKEN_KEY not in at.session_state

    # Right password, first login: enrolment with a QR code and the key for manual entry.
    _login_form(at, "alice", TEST_PASSWORD)
    assert not at.exception
    assert "Set up two-factor login" in [s.value for s in at.subheader]
    secret = at.code[0].value
    assert len(secret) == 32 and len(at.get("image")) == 1  # the QR code
    at.text_input(key="vigil_enrol_code").input(
        "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    )
    at.button[0].click().run()
    assert [e.value for e in at.error][0].startswith("wrong code")
    # Two failures so far: the next try would wait 1 s (tests/security covers the delays).
    store.login_throttle.clear("client:unknown")
    store.login_throttle.clear("user:alice")
    at.text_input(key="vigil_enrol_code").input(pyotp.TOTP(secret).now())
    at.button[0].click().run()

    # The recovery codes, once; then the dashboard.
    assert [t.value for t in at.title] == ["Your recovery codes"]
    codes = at.code[0].value.split("\n")
    assert len(codes) == 10 and all(len(c) == 19 for c in codes)
    at.button(key="vigil_codes_saved").click().run()
    assert not at.exception
    assert "Total posts" in [m.label for m in at.metric]
    assert "Signed in as **alice** (analyst)" in [c.value for c in at.sidebar.caption]
    token = at.session_state[TOKEN_KEY]
    assert store.sessions.get(session_id(token))["stage"] == "full"
    assert store.users.get("alice")["totp_secret"] == secret

    # The logout button is there (clicking it is tested in the browser: AppTest reruns only
    # the page, not app.py, once a page was shown; see test_pages_refuse_without_the_router).
    assert at.sidebar.button(key="vigil_logout").label == "Log out"
    Auth(store, passwords=_CHEAP).logout(token)

    # Second login, in a new tab: TOTP code (a recovery code works too, once).
    at = _new().run()
    _login_form(at, "alice", TEST_PASSWORD)
    at.text_input(key="vigil_code").input(codes[0])
    at.button[0].click().run()
    assert "Total posts" in [m.label for m in at.metric]
    actions = [e["action"] for e in store.audit.events(20)]
    assert actions[:3] == ["login", "recovery.used", "logout"]


def _is_login_page(at: AppTest) -> bool:
    return [t.label for t in at.text_input] == ["Username", "Password"] and not at.metric


def _is_ended(at: AppTest) -> bool:
    ended = [w.value for w in at.warning] == ["Your session has ended: log in again."]
    return ended and _is_login_page(at)


def test_expired_session_goes_back_to_login(app_store: Store):
    at = _new().run()
    assert "Total posts" in [m.label for m in at.metric]
    # Age the session past its idle limit in the store.
    token = at.session_state[TOKEN_KEY]
    app_store.sessions.update(session_id(token), {"last_seen": datetime.now(UTC) - timedelta(hours=1)})
    at.run()  # (AppTest reruns the page without the router: the page's own check)
    assert _is_ended(at)
    fresh = _new()
    fresh.session_state[TOKEN_KEY] = token
    assert _is_ended(fresh.run())  # the router


def test_disabling_a_user_logs_them_out_on_the_next_click(app_store: Store):
    at = _new()
    login(at, app_store, "viewer", "vic")
    at.run()
    assert "Total posts" in [m.label for m in at.metric]
    Auth(app_store, passwords=_CHEAP).set_active("vic", False, "cli:test")
    at.run()
    assert _is_ended(at)


def test_lockout_is_shown(app_store_anonymous: Store):
    Auth(app_store_anonymous, passwords=_CHEAP).add_user("alice", TEST_PASSWORD, "viewer", "cli:test")
    at = _new().run()
    for i in range(2):
        _login_form(at, "alice", f"wrong {i}")
    _login_form(at, "alice", TEST_PASSWORD)  # right password, but inside the delay
    assert at.error[0].value.startswith("too many failed logins: wait")
