"""Alert rules, notification channels, rule events and rendered-message inputs: validation only.

Channels never hold secrets. A Slack webhook URL, a Telegram bot token, an SMTP password
or an HMAC secret is referenced by the NAME of an environment variable (or a key of
``.streamlit/secrets.toml``) and resolved when a message is sent, so the database and the
repository never contain one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.search.watchlists import ID_RE, WatchlistError, first_error, slugify

RULE_KINDS = ("spike", "threshold", "volume", "sentiment_shift", "new_place")
CHANNEL_TYPES = ("slack", "email", "telegram", "webhook")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_CHANNELS_PER_RULE = 20


class AlertConfigError(ValueError):
    """A rule or channel that cannot be saved; the message names the field and value."""


def _id_check(v: str) -> str:
    if not isinstance(v, str) or not ID_RE.match(v):
        raise ValueError(f"id {str(v)[:60]!r} must be 1-48 lowercase letters, digits, '-' or '_'")
    return v


def _tz_check(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Paris)") from exc
    return v


class QuietHours(BaseModel):
    """Local times between which nothing is sent (``start`` > ``end`` spans midnight)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end are equal")
        return self


class Rule(BaseModel):
    """An alert rule on one watchlist (or, for spikes and thresholds, on everything).

    Kinds and their parameters:

    - ``spike``: an anomaly on the watchlist's series (any series when no watchlist)
      with ``severity >= min_severity``.
    - ``threshold``: any post with ``scores.<score> >= min_score``; without ``min_score``,
      the score's tuned "high" cut (:func:`pipelines.scoring.thresholds.high_thresholds`,
      chosen on tune splits, the cut of the "high threat" counts).
    - ``volume``: at least ``min_posts`` posts in a window of ``window_hours`` hours.
    - ``sentiment_shift``: mean sentiment over the last ``window_hours`` falls by at least
      ``drop`` against the ``baseline_days`` before it (each side needs ``min_scored``).
    - ``new_place``: a place never seen before for this watchlist.

    Events are looked for over the last ``lookback_hours`` of data. ``cooldown_minutes``
    after a sent alert, further events are recorded as suppressed. During ``quiet`` hours
    (local to ``tz``) events are held and sent as one summary when quiet hours end.
    ``digest`` ``hourly``/``daily`` replaces single alerts by one summary per period
    (daily at ``digest_hour`` local time).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["spike", "threshold", "volume", "sentiment_shift", "new_place"]
    watchlist: str | None = None
    channels: tuple[str, ...] = ()
    enabled: bool = True
    min_severity: float = Field(default=0.5, ge=0, le=1)
    score: Literal["threat", "hate", "toxicity"] = "threat"
    min_score: float | None = Field(default=None, ge=0, le=1)
    min_posts: int = Field(default=50, ge=1, le=10_000_000)
    window_hours: int = Field(default=1, ge=1, le=168)
    drop: float = Field(default=0.3, gt=0, le=2)
    baseline_days: int = Field(default=7, ge=1, le=60)
    min_scored: int = Field(default=10, ge=1)
    lookback_hours: int = Field(default=24, ge=1, le=24 * 90)
    cooldown_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    tz: str = "UTC"
    quiet: QuietHours | None = None
    digest: Literal["off", "hourly", "daily"] = "off"
    digest_hour: int = Field(default=8, ge=0, le=23)
    owner: str | None = None

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        return _id_check(v)

    @field_validator("tz")
    @classmethod
    def _tz_ok(cls, v: str) -> str:
        return _tz_check(v)

    @field_validator("watchlist")
    @classmethod
    def _watch(cls, v: str | None) -> str | None:
        return _id_check(v) if v else None

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, v: Any) -> tuple[str, ...]:
        if v is None:
            return ()
        if isinstance(v, str):
            v = [c for c in re.split(r"[,\s]+", v) if c]
        if not isinstance(v, list | tuple) or len(v) > MAX_CHANNELS_PER_RULE:
            raise ValueError(f"channels must be a list of at most {MAX_CHANNELS_PER_RULE} names")
        return tuple(dict.fromkeys(_id_check(c) for c in v))

    @model_validator(mode="after")
    def _needs_watchlist(self) -> Rule:
        if self.kind in ("volume", "sentiment_shift", "new_place") and not self.watchlist:
            raise ValueError(f"a {self.kind} rule needs a watchlist")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @classmethod
    def make(cls, **values: Any) -> Rule:
        values = dict(values)
        if not str(values.get("name") or "").strip():
            raise AlertConfigError("name: a rule needs a name")
        if not values.get("id"):
            values["id"] = slugify(str(values["name"]))
        try:
            return cls.model_validate(values)
        except (ValueError, WatchlistError) as exc:
            raise AlertConfigError(first_error(exc, "rule")) from exc

    def to_doc(self) -> dict[str, Any]:
        doc = self.model_dump(exclude={"id"}, mode="json")
        doc["_id"] = self.id
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Rule:
        values = {k: v for k, v in doc.items() if k in cls.model_fields}
        return cls.model_validate({**values, "id": doc["_id"]})

    @property
    def score_cut(self) -> float:
        """What a ``threshold`` rule compares with: ``min_score``, else the tuned high cut.

        Read when the rule runs, so a retrained card or ``VIGIL_HIGH_CUTS`` applies to
        rules saved before it.
        """
        if self.min_score is not None:
            return self.min_score
        from pipelines.scoring.thresholds import high_cut

        return high_cut(self.score)

    def describe(self) -> str:
        """One line saying what the rule fires on (for the UI and messages)."""
        what = {
            "spike": f"anomaly with severity >= {self.min_severity:g}",
            "threshold": f"a post with {self.score} >= {self.score_cut:g}"
            + ("" if self.min_score is not None else " (the tuned high cut)"),
            "volume": f">= {self.min_posts} posts in {self.window_hours} h",
            "sentiment_shift": (
                f"mean sentiment over {self.window_hours} h falls by >= {self.drop:g} "
                f"against the previous {self.baseline_days} days"
            ),
            "new_place": "a place never seen before",
        }[self.kind]
        return f"{what} on {'watchlist ' + self.watchlist if self.watchlist else 'any series'}"


class Channel(BaseModel):
    """Where alerts go. Secret values are named by environment variable, never stored.

    - ``slack``: ``url_env`` names the incoming-webhook URL.
    - ``webhook``: ``url`` (or ``url_env``) and ``secret_env``, the HMAC-SHA256 key.
    - ``telegram``: ``token_env`` names the bot token; ``chat_id``; ``api_base``.
    - ``email``: ``smtp_host``, ``smtp_port``, ``smtp_security``, ``smtp_user``,
      ``password_env``, ``mail_from``, ``mail_to``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: Literal["slack", "email", "telegram", "webhook"]
    enabled: bool = True
    url: str | None = None
    url_env: str | None = None
    secret_env: str | None = None
    token_env: str | None = None
    chat_id: str | None = None
    api_base: str = "https://api.telegram.org"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str | None = None
    password_env: str | None = None
    mail_from: str | None = None
    mail_to: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        return _id_check(v)

    @field_validator("url_env", "secret_env", "token_env", "password_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not ENV_NAME.match(v):
            raise ValueError(
                f"{v[:20]!r} is not an environment variable name: put the secret in the environment "
                "and give its NAME here"
            )
        return v

    @field_validator("url", "api_base")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v[:60]!r} is not an http(s) URL")
        return v.rstrip("/") if v.count("/") <= 3 else v

    @field_validator("mail_to", mode="before")
    @classmethod
    def _mail_to(cls, v: Any) -> tuple[str, ...]:
        if v is None:
            return ()
        if isinstance(v, str):
            v = [a for a in re.split(r"[,\s;]+", v) if a]
        out = tuple(str(a).strip() for a in v)
        for a in out:
            if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", a):
                raise ValueError(f"{a[:60]!r} is not an email address")
        return out

    @model_validator(mode="after")
    def _complete(self) -> Channel:
        need: dict[str, tuple[str, ...]] = {
            "slack": ("url_env",),
            "webhook": ("secret_env",),
            "telegram": ("token_env", "chat_id"),
            "email": ("smtp_host", "mail_from", "mail_to"),
        }
        if self.type == "slack" and self.url:
            raise ValueError(
                "a Slack webhook URL is a secret: put it in an environment variable and name it in url_env"
            )
        missing = [f for f in need[self.type] if not getattr(self, f)]
        if missing:
            raise ValueError(f"a {self.type} channel needs {', '.join(missing)}")
        if self.type == "webhook" and not (self.url or self.url_env):
            raise ValueError("a webhook channel needs url or url_env")
        if self.smtp_user and not self.password_env and self.type == "email":
            raise ValueError("smtp_user is set but password_env (the variable holding the password) is not")
        return self

    @classmethod
    def make(cls, **values: Any) -> Channel:
        try:
            return cls.model_validate({k: v for k, v in values.items() if v is not None})
        except ValueError as exc:
            raise AlertConfigError(first_error(exc, "channel")) from exc

    def to_doc(self) -> dict[str, Any]:
        doc = self.model_dump(mode="json")
        doc["_id"] = self.name
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Channel:
        return cls.model_validate({k: v for k, v in doc.items() if k in cls.model_fields})

    def target(self) -> str:
        """Where it sends, without secrets (for the UI)."""
        if self.type == "email":
            return f"{', '.join(self.mail_to)} via {self.smtp_host}:{self.smtp_port}"
        if self.type == "telegram":
            return f"chat {self.chat_id} (token ${self.token_env})"
        if self.type == "slack":
            return f"${self.url_env}"
        return self.url or f"${self.url_env}"


