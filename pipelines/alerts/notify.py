"""The notifier: queued deliveries out through their channels, with retries and a log.

Every delivery is one document in ``alerts``: one message (a single alert, a digest, or the
alerts held during quiet hours) for one channel. Its ``_id`` is a hash of (rule, event or
summary key, channel), so queueing the same thing twice is refused by the unique ``_id``:
a detector that updates the same anomaly on every cycle still yields one alert per
channel. Statuses: ``pending`` -> ``sent``, or ``retrying`` (with ``next_try`` after an
exponential backoff) -> ... -> ``failed`` after ``max_attempts`` or at once for an error a
retry cannot fix (a 400, a missing secret). Each delivery is sent in its own worker
thread with a timeout, so a slow or failing channel never holds up the others.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from pipelines.alerts import channels as senders
from pipelines.alerts.chart import volume_png
from pipelines.alerts.models import Channel, Message, PostRef
from pipelines.alerts.rules import retry_delay
from pipelines.store import Store, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE_S = 30.0
PARALLEL_SENDS = 4


def delivery_id(rule: str, group: str, channel: str) -> str:
    """Stable id of one (rule, event-or-summary, channel) delivery."""
    return hashlib.sha256(f"{rule}\x1f{group}\x1f{channel}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- message <-> doc


def message_to_doc(m: Message) -> dict[str, Any]:
    return asdict(m)


def message_from_doc(doc: dict[str, Any]) -> Message:
    values = dict(doc)
    values["posts"] = tuple(PostRef(**p) for p in values.get("posts") or ())
    values["items"] = tuple(values.get("items") or ())
    return Message(**values)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class Notifier:
    """Sends due deliveries; channel definitions come from the store, secrets from the environment."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = MAX_ATTEMPTS,
        retry_base_s: float = RETRY_BASE_S,
        client: httpx.Client | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.client = client or senders.make_client()
        self.watch_series: Callable[[str, datetime, datetime], list[dict[str, Any]]] | None = None
        """A watchlist's hourly posts (set by the alert service, which reads the search index)."""

    def close(self) -> None:
        self.client.close()

    def channels(self) -> dict[str, Channel]:
        out = {}
        for doc in self.store.alerts.list_config("alert_channels"):
            try:
                ch = Channel.from_doc(doc)
            except ValueError as exc:
                log.error("channel %r is invalid and is skipped: %s", doc.get("_id"), exc)
                continue
            out[ch.name] = ch
        return out

    def chart_for(self, delivery: dict[str, Any]) -> Callable[[], bytes | None] | None:
        """A lazy chart renderer (only email channels call it)."""
        spec = delivery.get("chart")
        if not spec:
            return None

        def render() -> bytes | None:
            since, until = spec["since"], spec["until"]
            if spec.get("watchlist") and self.watch_series is not None:
                rows = [
                    {"hour": d["hour"], "n": d.get("n", 0)}
                    for d in self.watch_series(spec["watchlist"], since, until)
                ]
            else:
                rows = self.store.rollups.sums("ingest", ["hour"], since, until)
            rows.sort(key=lambda r: r["hour"])
            return volume_png(rows, spec.get("mark_start"), spec.get("mark_end"))

        return render

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """Send every delivery whose ``next_try`` has come, in parallel; update the log."""
        now = self.clock()
        due = self.store.alerts.due_deliveries(now, limit)
        report = DeliveryReport()
        if not due:
            return report
        chans = self.channels()
        with ThreadPoolExecutor(max_workers=PARALLEL_SENDS, thread_name_prefix="vigil-send") as pool:
            futures = [(d, pool.submit(self._send_one, d, chans.get(d["channel"]))) for d in due]
            results = [(d, f.result()) for d, f in futures]
        for d, (ok, info, retryable) in results:
            attempts = int(d.get("attempts") or 0) + 1
            if ok:
                self.store.alerts.update_delivery(
                    d["_id"], status="sent", attempts=attempts, sent_at=now, receipt=info, last_error=None
                )
                report.sent += 1
                continue
            if retryable and attempts < self.max_attempts:
                nxt = now + retry_delay(attempts, self.retry_base_s)
                self.store.alerts.update_delivery(
                    d["_id"], status="retrying", attempts=attempts, last_error=info, next_try=nxt
                )
                report.retrying += 1
                log.warning(
                    "delivery %s to %s failed (attempt %d), retrying at %s: %s",
                    d["_id"][:8],
                    d["channel"],
                    attempts,
                    nxt,
                    info,
                )
            else:
                self.store.alerts.update_delivery(
                    d["_id"], status="failed", attempts=attempts, last_error=info
                )
                report.failed += 1
                log.error(
                    "delivery %s to %s failed for good after %d attempt(s): %s",
                    d["_id"][:8],
                    d["channel"],
                    attempts,
                    info,
                )
            report.errors.append(info)
        return report

    def _send_one(self, d: dict[str, Any], ch: Channel | None) -> tuple[bool, str, bool]:
        if ch is None:
            return False, f"channel {d['channel']!r} does not exist (any more)", False
        try:
            msg = message_from_doc(d["payload"])
            receipt = senders.send(ch, msg, d["_id"], client=self.client, chart=self.chart_for(d))
            return True, receipt, False
        except senders.DeliveryError as exc:
            return False, str(exc), exc.retryable
        except Exception as exc:
            log.exception("unexpected error sending delivery %s", d["_id"])
            return False, f"{type(exc).__name__}: {exc}", True


def make_test_message(channel: str, public_url: str | None = None) -> Message:
    """The message of a channel test (``alerts test-channel``, the UI's "send test")."""
    now = utcnow()
    return Message(
        id=f"test-{uuid.uuid4().hex[:8]}",
        title=f"Vigil test alert for channel {channel}",
        severity=0.1,
        kind="test",
        rule="test",
        summary="If you can read this, Vigil can reach this channel. Nothing is wrong.",
        link=public_url,
        observed=1.0,
        expected=1.0,
        window_start=now - timedelta(hours=1),
        window_end=now,
        created=now,
    )


def send_test(
    store: Store, name: str, public_url: str | None = None, client: httpx.Client | None = None
) -> tuple[bool, str]:
    """Send a test message through one channel now (no retry) and log it; ``(ok, detail)``."""
    doc = store.alerts.get_config("alert_channels", name)
    if doc is None:
        return False, f"no channel named {name!r}"
    ch = Channel.from_doc(doc)
    msg = make_test_message(name, public_url)
    now = utcnow()
    did = f"test-{uuid.uuid4().hex}"
    try:
        detail = senders.send(ch, msg, did, client=client)
        ok = True
    except senders.DeliveryError as exc:
        detail, ok = str(exc), False
    store.alerts.enqueue_delivery(
        {
            "_id": did,
            "rule": "test",
            "kind": "test",
            "channel": name,
            "channel_type": ch.type,
            "title": msg.title,
            "severity": msg.severity,
            "status": "sent" if ok else "failed",
            "attempts": 1,
            "at": now,
            "next_try": now,
            "sent_at": now if ok else None,
            "last_error": None if ok else detail,
            "receipt": detail if ok else None,
            "payload": message_to_doc(msg),
        }
    )
    return ok, detail
