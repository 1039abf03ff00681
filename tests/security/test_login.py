"""The login flow with an injected clock: password, TOTP enrolment and codes, recovery
codes, throttling and lockout, session expiry, logout and revocation."""

from __future__ import annotations

import pyotp
import pytest
from argon2 import PasswordHasher

from pipelines.auth import Auth, AuthPolicy, LoginError, Passwords, Throttled, UserError
from pipelines.auth.sessions import session_id
from pipelines.auth.totp import code_at, qr_png
from pipelines.store import Store
from tests.security.conftest import CHEAP, PASSWORD, Clock, enrolled


def _actions(store: Store) -> list[str]:
    return [e["action"] for e in reversed(store.audit.events(1000))]


# ---------------------------------------------------------------- TOTP enrolment and login


def test_first_login_forces_enrolment_then_totp(auth: Auth, store: Store, clock: Clock):
    auth.add_user("alice", PASSWORD, "analyst", "cli:test")
    step = auth.login_password("alice", PASSWORD, "10.0.0.1")
    assert step.next == "enrol"
    # A pending token authorises nothing.
    assert auth.current(step.token) is None
    enrol = auth.start_enrolment(step.token)
    # Reruns of the enrolment screen show the same secret (the QR must not change).
    assert auth.start_enrolment(step.token).secret == enrol.secret
    assert enrol.uri.startswith("otpauth://totp/Vigil:alice?secret=" + enrol.secret)
    assert enrol.png.startswith(b"\x89PNG\r\n\x1a\n") and enrol.png == qr_png(enrol.uri)
    with pytest.raises(LoginError, match="wrong code"):
        auth.finish_enrolment(
            step.token, "000000" if code_at(enrol.secret, clock()) != "000000" else "111111"
        )
    token, codes = auth.finish_enrolment(step.token, code_at(enrol.secret, clock()), "10.0.0.1")
    user = auth.current(token)
    assert user is not None and (user.username, user.role) == ("alice", "analyst")
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = store.users.get("alice")
    assert stored["totp_secret"] == enrol.secret
    # Only hashes of the recovery codes are kept.
    assert not set(codes) & set(stored["recovery_codes"]) and len(stored["recovery_codes"]) == 10
    # The enrolment token is spent; the full session has a new token.
    assert token != step.token and store.sessions.get(session_id(step.token)) is None

    # Second login asks for the code; the authenticator's code for now works.
    clock.advance(30)
    step2 = auth.login_password("ALICE", PASSWORD, "10.0.0.1")  # names are case-insensitive
    assert step2.next == "totp"
    token2 = auth.verify_second_factor(step2.token, pyotp.TOTP(enrol.secret).at(clock()), "10.0.0.1")
    assert auth.current(token2).username == "alice"
    assert _actions(store)[-1] == "login"
    assert "totp.enrolled" in _actions(store)


def test_code_replay_and_drift(auth: Auth, clock: Clock):
    secret, _, _ = enrolled(auth, clock)
    code = code_at(secret, clock())
    first = auth.login_password("alice", PASSWORD)
    assert auth.current(auth.verify_second_factor(first.token, code))
    # The same code again (same 30 s step) is refused: replay.
    again = auth.login_password("alice", PASSWORD)
    with pytest.raises(LoginError, match="wrong code"):
        auth.verify_second_factor(again.token, code)
    # One step of drift either way is accepted, two are not.
    clock.advance(60)
    assert auth.current(auth.verify_second_factor(again.token, code_at(secret, clock() - _s(30))))
    clock.advance(60)
    late = auth.login_password("alice", PASSWORD)
    with pytest.raises(LoginError):
        auth.verify_second_factor(late.token, code_at(secret, clock() - _s(60)))
    clock.advance(1)  # two failures from this client: the next try waits 1 s
    assert auth.current(auth.verify_second_factor(late.token, code_at(secret, clock() + _s(30))))


def _s(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)


def test_recovery_codes_work_once(auth: Auth, store: Store, clock: Clock):
    _, _, codes = enrolled(auth, clock)
    step = auth.login_password("alice", PASSWORD)
    # Typed in upper case with spaces instead of dashes: still accepted.
    typed = codes[3].upper().replace("-", " ")
    token = auth.verify_second_factor(step.token, typed)
    assert auth.current(token).username == "alice"
    assert len(store.users.get("alice")["recovery_codes"]) == 9
    again = auth.login_password("alice", PASSWORD)
    with pytest.raises(LoginError, match="wrong code"):
        auth.verify_second_factor(again.token, codes[3])
    events = store.audit.events(50, action="recovery.used")
    assert len(events) == 1 and events[0]["details"] == {"left": 9}


