"""Each channel against a real local receiver: what Slack, Telegram, a webhook endpoint and an
SMTP relay receive, byte for byte where it matters; hostile post text stays inert."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from pipelines.alerts import render
from pipelines.alerts.channels import DeliveryError, send, verify_signature
from pipelines.alerts.models import Channel, Message, PostRef
from tests.alerts.conftest import SMTP_PASSWORD, SMTP_USER

HOSTILE = (
    "<script>alert(1)</script> <!channel> @here @everyone <https://evil.example|click me> "
    "[bank](https://evil.example) & *bold*"
)
WHEN = datetime(2013, 6, 21, 10, 0, tzinfo=UTC)


def message(**kw) -> Message:
    values = {
        "id": "anomaly|a1",
        "title": "Spike on Calgary flood: 120 vs 30 expected",
        "severity": 0.82,
        "kind": "spike",
        "rule": "Flood spikes",
        "summary": "Detected by prophet, stumpy",
        "link": "http://vigil.example:8501/anomalies?anomaly=a1",
        "watchlist": "Calgary flood",
        "observed": 120.0,
        "expected": 30.0,
        "window_start": WHEN,
        "window_end": WHEN.replace(hour=12),
        "posts": (
            PostRef("rss:1", "rss", HOSTILE, url="https://news.example/a?x=1|2>3", author="eve<b>", ts=WHEN),
            PostRef("rss:2", "rss", "River levels at record high", url="https://news.example/b", ts=WHEN),
        ),
    }
    values.update(kw)
    return Message(**values)


@pytest.fixture()
def client():
    with httpx.Client(timeout=5) as c:
        yield c


# --------------------------------------------------------------------------- Slack


def test_slack_receives_blocks_with_every_part(http_receiver, client, monkeypatch):
    monkeypatch.setenv("TEST_SLACK_URL", http_receiver.url("/services/T000/B000/XXX"))
    ch = Channel.make(name="slack", type="slack", url_env="TEST_SLACK_URL")
    assert send(ch, message(), "d1", client=client) == "slack: ok"
    (req,) = http_receiver.received("/services/T000/B000/XXX")
    body = req.json()
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Spike on Calgary flood: 120 vs 30 expected", "emoji": False},
    }
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert "*Severity*\nhigh (0.82)" in fields
    assert "*Observed vs expected*\nobserved 120 vs expected 30" in fields
    button = body["blocks"][-1]["elements"][0]
    assert button["url"] == "http://vigil.example:8501/anomalies?anomaly=a1"
    post_blocks = [
        b for b in body["blocks"] if b["type"] == "section" and "rss" in b.get("text", {}).get("text", "")
    ]
    assert len(post_blocks) == 2
    assert "<https://news.example/b|open post>" in post_blocks[1]["text"]["text"]
    assert body["unfurl_links"] is False


def test_slack_neutralises_hostile_post_text():
    payload = render.slack_payload(message())
    text = json.dumps(payload)
    post = next(b["text"] for b in payload["blocks"] if b["type"] == "section" and "script" in json.dumps(b))
    assert post["verbatim"] is True  # no auto-linking of URLs, channels or names
    body = post["text"]
    for live in ("<script>", "<!channel>", "<https://evil.example|click me>", "@here", "@everyone"):
        assert live not in body, live
    assert "&lt;script&gt;" in body and "&lt;!channel&gt;" in body and "&amp; *bold*" in body
    assert "@\u2060here" in body
    # The post URL cannot end the link early: '|' and '>' are percent-encoded.
    assert "<https://news.example/a?x=1%7C2%3E3|open post>" in body
    # The author name is escaped too, and nothing anywhere carries a raw broadcast.
    assert "eve&lt;b&gt;" in body and "<!channel>" not in text and "<!here>" not in text


# --------------------------------------------------------------------------- webhook


def test_webhook_is_signed_and_verifiable(http_receiver, client, monkeypatch):
    secret = "whsec-test-123"
    monkeypatch.setenv("TEST_HOOK_SECRET", secret)
    ch = Channel.make(
        name="hook", type="webhook", url=http_receiver.url("/hook"), secret_env="TEST_HOOK_SECRET"
    )
    before = int(time.time())
    send(ch, message(), "delivery-42", client=client)
    (req,) = http_receiver.received("/hook")
    sig = req.headers["x-vigil-signature"]
    assert sig.startswith("sha256=") and verify_signature(secret, req.body, sig)
    assert not verify_signature("wrong-secret", req.body, sig)
    assert not verify_signature(secret, req.body.replace(b"120", b"121"), sig)  # tampered body
    body = req.json()
    assert body["id"] == req.headers["x-vigil-delivery"] == "delivery-42"
    assert str(body["timestamp"]) == req.headers["x-vigil-timestamp"]
    assert before <= body["timestamp"] <= int(time.time())
    alert = body["alert"]
    assert alert["severity_label"] == "high" and alert["observed"] == 120.0 and alert["expected"] == 30.0
    assert (
        alert["posts"][0]["text"] == HOSTILE
    )  # JSON carries the raw text; escaping is the receiver's medium
    assert alert["link"] == "http://vigil.example:8501/anomalies?anomaly=a1"


def test_webhook_status_codes_decide_retry(http_receiver, client, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_SECRET", "k")
    ch = Channel.make(
        name="hook", type="webhook", url=http_receiver.url("/hook"), secret_env="TEST_HOOK_SECRET"
    )
    http_receiver.respond("/hook", 503, 404, 429)
    for code, retryable in ((503, True), (404, False), (429, True)):
        with pytest.raises(DeliveryError, match=f"HTTP {code}") as err:
            send(ch, message(), "d", client=client)
        assert err.value.retryable is retryable
    send(ch, message(), "d", client=client)  # then it answers 200
    assert len(http_receiver.received("/hook")) == 4


def test_missing_secret_names_the_variable(client, monkeypatch, tmp_path):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    monkeypatch.setenv("VIGIL_SECRETS_FILE", str(tmp_path / "none.toml"))
    ch = Channel.make(name="hook", type="webhook", url="http://127.0.0.1:9/x", secret_env="NOT_SET_ANYWHERE")
    with pytest.raises(DeliveryError, match="HMAC secret variable NOT_SET_ANYWHERE is not set") as err:
        send(ch, message(), "d", client=client)
    assert err.value.retryable is False


def test_secret_from_secrets_toml(http_receiver, client, monkeypatch, tmp_path):
    monkeypatch.delenv("HOOK_FROM_TOML", raising=False)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[vigil]\nHOOK_FROM_TOML = "toml-secret"\n')
    monkeypatch.setenv("VIGIL_SECRETS_FILE", str(secrets))
    ch = Channel.make(name="hook", type="webhook", url=http_receiver.url("/t"), secret_env="HOOK_FROM_TOML")
    send(ch, message(), "d", client=client)
    (req,) = http_receiver.received("/t")
    assert verify_signature("toml-secret", req.body, req.headers["x-vigil-signature"])


# --------------------------------------------------------------------------- Telegram


def test_telegram_send_message(http_receiver, client, monkeypatch):
    token = "123456:ABC-DEF_test"
    monkeypatch.setenv("TEST_TG_TOKEN", token)
    ch = Channel.make(
        name="tg", type="telegram", token_env="TEST_TG_TOKEN", chat_id="-1001234", api_base=http_receiver.base
    )
    assert send(ch, message(), "d", client=client) == "telegram: ok"
    (req,) = http_receiver.received(f"/bot{token}/sendMessage")
    body = req.json()
    assert body["chat_id"] == "-1001234" and body["parse_mode"] == "HTML"
    assert body["link_preview_options"] == {"is_disabled": True}
    text = body["text"]
    assert text.startswith("<b>Spike on Calgary flood: 120 vs 30 expected</b>")
    assert "&lt;script&gt;" in text and "<script>" not in text
    assert '<a href="http://vigil.example:8501/anomalies?anomaly=a1">Open in Vigil</a>' in text


def test_telegram_refusal_is_final_and_hides_the_token(http_receiver, client, monkeypatch):
    token = "999:SECRET_TOKEN"
    monkeypatch.setenv("TEST_TG_TOKEN", token)
    ch = Channel.make(
        name="tg", type="telegram", token_env="TEST_TG_TOKEN", chat_id="1", api_base=http_receiver.base
    )
    http_receiver.respond(f"/bot{token}/sendMessage", 400)
    with pytest.raises(DeliveryError) as err:
        send(ch, message(), "d", client=client)
    assert err.value.retryable is False and "chat not found" in str(err.value)
    assert "SECRET_TOKEN" not in str(err.value)


def test_telegram_text_is_capped():
    many = tuple({"title": "x" * 300, "severity_label": "high"} for _ in range(40))
    text = render.telegram_text(message(items=many, summary="s" * 5000))
    assert len(text) <= render.TELEGRAM_MAX


# --------------------------------------------------------------------------- email


def smtp_channel(rec, mail_to: str = "desk@example.org") -> Channel:
    """An email channel that logs in to the loopback SMTP receiver ``rec`` as SMTP_USER."""
    return Channel.make(
        name="mail",
        type="email",
        smtp_host="127.0.0.1",
        smtp_port=rec.port,
        smtp_security="none",
        smtp_user=SMTP_USER,
        password_env="TEST_SMTP_PASSWORD",
        mail_from="vigil@example.org",
        mail_to=mail_to,
    )


def test_email_is_multipart_with_inline_chart(smtp_receiver, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    ch = smtp_channel(smtp_receiver, mail_to="desk@example.org, ops@example.org")
    from pipelines.alerts.chart import volume_png

    rows = [
        {"hour": WHEN.replace(hour=h), "n": n}
        for h, n in zip(range(0, 24), [3, 4, 2, 5, 30, 80, 20, 4] * 3, strict=False)
    ]
    png = volume_png(rows, WHEN, WHEN.replace(hour=12))
    assert png and png.startswith(b"\x89PNG")
    assert send(ch, message(), "d", chart=lambda: png) == "email: sent to 2 recipient(s)"
    (mail,) = smtp_receiver.mails
    assert mail.mail_from == "vigil@example.org" and sorted(mail.rcpt_tos) == [
        "desk@example.org",
        "ops@example.org",
    ]
    msg = mail.message
    assert msg["Subject"] == "[Vigil high] Spike on Calgary flood: 120 vs 30 expected"
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()
    assert plain.get_content_type() == "text/plain"
    text = plain.get_payload(decode=True).decode()
    assert "Observed vs expected: observed 120 vs expected 30" in text
    assert "Open in Vigil: http://vigil.example:8501/anomalies?anomaly=a1" in text
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.get_payload()
    html = html_part.get_payload(decode=True).decode()
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert image.get_content_type() == "image/png" and image.get_payload(decode=True) == png
    # Hostile post text is inert in the HTML part.
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="https://evil.example"' not in html


def test_email_wrong_password_is_final(smtp_receiver, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    ch = smtp_channel(smtp_receiver)
    with pytest.raises(DeliveryError, match="SMTP login refused") as err:
        send(ch, message(), "d")
    assert err.value.retryable is False and smtp_receiver.mails == []


def test_unreachable_smtp_is_retryable():
    from tests.conftest import free_port

    ch = Channel.make(
        name="mail",
        type="email",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_security="none",
        mail_from="vigil@example.org",
        mail_to="desk@example.org",
    )
    with pytest.raises(DeliveryError) as err:
        send(ch, message(), "d")
    assert err.value.retryable is True
