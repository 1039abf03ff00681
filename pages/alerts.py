"""Alerts: the delivery log, alert rules, and notification channels (with a "send test")."""

from __future__ import annotations

from datetime import time

import streamlit as st

from components import alerts as ui
from components import auth, data
from pipelines.alerts import views
from pipelines.alerts.models import RULE_KINDS, AlertConfigError, Channel, Rule
from pipelines.alerts.notify import send_test
from pipelines.core.config import Settings
from pipelines.core.escape import markdown_text
from pipelines.scoring.thresholds import high_thresholds

user = auth.require_page("alerts.view")
st.title("Alerts")
store = data.get_store()
editor = auth.can("alerts.edit")
for key in ("al_msg_ok", "al_msg_err"):
    if msg := st.session_state.pop(key, None):
        (st.success if key.endswith("ok") else st.error)(markdown_text(msg))

history, rules_tab, channels_tab = st.tabs(["History", "Rules", "Channels"])

# --------------------------------------------------------------------------- history
with history:
    c1, c2, c3 = st.columns(3)
    status = c1.selectbox("Status", ["all", "sent", "retrying", "failed", "pending"], key="al_status")
    rule_ids = [r.id for r in views.rules(store)]
    rule = c2.selectbox("Rule", ["all", *rule_ids, "test"], key="al_rule")
    chan_names = [c.name for c in views.channels(store)]
    channel = c3.selectbox("Channel", ["all", *chan_names], key="al_channel")
    log = ui.deliveries(
        None if status == "all" else status,
        None if rule == "all" else rule,
        None if channel == "all" else channel,
    )
    counts = {s: log.filter(log["status"] == s).height for s in ("sent", "retrying", "failed")}
    m1, m2, m3 = st.columns(3)
    m1.metric("Sent", counts["sent"])
    m2.metric("Retrying", counts["retrying"])
    m3.metric("Failed", counts["failed"])
    ui.render_deliveries(log)

# --------------------------------------------------------------------------- rules
with rules_tab:
    table = ui.rules_table()
    if table.is_empty():
        st.info("No alert rule yet.")
    else:
        st.dataframe(table, hide_index=True)
    if not editor:
        st.caption("Only analysts and admins edit rules.")
    else:
        watch = ui.visible_watchlists(user.username, user.role)
        with st.form("al_rule_form"):
            st.markdown("**Add or replace a rule** (a rule with the same name is replaced)")
            f1, f2, f3 = st.columns(3)
            r_name = f1.text_input("Name", key="al_r_name")
            r_kind = f2.selectbox("Fires on", RULE_KINDS, key="al_r_kind")
            r_watch = f3.selectbox(
                "Watchlist",
                ["(any series)", *(w.id for w in watch)],
                format_func=lambda i: i if i.startswith("(") else next(w.name for w in watch if w.id == i),
                key="al_r_watch",
            )
            r_channels = st.multiselect("Channels", chan_names, key="al_r_channels")
            p1, p2, p3, p4 = st.columns(4)
            r_sev = p1.number_input("Spike: min severity", 0.0, 1.0, 0.5, 0.05, key="al_r_sev")
            r_score = p2.selectbox("Threshold: score", ["threat", "hate", "toxicity"], key="al_r_score")
            cuts = high_thresholds()
            r_min_score = p3.number_input(
                "Threshold: min score",
                0.0,
                1.0,
                None,
                0.05,
                key="al_r_min_score",
                placeholder="tuned high cut",
                help="Empty: the score's tuned high cut ("
                + ", ".join(f"{k} {v:g}" for k, v in cuts.items())
                + "), the cut of the high-threat counts.",
            )
            r_posts = p4.number_input("Volume: min posts", 1, 10_000_000, 50, key="al_r_posts")
            q1, q2, q3, q4 = st.columns(4)
            r_window = q1.number_input("Window (hours)", 1, 168, 1, key="al_r_window")
            r_drop = q2.number_input("Sentiment: drop", 0.05, 2.0, 0.3, 0.05, key="al_r_drop")
            r_lookback = q3.number_input("Look back (hours of data)", 1, 24 * 90, 24, key="al_r_lookback")
            r_cool = q4.number_input("Cooldown (minutes)", 0, 7 * 24 * 60, 60, key="al_r_cool")
            t1, t2, t3, t4 = st.columns(4)
            r_tz = t1.text_input("Time zone", "UTC", key="al_r_tz", help="IANA name, e.g. Europe/Paris")
            r_quiet = t2.checkbox("Quiet hours", key="al_r_quiet")
            r_q_start = t3.time_input("Quiet from", time(22, 0), key="al_r_q_start")
            r_q_end = t4.time_input("Quiet until", time(7, 0), key="al_r_q_end")
            d1, d2 = st.columns(2)
            r_digest = d1.selectbox("Digest", ["off", "hourly", "daily"], key="al_r_digest")
            r_digest_hour = d2.number_input("Daily digest at (local hour)", 0, 23, 8, key="al_r_digest_hour")
            r_submit = st.form_submit_button("Save rule", type="primary")
        if r_submit:
            auth.require_action("alerts.edit", f"rule:{r_name}")
            try:
                rule_obj = Rule.make(
                    name=r_name,
                    kind=r_kind,
                    watchlist=None if r_watch.startswith("(") else r_watch,
                    channels=r_channels,
                    min_severity=r_sev,
                    score=r_score,
                    min_score=r_min_score,
                    min_posts=int(r_posts),
                    window_hours=int(r_window),
                    drop=r_drop,
                    lookback_hours=int(r_lookback),
                    cooldown_minutes=int(r_cool),
                    tz=r_tz.strip() or "UTC",
                    quiet={"start": r_q_start, "end": r_q_end} if r_quiet else None,
                    digest=r_digest,
                    digest_hour=int(r_digest_hour),
                    owner=user.username,
                )
            except AlertConfigError as exc:
                st.error(markdown_text(exc))
            else:
                store.alerts.put_config("alert_rules", rule_obj.to_doc())
                auth.record(
                    "alert.rule.save", rule_obj.id, {"kind": rule_obj.kind, "watchlist": rule_obj.watchlist}
                )
                data.clear()
                st.session_state["al_msg_ok"] = f"Saved rule {rule_obj.id}: {rule_obj.describe()}."
                st.rerun()
        if rule_ids:
            d1, d2 = st.columns([3, 1])
            gone = d1.selectbox("Delete a rule", rule_ids, key="al_r_delete")
            if d2.button("Delete rule", key="al_r_delete_btn"):
                auth.require_action("alerts.edit", f"rule:{gone}")
                store.alerts.delete_config("alert_rules", gone)
                auth.record("alert.rule.delete", gone)
                data.clear()
                st.session_state["al_msg_ok"] = f"Deleted rule {gone}."
                st.rerun()

