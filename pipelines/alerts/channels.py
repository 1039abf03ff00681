"""Senders, one per channel type: Slack incoming webhooks, SMTP email, Telegram, signed webhooks.

Each sender takes a :class:`~pipelines.alerts.models.Channel`, a rendered
:class:`~pipelines.alerts.models.Message` and the delivery id, and either returns a short
receipt or raises :class:`DeliveryError` saying whether a retry could help (a timeout, a
5xx or a 429 can; a 400, a 404 or a missing secret cannot). Secrets are looked up by name
at send time (:func:`resolve_secret`), so none is ever stored.

The webhook signature: ``X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with
the channel secret; the body carries ``timestamp`` (also sent as ``X-Vigil-Timestamp``) and
the delivery ``id``, so a receiver can refuse stale or replayed requests (docs/alerts.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import smtplib
import ssl
import time
import tomllib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx

from pipelines.alerts import render
from pipelines.alerts.models import Channel, Message
from pipelines.core.config import REPO_ROOT

TIMEOUT_S = 10.0
USER_AGENT = "Vigil-Alerts/1.0"
SECRETS_FILE = REPO_ROOT / ".streamlit" / "secrets.toml"


class DeliveryError(RuntimeError):
    """A send that failed; ``retryable`` says whether trying again later could succeed."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def resolve_secret(name: str | None, what: str, channel: str, secrets_file: Path | None = None) -> str:
    """The value of environment variable ``name``, else of key ``name`` in secrets.toml.

    secrets.toml may hold the key at the top level or in a ``[vigil]`` table.
    """
    if not name:
        raise DeliveryError(f"channel {channel!r}: no {what} variable configured", retryable=False)
    value = os.environ.get(name)
    if value:
        return value
    path = secrets_file or Path(os.environ.get("VIGIL_SECRETS_FILE") or SECRETS_FILE)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DeliveryError(f"cannot read {path}: {exc}", retryable=False) from exc
        value = data.get(name) or (data.get("vigil") or {}).get(name)
        if isinstance(value, str) and value:
            return value
    raise DeliveryError(
        f"channel {channel!r}: {what} variable {name} is not set (environment or {path.name})",
        retryable=False,
    )


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw body with the channel secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of an ``X-Vigil-Signature`` header (what a receiver does)."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header or "")


def _check_response(resp: httpx.Response, channel: str) -> None:
    if resp.status_code < 300:
        return
    retryable = resp.status_code >= 500 or resp.status_code in (408, 425, 429)
    raise DeliveryError(
        f"channel {channel!r}: HTTP {resp.status_code} {resp.text[:200].strip()!r}", retryable=retryable
    )


def _post(client: httpx.Client, url: str, channel: str, **kw: Any) -> httpx.Response:
    try:
        resp = client.post(url, **kw)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"channel {channel!r}: timed out after {TIMEOUT_S:g} s", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"channel {channel!r}: {type(exc).__name__}: {exc}", retryable=True) from exc
    _check_response(resp, channel)
    return resp


def send_slack(ch: Channel, m: Message, delivery_id: str, client: httpx.Client, **_: Any) -> str:
    url = resolve_secret(ch.url_env, "Slack webhook URL", ch.name)
    _post(client, url, ch.name, json=render.slack_payload(m))
    return "slack: ok"


def send_webhook(ch: Channel, m: Message, delivery_id: str, client: httpx.Client, **_: Any) -> str:
    url = ch.url or resolve_secret(ch.url_env, "webhook URL", ch.name)
    secret = resolve_secret(ch.secret_env, "HMAC secret", ch.name)
    ts = int(time.time())
    body = render.webhook_body(m, delivery_id=delivery_id, timestamp=ts)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Vigil-Timestamp": str(ts),
        "X-Vigil-Delivery": delivery_id,
        "X-Vigil-Signature": sign(secret, body),
    }
    resp = _post(client, url, ch.name, content=body, headers=headers)
    return f"webhook: HTTP {resp.status_code}"