def test_renewed_recovery_codes_replace_the_old(auth: Auth, clock: Clock):
    _, token, old = enrolled(auth, clock)
    new = auth.new_recovery_codes(auth.current(token))
    step = auth.login_password("alice", PASSWORD)
    with pytest.raises(LoginError):
        auth.verify_second_factor(step.token, old[0])
    assert auth.current(auth.verify_second_factor(step.token, new[0]))


def test_pending_login_expires(auth: Auth, clock: Clock):
    secret, _, _ = enrolled(auth, clock)
    step = auth.login_password("alice", PASSWORD)
    clock.advance(minutes=6)
    with pytest.raises(LoginError, match="expired"):
        auth.verify_second_factor(step.token, code_at(secret, clock()))


# ---------------------------------------------------------------- passwords


def test_wrong_password_and_unknown_user_look_the_same(auth: Auth, store: Store):
    auth.add_user("alice", PASSWORD, "viewer", "cli:test")
    with pytest.raises(LoginError) as wrong:
        auth.login_password("alice", "not the password at all", "10.0.0.1")
    with pytest.raises(LoginError) as unknown:
        auth.login_password("mallory", "not the password at all", "10.0.0.2")
    with pytest.raises(LoginError) as invalid:
        auth.login_password({"$ne": ""}, "x", "10.0.0.3")  # type: ignore[arg-type]
    assert str(wrong.value) == str(unknown.value) == str(invalid.value) == "wrong username or password"
    reasons = [e["details"]["reason"] for e in store.audit.events(10, action="login.failed")]
    assert sorted(reasons) == ["unknown user", "unknown user", "wrong password"]


def test_login_upgrades_a_hash_made_with_old_parameters(store: Store, clock: Clock):
    old = Auth(store, AuthPolicy(), clock=clock, passwords=Passwords(hasher=CHEAP))
    old.add_user("alice", PASSWORD, "viewer", "cli:test")
    before = store.users.get("alice")["password_hash"]
    assert "m=1024,t=1,p=1" in before
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    new = Auth(store, AuthPolicy(), clock=clock, passwords=Passwords(hasher=stronger))
    new.login_password("alice", PASSWORD)
    after = store.users.get("alice")["password_hash"]
    assert "m=2048,t=2,p=1" in after and after != before
    new.login_password("alice", PASSWORD)  # the new hash verifies
    assert store.users.get("alice")["password_hash"] == after


def test_disabled_user_cannot_log_in_and_loses_sessions(auth: Auth, clock: Clock):
    _, token, _ = enrolled(auth, clock)
    auth.add_user("root", PASSWORD, "admin", "cli:test")
    auth.set_active("alice", False, "cli:test")
    assert auth.current(token) is None
    with pytest.raises(LoginError, match="disabled"):
        auth.login_password("alice", PASSWORD)
    auth.set_active("alice", True, "cli:test")
    assert auth.login_password("alice", PASSWORD).next == "totp"


# ---------------------------------------------------------------- throttling and lockout


def test_delay_then_lockout_per_user(auth: Auth, store: Store, clock: Clock):
    secret, _, _ = enrolled(auth, clock)
    with pytest.raises(LoginError):
        auth.login_password("alice", "wrong password 1", "10.0.0.1")
    # After the second failure the next attempt must wait 1 s, then 2 s, then 4 s.
    for n, wait in ((2, 1), (3, 2), (4, 4)):
        with pytest.raises(LoginError):
            auth.login_password("alice", f"wrong password {n}", "10.0.0.1")
        with pytest.raises(Throttled) as t:
            auth.login_password("alice", PASSWORD, "10.0.0.1")  # even the right password
        assert t.value.retry_after_s == wait and not t.value.locked
        clock.advance(wait)
    with pytest.raises(LoginError):
        auth.login_password("alice", "wrong password 5", "10.0.0.1")
    # Fifth failure: locked for 15 minutes, whatever is typed, from any client.
    assert [e["target"] for e in store.audit.events(10, action="login.locked")] == ["user:alice"]
    clock.advance(minutes=14)
    with pytest.raises(Throttled, match="locked") as t:
        auth.login_password("alice", PASSWORD, "192.168.7.7")
    assert t.value.locked and t.value.retry_after_s == 60
    clock.advance(minutes=1, seconds=1)
    step = auth.login_password("alice", PASSWORD, "10.0.0.1")
    auth.verify_second_factor(step.token, code_at(secret, clock()), "10.0.0.1")
    # A full login clears the count: one new failure costs no delay.
    with pytest.raises(LoginError):
        auth.login_password("alice", "wrong again", "10.0.0.2")
    assert auth.login_password("alice", PASSWORD, "10.0.0.2").next == "totp"