# --------------------------------------------------------------------------- channels
with channels_tab:
    chans = views.channels(store)
    if not chans:
        st.info(
            "No channel yet. Secrets (webhook URLs, tokens, passwords) are never typed here: put them in "
            "the environment or .streamlit/secrets.toml and give the variable's NAME (docs/alerts.md)."
        )
    for ch in chans:
        row = st.columns([2, 1, 4, 1])
        row[0].markdown(f"**{markdown_text(ch.name)}**")
        row[1].caption(ch.type)
        row[2].text(ch.target())  # plain text: no Markdown, no auto-linking
        if editor and row[3].button("Send test", key=f"al_test_{ch.name}"):
            auth.require_action("alerts.edit", f"channel:{ch.name}")
            ok, detail = send_test(store, ch.name, Settings().vigil_public_url)
            auth.record("alert.channel.test", ch.name, {"ok": ok})
            data.clear()
            st.session_state["al_msg_ok" if ok else "al_msg_err"] = (
                f"Test sent through {ch.name}: {detail}" if ok else f"Test through {ch.name} failed: {detail}"
            )
            st.rerun()
    if editor:
        with st.form("al_channel_form"):
            st.markdown("**Add or replace a channel**")
            a1, a2 = st.columns(2)
            c_name = a1.text_input("Name", key="al_c_name", help="lower-case letters, digits, '-', '_'")
            c_type = a2.selectbox("Type", ["webhook", "slack", "email", "telegram"], key="al_c_type")
            st.caption(
                "Webhook: URL + secret variable. Slack: URL variable. Telegram: token variable + chat id. "
                "Email: SMTP host, port, security, user + password variable, from, to."
            )
            b1, b2 = st.columns(2)
            c_url = b1.text_input("Webhook URL", key="al_c_url")
            c_url_env = b2.text_input("URL variable (Slack, or a secret webhook URL)", key="al_c_url_env")
            b3, b4 = st.columns(2)
            c_secret_env = b3.text_input("HMAC secret variable (webhook)", key="al_c_secret_env")
            c_token_env = b4.text_input("Bot token variable (Telegram)", key="al_c_token_env")
            b5, b6 = st.columns(2)
            c_chat = b5.text_input("Chat id (Telegram)", key="al_c_chat")
            c_api = b6.text_input("Telegram API base", "https://api.telegram.org", key="al_c_api")
            e1, e2, e3 = st.columns(3)
            c_host = e1.text_input("SMTP host", key="al_c_host")
            c_port = e2.number_input("SMTP port", 1, 65535, 587, key="al_c_port")
            c_sec = e3.selectbox("Security", ["starttls", "ssl", "none"], key="al_c_sec")
            e4, e5 = st.columns(2)
            c_user = e4.text_input("SMTP user", key="al_c_user")
            c_pw_env = e5.text_input("SMTP password variable", key="al_c_pw_env")
            e6, e7 = st.columns(2)
            c_from = e6.text_input("From", key="al_c_from")
            c_to = e7.text_input("To (comma separated)", key="al_c_to")
            c_submit = st.form_submit_button("Save channel", type="primary")
        if c_submit:
            auth.require_action("alerts.edit", f"channel:{c_name}")
            values = {
                "name": c_name.strip(),
                "type": c_type,
                "url": c_url.strip() or None,
                "url_env": c_url_env.strip() or None,
                "secret_env": c_secret_env.strip() or None,
                "token_env": c_token_env.strip() or None,
                "chat_id": c_chat.strip() or None,
                "api_base": c_api.strip() or None,
                "smtp_host": c_host.strip() or None,
                "smtp_port": int(c_port),
                "smtp_security": c_sec,
                "smtp_user": c_user.strip() or None,
                "password_env": c_pw_env.strip() or None,
                "mail_from": c_from.strip() or None,
                "mail_to": c_to.strip() or None,
            }
            try:
                ch = Channel.make(**values)
            except AlertConfigError as exc:
                st.error(markdown_text(exc))
            else:
                store.alerts.put_config("alert_channels", ch.to_doc())
                auth.record("alert.channel.save", ch.name, {"type": ch.type})
                data.clear()
                st.session_state["al_msg_ok"] = f"Saved channel {ch.name} ({ch.type})."
                st.rerun()