def send_telegram(ch: Channel, m: Message, delivery_id: str, client: httpx.Client, **_: Any) -> str:
    token = resolve_secret(ch.token_env, "Telegram bot token", ch.name)
    url = f"{ch.api_base.rstrip('/')}/bot{token}/sendMessage"
    payload = {
        "chat_id": ch.chat_id,
        "text": render.telegram_text(m),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    try:
        resp = _post(client, url, ch.name, json=payload)
    except DeliveryError as exc:  # never log the token, which is part of the URL
        raise DeliveryError(str(exc).replace(token, "<token>"), exc.retryable) from None
    data = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if data and not data.get("ok", False):
        raise DeliveryError(
            f"channel {ch.name!r}: Telegram said {data.get('description')!r}", retryable=False
        )
    return "telegram: ok"


def build_email(ch: Channel, m: Message, chart_png: bytes | None) -> EmailMessage:
    """A multipart message: plain text, and HTML with the chart as an inline PNG (cid)."""
    msg = EmailMessage()
    msg["Subject"] = f"[Vigil {m.severity_label}] {m.title}"[:250]
    msg["From"] = ch.mail_from or ""
    msg["To"] = ", ".join(ch.mail_to)
    msg["Message-ID"] = make_msgid(domain="vigil.local")
    msg["X-Vigil-Alert"] = m.id
    msg.set_content(render.plain_text(m))
    cid = make_msgid(domain="vigil.local") if chart_png else None
    msg.add_alternative(render.email_html(m, cid[1:-1] if cid else None), subtype="html")
    if chart_png and cid:
        html_part = msg.get_payload()[1]
        html_part.add_related(chart_png, maintype="image", subtype="png", cid=cid, filename="chart.png")
    return msg


def send_email(
    ch: Channel,
    m: Message,
    delivery_id: str,
    client: httpx.Client | None = None,
    chart: Callable[[], bytes | None] | None = None,
    **_: Any,
) -> str:
    password = resolve_secret(ch.password_env, "SMTP password", ch.name) if ch.smtp_user else None
    msg = build_email(ch, m, chart() if chart else None)
    host, port = ch.smtp_host or "", ch.smtp_port
    try:
        if ch.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=TIMEOUT_S, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT_S)
        with smtp:
            if ch.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if ch.smtp_user and password:
                smtp.login(ch.smtp_user, password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"channel {ch.name!r}: SMTP login refused ({exc.smtp_code})", retryable=False
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"channel {ch.name!r}: every recipient refused", retryable=False) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"channel {ch.name!r}: SMTP {exc.smtp_code} {exc.smtp_error[:120]!r}",
            retryable=exc.smtp_code >= 400 and exc.smtp_code < 500,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"channel {ch.name!r}: {type(exc).__name__}: {exc}", retryable=True) from exc
    if refused:
        return f"email: sent, refused for {', '.join(refused)}"
    return f"email: sent to {len(ch.mail_to)} recipient(s)"


SENDERS: dict[str, Callable[..., str]] = {
    "slack": send_slack,
    "webhook": send_webhook,
    "telegram": send_telegram,
    "email": send_email,
}


def send(
    ch: Channel,
    m: Message,
    delivery_id: str,
    client: httpx.Client | None = None,
    chart: Callable[[], bytes | None] | None = None,
) -> str:
    """Send one message through one channel; raises :class:`DeliveryError`."""
    if not ch.enabled:
        raise DeliveryError(f"channel {ch.name!r} is disabled", retryable=False)
    own = client is None
    client = client or make_client()
    try:
        return SENDERS[ch.type](ch, m, delivery_id, client=client, chart=chart)
    finally:
        if own:
            client.close()


def make_client() -> httpx.Client:
    """The HTTP client senders share: a timeout on everything, no redirects followed
    (a webhook endpoint that redirects is misconfigured, and a redirect could leak the body)."""
    return httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, headers={"User-Agent": USER_AGENT})
