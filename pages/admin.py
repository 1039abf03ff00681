"""Admin: users (add, role, disable, reset two-factor, unlock, password), the audit log
and the permission table. Admins only; every action re-checks the role on the server."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from components import auth
from pipelines.auth import ROLES, InvalidUsername, UserError, WeakPassword
from pipelines.auth.roles import table

me = auth.require_page("users.manage")
service = auth.get_auth()

st.title("Admin")
users_tab, audit_tab, perms_tab = st.tabs(["Users", "Audit log", "Permissions"])

CHANGE_ERRORS = (InvalidUsername, UserError, WeakPassword, ValueError)

with users_tab:
    users = service.list_users(me)
    st.dataframe(
        pl.DataFrame(
            users,
            schema={
                "username": pl.String,
                "role": pl.String,
                "active": pl.Boolean,
                "totp": pl.Boolean,
                "recovery_codes_left": pl.Int64,
                "created": pl.Datetime("us", "UTC"),
                "last_login": pl.Datetime("us", "UTC"),
            },
        ),
        hide_index=True,
        column_config={"totp": st.column_config.CheckboxColumn("two-factor set up")},
        key="admin_users_table",
    )

    st.subheader("Add a user")
    with st.form("admin_add_user", clear_on_submit=True):
        c1, c2 = st.columns(2)
        new_name = c1.text_input("Username", max_chars=64, key="admin_new_name")
        new_role = c2.selectbox("Role", ROLES, index=ROLES.index("viewer"), key="admin_new_role")
        pw1 = c1.text_input("Password", type="password", max_chars=1024, key="admin_new_pw1")
        pw2 = c2.text_input("Same password again", type="password", max_chars=1024, key="admin_new_pw2")
        add = st.form_submit_button("Add user", type="primary")
    if add:
        actor = auth.require_action("users.manage", "admin:add-user")
        if pw1 != pw2:
            st.error("The two passwords differ; nothing was changed.")
        else:
            try:
                doc = service.add_user(new_name, pw1, new_role, actor)
                st.success(
                    f"Added {doc['_id']} ({doc['role']}): they set up two-factor login at first login."
                )
            except CHANGE_ERRORS as exc:
                st.error(str(exc))

    st.subheader("Change a user")
    names = [u["username"] for u in users]
    if names:
        target = st.selectbox("User", names, key="admin_target")
        c1, c2 = st.columns(2)
        role = c1.selectbox("Role", ROLES, key="admin_role")
        actions = {
            "admin_set_role": (c1, "Set role"),
            "admin_disable": (c2, "Disable (ends their sessions)"),
            "admin_enable": (c2, "Enable"),
            "admin_reset_totp": (c2, "Reset two-factor login"),
            "admin_unlock": (c2, "Clear failed logins / lockout"),
        }
        pressed = [key for key, (col, label) in actions.items() if col.button(label, key=key)]
        with st.form("admin_password", clear_on_submit=True):
            npw1 = st.text_input("New password", type="password", max_chars=1024, key="admin_pw1")
            npw2 = st.text_input("Same password again", type="password", max_chars=1024, key="admin_pw2")
            if st.form_submit_button("Set password"):
                pressed.append("admin_password")
        for key in pressed:
            actor = auth.require_action("users.manage", f"admin:{key}")
            try:
                if key == "admin_set_role":
                    service.set_role(target, role, actor)
                    st.success(f"{target} is now {role}.")
                elif key == "admin_disable":
                    service.set_active(target, False, actor)
                    st.success(f"{target} is disabled.")
                elif key == "admin_enable":
                    service.set_active(target, True, actor)
                    st.success(f"{target} is enabled.")
                elif key == "admin_reset_totp":
                    service.reset_totp(target, actor)
                    st.success(f"{target} sets up two-factor login again at next login.")
                elif key == "admin_unlock":
                    cleared = service.unlock(target, actor)
                    st.success(f"{target} unlocked." if cleared else f"{target} had no failed logins.")
                elif npw1 != npw2:
                    st.error("The two passwords differ; nothing was changed.")
                else:
                    service.set_password(target, npw1, actor)
                    st.success(f"Password of {target} changed; their sessions ended.")
            except CHANGE_ERRORS as exc:
                st.error(str(exc))

with audit_tab:
    auth.require_page("audit.view")
    c1, c2, c3 = st.columns(3)
    action = c1.text_input(
        "Action (exact, or a prefix ending in '.')", max_chars=100, key="admin_audit_action"
    ).strip()
    actor_filter = c2.text_input("Actor", max_chars=200, key="admin_audit_actor").strip()
    limit = c3.number_input("Newest events", 10, 5000, 500, step=100, key="admin_audit_limit")
    events = auth.audit_events(int(limit), actor=actor_filter or None, action=action or None)
    rows = [
        {
            "at": e["at"],
            "actor": e["actor"],
            "action": e["action"],
            "target": e.get("target"),
            "details": json.dumps(e.get("details") or {}, ensure_ascii=False, default=str),
        }
        for e in events
    ]
    st.caption(f"{len(rows)} events, newest first. The log is append-only: Vigil never edits or deletes it.")
    st.dataframe(
        pl.DataFrame(
            rows,
            schema={
                "at": pl.Datetime("us", "UTC"),
                "actor": pl.String,
                "action": pl.String,
                "target": pl.String,
                "details": pl.String,
            },
        ),
        hide_index=True,
        column_config={"at": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss")},
        key="admin_audit_table",
    )

with perms_tab:
    st.dataframe(
        pl.DataFrame(
            [{"permission": g.permission, "what": g.help, "roles": ", ".join(g.roles)} for g in table()]
        ),
        hide_index=True,
        key="admin_perms_table",
    )
