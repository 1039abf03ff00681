"""Pure rule evaluation and delivery decisions: table-driven, no store, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from pipelines.alerts import rules as R
from pipelines.alerts.models import AlertConfigError, Channel, PostRef, Rule

NOW = datetime(2013, 6, 21, 12, 30, tzinfo=UTC)


def rule(**kw) -> Rule:
    kw.setdefault("name", "r")
    return Rule.make(**kw)


def anomaly(i: str, series: str, severity: float, end_h: float = 1.0) -> R.AnomalyView:
    end = NOW - timedelta(hours=end_h)
    return R.AnomalyView(i, series, end - timedelta(hours=2), end, severity, observed=120.0, expected=30.0)


# --------------------------------------------------------------------------- spike


@pytest.mark.parametrize(
    ("watchlist", "min_severity", "expected_keys"),
    [
        ("acme", 0.5, {"anomaly|a1"}),  # only the watchlist's series, above the severity
        ("acme", 0.95, set()),
        (None, 0.5, {"anomaly|a1", "anomaly|b1"}),  # no watchlist: any series
        (None, 0.1, {"anomaly|a1", "anomaly|a2", "anomaly|b1"}),
    ],
)
def test_spike(watchlist, min_severity, expected_keys):
    anomalies = [
        anomaly("a1", "watch:acme", 0.8),
        anomaly("a2", "watch:acme", 0.3),
        anomaly("b1", "source:rss", 0.9),
        anomaly("old", "watch:acme", 0.99, end_h=30),  # ended before the 24 h look-back
        R.AnomalyView(  # an analyst marked it a false positive: never alerts
            "fp", "watch:acme", NOW - timedelta(hours=3), NOW, 0.99, status="false_positive"
        ),
    ]
    r = rule(kind="spike", watchlist=watchlist, min_severity=min_severity)
    events = R.evaluate(r, R.RuleInputs(NOW, anomalies=anomalies, watchlist_name="ACME"))
    assert {e.key for e in events} == expected_keys
    for e in events:
        assert e.observed == 120.0 and e.expected == 30.0
        assert e.link_path == f"anomalies?anomaly={e.key.split('|', 1)[1]}"
    if "anomaly|a1" in expected_keys:
        a1 = next(e for e in events if e.key == "anomaly|a1")
        subject = "ACME" if watchlist else "watch:acme"  # a rule on any series names the series
        assert a1.title == f"Spike on {subject}: 120 vs 30 expected" and a1.severity == 0.8


def test_disabled_rule_sees_nothing():
    r = rule(kind="spike", enabled=False)
    assert R.evaluate(r, R.RuleInputs(NOW, anomalies=[anomaly("a", "all", 1.0)])) == []


# --------------------------------------------------------------------------- threshold


def test_threshold_one_event_per_post_at_or_above():
    posts = [
        PostRef("rss:1", "rss", "we will burn it down", ts=NOW - timedelta(hours=1), score=0.91),
        PostRef("rss:2", "rss", "mild", ts=NOW - timedelta(hours=1), score=0.79),
        PostRef("rss:3", "rss", "exactly at", ts=NOW - timedelta(hours=2), score=0.8),
        PostRef("rss:4", "rss", "too old", ts=NOW - timedelta(hours=25), score=0.99),
        PostRef("rss:5", "rss", "unscored", ts=NOW, score=None),
    ]
    r = rule(kind="threshold", watchlist="acme", score="threat", min_score=0.8)
    events = R.evaluate(r, R.RuleInputs(NOW, posts=posts, watchlist_name="ACME"))
    assert [e.key for e in events] == ["post|rss:1", "post|rss:3"]
    assert events[0].severity == 0.91 and events[0].posts[0].text == "we will burn it down"
    assert events[0].title == "Threat 0.91 in a post on ACME"


# --------------------------------------------------------------------------- volume


def buckets(counts: dict[int, int], sentiment: dict[int, float] | None = None) -> list[R.HourBucket]:
    """Hour offsets (0 = the hour holding NOW, -1 the one before) -> counts."""
    base = NOW.replace(minute=0)
    sentiment = sentiment or {}
    return [
        R.HourBucket(base + timedelta(hours=h), n, n, sentiment.get(h, 0.0) * n) for h, n in counts.items()
    ]


@pytest.mark.parametrize(
    ("window_hours", "min_posts", "counts", "expected"),
    [
        (1, 10, {0: 10}, ["volume|2013-06-21T12:00:00+00:00"]),
        (1, 10, {0: 9}, []),
        (1, 10, {-1: 12, 0: 3}, ["volume|2013-06-21T11:00:00+00:00"]),  # the previous window counts too
        (1, 10, {-2: 50}, []),  # older than the previous window
        (3, 10, {-3: 4, -2: 4, -1: 4}, ["volume|2013-06-21T09:00:00+00:00"]),  # aligned windows 09-12, 12-15
        (3, 10, {-1: 6, 0: 6}, []),  # 11:00 and 12:00 fall in different aligned windows
        (6, 10, {-1: 6, 0: 6}, []),  # 06-12 and 12-18
        (24, 10, {-1: 6, 0: 6}, ["volume|2013-06-21T00:00:00+00:00"]),
    ],
)
def test_volume_windows(window_hours, min_posts, counts, expected):
    r = rule(kind="volume", watchlist="acme", window_hours=window_hours, min_posts=min_posts)
    events = R.evaluate(r, R.RuleInputs(NOW, buckets=buckets(counts)))
    assert [e.key for e in events] == expected
    for e in events:
        assert e.observed >= min_posts and e.expected == min_posts
        assert e.window_end - e.window_start == timedelta(hours=window_hours)


# --------------------------------------------------------------------------- sentiment shift


@pytest.mark.parametrize(
    ("win", "base", "win_n", "base_n", "drop", "fires"),
    [
        (-0.5, 0.1, 20, 200, 0.3, True),
        (-0.1, 0.1, 20, 200, 0.3, False),  # fell by 0.2 only
        (-0.2, 0.1, 20, 200, 0.3, True),  # exactly the drop
        (-0.9, 0.1, 5, 200, 0.3, False),  # too few posts in the window
        (-0.9, 0.1, 20, 5, 0.3, False),  # too few in the baseline
        (0.6, 0.1, 20, 200, 0.3, False),  # rose
    ],
)
def test_sentiment_shift(win, base, win_n, base_n, drop, fires):
    r = rule(kind="sentiment_shift", watchlist="acme", window_hours=1, drop=drop, min_scored=10)
    counts = {0: win_n}
    sent = {0: win}
    # The baseline: spread over the 7 days before the window, plus one bucket just outside it.
    for k in range(1, 8):
        counts[-24 * k + 12] = base_n // 7 + (base_n % 7 if k == 1 else 0)
        sent[-24 * k + 12] = base
    counts[-24 * 8] = 1000
    sent[-24 * 8] = -1.0
    events = R.evaluate(r, R.RuleInputs(NOW, buckets=buckets(counts, sent)))
    assert bool(events) is fires
    if fires:
        e = events[0]
        assert e.observed == pytest.approx(win) and e.expected == pytest.approx(base)
        assert e.key == "shift|2013-06-21T13:00:00+00:00"


# --------------------------------------------------------------------------- new place


def test_new_place_skips_history_and_old_sightings():
    places = [
        R.PlaceSeen("calgary|CA", "Calgary", NOW - timedelta(hours=2), "CA"),
        R.PlaceSeen("banff|CA", "Banff", NOW - timedelta(hours=3), "CA", history=True),
        R.PlaceSeen("paris|FR", "Paris", NOW - timedelta(days=3), "FR"),
    ]
    r = rule(kind="new_place", watchlist="acme")
    events = R.evaluate(r, R.RuleInputs(NOW, places=places, watchlist_name="ACME"))
    assert [e.key for e in events] == ["place|calgary|CA"]
    assert events[0].title == "First post on ACME from Calgary (CA)"


# --------------------------------------------------------------------------- decisions

PARIS = {"tz": "Europe/Paris", "quiet": {"start": "22:00", "end": "07:00"}}


@pytest.mark.parametrize(
    ("utc", "quiet"),
    [
        ("2013-06-21T19:59", False),  # 21:59 in Paris (UTC+2 in summer)
        ("2013-06-21T20:00", True),  # 22:00
        ("2013-06-22T02:00", True),  # 04:00
        ("2013-06-22T04:59", True),  # 06:59
        ("2013-06-22T05:00", False),  # 07:00
        ("2013-01-21T20:59", False),  # 21:59 in winter (UTC+1)
        ("2013-01-21T21:00", True),
        ("2013-01-22T06:00", False),
        ("2013-03-31T04:30", True),  # DST began at 02:00: 04:30 UTC is 06:30 CEST, still quiet
        ("2013-03-31T05:30", False),  # 07:30 CEST
    ],
)
def test_quiet_hours_are_local_and_span_midnight(utc, quiet):
    r = rule(kind="spike", **PARIS)
    at = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert R.in_quiet_hours(r, at) is quiet


def test_quiet_hours_within_a_day():
    r = rule(kind="spike", tz="UTC", quiet={"start": "12:00", "end": "13:00"})
    assert R.in_quiet_hours(r, NOW) and not R.in_quiet_hours(r, NOW + timedelta(hours=1))
    assert R.quiet_end(r, NOW) == datetime(2013, 6, 21, 13, 0, tzinfo=UTC)


def test_quiet_end_across_midnight_and_dst():
    r = rule(kind="spike", **PARIS)
    # Held at 23:30 on the night DST starts (30 March 2013): quiet ends 07:00 CEST = 05:00 UTC.
    held = datetime(2013, 3, 30, 22, 30, tzinfo=UTC)
    assert R.quiet_end(r, held) == datetime(2013, 3, 31, 5, 0, tzinfo=UTC)
    # Held at 02:00 local in summer: the same morning's 07:00.
    assert R.quiet_end(r, datetime(2013, 6, 22, 0, 0, tzinfo=UTC)) == datetime(2013, 6, 22, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kw", "now", "last_sent", "decision"),
    [
        ({}, NOW, None, "send"),
        ({"cooldown_minutes": 60}, NOW, NOW - timedelta(minutes=59), "suppress"),
        ({"cooldown_minutes": 60}, NOW, NOW - timedelta(minutes=60), "send"),
        ({"cooldown_minutes": 0}, NOW, NOW, "send"),
        (PARIS, datetime(2013, 6, 21, 21, 0, tzinfo=UTC), None, "hold"),
        (PARIS, datetime(2013, 6, 21, 21, 0, tzinfo=UTC), datetime(2013, 6, 21, 20, 59, tzinfo=UTC), "hold"),
        ({"digest": "hourly", **PARIS}, datetime(2013, 6, 21, 21, 0, tzinfo=UTC), None, "digest"),
        ({"digest": "daily"}, NOW, NOW, "digest"),
    ],
)
def test_decide(kw, now, last_sent, decision):
    assert R.decide(rule(kind="spike", **kw), now, last_sent) == decision


@pytest.mark.parametrize(
    ("kw", "now", "boundary"),
    [
        ({"digest": "hourly"}, NOW, datetime(2013, 6, 21, 12, 0, tzinfo=UTC)),
        # 12:30 UTC is 18:00 in Kolkata (UTC+5:30): the local top of the hour is now.
        ({"digest": "hourly", "tz": "Asia/Kolkata"}, NOW, datetime(2013, 6, 21, 12, 30, tzinfo=UTC)),
        (
            {"digest": "hourly", "tz": "Asia/Kolkata"},
            NOW + timedelta(minutes=29),
            datetime(2013, 6, 21, 12, 30, tzinfo=UTC),
        ),
        (
            {"digest": "daily", "digest_hour": 8, "tz": "Europe/Paris"},
            NOW,
            datetime(2013, 6, 21, 6, 0, tzinfo=UTC),
        ),
        (
            {"digest": "daily", "digest_hour": 8, "tz": "Europe/Paris"},
            datetime(2013, 6, 21, 5, 59, tzinfo=UTC),
            datetime(2013, 6, 20, 6, 0, tzinfo=UTC),
        ),
    ],
)
def test_digest_boundary(kw, now, boundary):
    assert R.digest_boundary(rule(kind="spike", **kw), now) == boundary


def test_digest_due():
    r = rule(kind="spike", digest="hourly")
    b = datetime(2013, 6, 21, 12, 0, tzinfo=UTC)
    assert R.digest_due(r, NOW, []) is None
    assert R.digest_due(r, NOW, [NOW - timedelta(minutes=5)]) is None  # created in the current hour
    assert R.digest_due(r, NOW, [NOW - timedelta(minutes=40), NOW - timedelta(minutes=5)]) == b
    quiet = rule(kind="spike", digest="hourly", tz="UTC", quiet={"start": "12:00", "end": "13:00"})
    assert R.digest_due(quiet, NOW, [NOW - timedelta(hours=2)]) is None  # waits for quiet hours to end


def test_release_held_groups_by_night():
    r = rule(kind="spike", **PARIS)
    held = [
        ("a", datetime(2013, 6, 20, 21, 0, tzinfo=UTC)),  # 23:00 on the 20th: night ending 21st 07:00
        ("b", datetime(2013, 6, 21, 3, 0, tzinfo=UTC)),  # 05:00 on the 21st: same night
        ("c", datetime(2013, 6, 21, 21, 0, tzinfo=UTC)),  # the next night
    ]
    assert R.release_held(r, datetime(2013, 6, 21, 4, 0, tzinfo=UTC), held) == {}  # still quiet
    got = R.release_held(r, datetime(2013, 6, 22, 6, 0, tzinfo=UTC), held)
    assert got == {
        datetime(2013, 6, 21, 5, 0, tzinfo=UTC): ["a", "b"],
        datetime(2013, 6, 22, 5, 0, tzinfo=UTC): ["c"],
    }


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (5, 480), (20, 3600)])
def test_retry_delay_doubles_and_caps(attempts, seconds):
    assert R.retry_delay(attempts, 30) == timedelta(seconds=seconds)


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"name": "r", "kind": "volume"}, "a volume rule needs a watchlist"),
        ({"name": "r", "kind": "explode"}, "kind"),
        ({"name": "r", "kind": "spike", "tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"name": "r", "kind": "spike", "quiet": {"start": "22:00", "end": "22:00"}}, "equal"),
        ({"name": "r", "kind": "spike", "min_severity": 2}, "min_severity"),
        ({"name": "r", "kind": "spike", "channels": ["Bad Name"]}, "channels"),
        ({"name": "", "kind": "spike"}, "needs a name"),
    ],
)
def test_invalid_rules(values, reason):
    with pytest.raises(AlertConfigError, match=reason):
        Rule.make(**values)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"name": "s", "type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}, "is a secret"),
        (
            {"name": "s", "type": "slack", "url_env": "https://hooks.slack.com/x"},
            "not an environment variable name",
        ),
        ({"name": "w", "type": "webhook", "url": "http://127.0.0.1/x"}, "needs secret_env"),
        ({"name": "w", "type": "webhook", "secret_env": "K"}, "needs url or url_env"),
        ({"name": "w", "type": "webhook", "url": "ftp://x", "secret_env": "K"}, "not an http"),
        ({"name": "t", "type": "telegram", "token_env": "T"}, "needs chat_id"),
        (
            {"name": "e", "type": "email", "smtp_host": "h", "mail_from": "a@b.c", "mail_to": "x"},
            "not an email",
        ),
        (
            {
                "name": "e",
                "type": "email",
                "smtp_host": "h",
                "mail_from": "a@b.c",
                "mail_to": "x@y.z",
                "smtp_user": "u",
            },
            "password_env",
        ),
        ({"name": "p", "type": "pager"}, "type"),
    ],
)
def test_invalid_channels(values, reason):
    with pytest.raises(AlertConfigError, match=reason):
        Channel.make(**values)


def test_rule_round_trip():
    r = rule(kind="volume", watchlist="acme", channels="ops, mail", quiet={"start": "22:00", "end": "07:00"})
    assert r.channels == ("ops", "mail") and r.quiet.start == time(22, 0)
    assert Rule.from_doc(r.to_doc()) == r