@dataclass(frozen=True)
class PostRef:
    """A post shown in an alert (text is hostile input: every renderer escapes it)."""

    id: str
    source: str
    text: str
    url: str | None = None
    author: str | None = None
    ts: datetime | None = None
    score: float | None = None


@dataclass(frozen=True)
class Event:
    """Something a rule found. ``key`` is stable: the same anomaly or post gives the same key
    across cycles, which is what makes alerts exactly-once per (rule, key, channel)."""

    rule: str
    kind: str
    key: str
    title: str
    severity: float
    at: datetime
    watchlist: str | None = None
    series: str | None = None
    observed: float | None = None
    expected: float | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    detail: str = ""
    posts: tuple[PostRef, ...] = ()
    link_path: str = ""


def severity_label(severity: float) -> str:
    """low < 0.4 <= medium < 0.7 <= high < 0.9 <= critical."""
    if severity >= 0.9:
        return "critical"
    if severity >= 0.7:
        return "high"
    if severity >= 0.4:
        return "medium"
    return "low"


@dataclass(frozen=True)
class Message:
    """What every channel renders: a single alert, or a summary of several (``items``)."""

    id: str
    title: str
    severity: float
    kind: str
    rule: str
    summary: str
    link: str | None = None
    watchlist: str | None = None
    observed: float | None = None
    expected: float | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    posts: tuple[PostRef, ...] = ()
    items: tuple[dict[str, Any], ...] = ()
    created: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def severity_label(self) -> str:
        return severity_label(self.severity)