def test_wrong_codes_count_towards_the_lockout(auth: Auth, clock: Clock):
    secret, _, _ = enrolled(auth, clock)
    step = auth.login_password("alice", PASSWORD)
    right = code_at(secret, clock())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(LoginError):
            auth.verify_second_factor(step.token, wrong)
        clock.advance(10)  # past each delay, well inside the pending lifetime
    with pytest.raises(Throttled, match="locked"):
        auth.verify_second_factor(step.token, code_at(secret, clock()))


def test_client_lockout_across_usernames(store: Store, clock: Clock):
    from datetime import timedelta

    from pipelines.auth import ThrottlePolicy

    policy = AuthPolicy(throttle=ThrottlePolicy(client_max_failures=4, lockout=timedelta(minutes=10)))
    auth = Auth(store, policy, clock=clock, passwords=Passwords(hasher=CHEAP))
    auth.add_user("bob", PASSWORD, "viewer", "cli:test")
    # Spraying one password over many names from one address: each name fails once.
    for i in range(4):
        with pytest.raises(LoginError):
            auth.login_password(f"user{i}", "Winter2026!!", "203.0.113.9")
        clock.advance(60)
    with pytest.raises(Throttled, match="locked"):
        auth.login_password("bob", PASSWORD, "203.0.113.9")
    # Another address is not affected; the lock ends after 10 minutes.
    assert auth.login_password("bob", PASSWORD, "198.51.100.1").next == "enrol"
    clock.advance(minutes=10, seconds=1)
    assert auth.login_password("bob", PASSWORD, "203.0.113.9").next == "enrol"


def test_admin_unlock(auth: Auth, clock: Clock):
    auth.add_user("alice", PASSWORD, "viewer", "cli:test")
    for i in range(5):
        with pytest.raises(LoginError):
            auth.login_password("alice", f"bad {i}", f"10.0.0.{i}")
        clock.advance(20)
    with pytest.raises(Throttled):
        auth.login_password("alice", PASSWORD, "10.0.0.99")
    assert auth.unlock("alice", "cli:test")
    assert auth.login_password("alice", PASSWORD, "10.0.0.99").next == "enrol"


# ---------------------------------------------------------------- sessions


def test_idle_expiry(auth: Auth, clock: Clock):
    _, token, _ = enrolled(auth, clock)
    clock.advance(minutes=29)
    assert auth.current(token) is not None  # this request counts as activity
    clock.advance(minutes=29)
    assert auth.current(token) is not None
    clock.advance(minutes=30)
    assert auth.current(token) is None  # 30 idle minutes


def test_absolute_expiry_despite_activity(auth: Auth, clock: Clock):
    _, token, _ = enrolled(auth, clock)
    start = clock() - _s(30)  # enrolled() moved the clock 30 s past the login
    while auth.current(token) is not None:  # active every 10 minutes: never idle
        clock.advance(minutes=10)
    assert _s(12 * 3600) <= clock() - start < _s(12 * 3600 + 600)


def test_logout_revokes_the_token(auth: Auth, store: Store, clock: Clock):
    _, token, _ = enrolled(auth, clock)
    assert auth.logout(token)
    assert auth.current(token) is None
    assert store.sessions.get(session_id(token)) is None
    assert _actions(store)[-1] == "logout"


def test_role_change_applies_to_live_sessions(auth: Auth, clock: Clock):
    _, token, _ = enrolled(auth, clock, role="viewer")
    auth.add_user("root", PASSWORD, "admin", "cli:test")
    assert auth.current(token).role == "viewer"
    auth.set_role("alice", "analyst", "cli:test")
    assert auth.current(token).role == "analyst"


def test_tokens_are_stored_hashed(auth: Auth, store: Store, clock: Clock):
    _, token, _ = enrolled(auth, clock)
    docs = store.sessions.of_user("alice")
    assert len(docs) == 1 and docs[0]["_id"] == session_id(token) and token not in str(docs)
    for hostile in (None, "", {"$ne": None}, "x" * 10_000, 42):
        assert auth.current(hostile) is None


def test_reset_totp_forces_a_new_enrolment(auth: Auth, store: Store, clock: Clock):
    _, token, _ = enrolled(auth, clock)
    auth.reset_totp("alice", "cli:test")
    assert auth.current(token) is None
    assert auth.login_password("alice", PASSWORD).next == "enrol"
    assert store.users.get("alice")["recovery_codes"] == []


def test_last_admin_cannot_be_removed(auth: Auth):
    auth.add_user("root", PASSWORD, "admin", "cli:test")
    with pytest.raises(UserError, match="last active admin"):
        auth.set_role("root", "viewer", "cli:test")
    with pytest.raises(UserError, match="last active admin"):
        auth.set_active("root", False, "cli:test")
    auth.add_user("root2", PASSWORD, "admin", "cli:test")
    auth.set_role("root", "viewer", "cli:test")
    assert auth.store.users.get("root")["role"] == "viewer"
