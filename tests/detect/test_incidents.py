"""Incident grouping, titles, explanations and ranking on constructed anomalies (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.detect import incidents as I

T = datetime(2013, 10, 15, 2, tzinfo=UTC)


def anomaly(
    series: str,
    start: datetime = T,
    hours: int = 6,
    *,
    observed: float = 1240.0,
    expected: float = 31.0,
    severity: float = 0.8,
    terms: tuple[str, ...] = (),
    places: tuple[str, ...] = (),
    posts: tuple[str, ...] = (),
    n_posts: float | None = None,
    peak: tuple[float, float] = (400.0, 5.0),
) -> dict[str, Any]:
    key, _, metric = series.partition("|")
    kind, _, value = key.partition(":")
    return {
        "_id": f"{series}|{start.isoformat()}",
        "series": series,
        "key": key,
        "metric": metric,
        "kind": kind,
        "value": value or None,
        "start": start,
        "end": start + timedelta(hours=hours),
        "peak": start + timedelta(hours=1),
        "observed": peak[0],
        "expected": peak[1],
        "observed_total": observed,
        "expected_total": expected,
        "severity": severity,
        "posts": n_posts,
        "status": "open",
        "evidence": {
            "terms": [{"term": t, "n": 300 - 10 * i, "lift": 20.0} for i, t in enumerate(terms)],
            "places": [{"place": p, "country": "PH", "n": 100 - i} for i, p in enumerate(places)],
            "posts": [{"_id": p, "source": "crisislex", "text": f"post {p}", "engagement": 0} for p in posts],
        },
    }


BOHOL = {"terms": ("#prayforbohol", "earthquake", "bohol"), "places": ("Bohol", "Cebu")}


def test_two_keys_of_one_event_become_one_incident() -> None:
    a = anomaly("all|count", **BOHOL, posts=("p1", "p2"))
    b = anomaly(
        "place:Bohol|count",
        T + timedelta(hours=1),
        4,
        observed=600,
        expected=2,
        terms=("earthquake",),
        places=("Bohol",),
        posts=("p9",),
    )
    c = anomaly(
        "lang:en|count", T, 5, observed=900, expected=25, terms=("#prayforbohol", "earthquake"), posts=("p3",)
    )
    out = I.build_incidents([b, c, a])
    assert len(out) == 1
    inc = out[0]
    assert inc["lead_series"] == "all|count"
    assert {m["series"] for m in inc["members"]} == {"all|count", "place:Bohol|count", "lang:en|count"}
    assert inc["posts"] == 1240 and inc["excess"] == 1209
    assert inc["start"] == T and inc["end"] == T + timedelta(hours=6)


def test_two_unrelated_spikes_at_once_stay_two() -> None:
    a = anomaly("source:rss|count", **BOHOL, posts=("p1",))
    b = anomaly(
        "source:reddit|count",
        T + timedelta(hours=2),
        observed=300,
        expected=20,
        terms=("#mayweather", "fight", "vegas"),
        places=("Las Vegas",),
        posts=("q1",),
    )
    out = I.build_incidents([a, b])
    assert len(out) == 2
    assert [o["lead_series"] for o in out] == ["source:rss|count", "source:reddit|count"]  # ranked by impact


def test_shared_evidence_without_overlap_does_not_group() -> None:
    a = anomaly("all|count", **BOHOL)
    b = anomaly("lang:en|count", T + timedelta(days=2), **BOHOL)
    assert len(I.build_incidents([a, b])) == 2


def test_one_shared_term_alone_is_not_enough_but_a_term_and_a_place_are() -> None:
    a = anomaly("source:a|count", terms=("storm", "x1"), places=("Sydney",))
    b = anomaly("source:b|count", terms=("storm", "y1"), places=("Denver",))
    assert not I.related(a, b)
    c = anomaly("source:c|count", terms=("storm", "z1"), places=("Sydney",))
    assert I.related(a, c)


def test_title_is_built_from_the_evidence() -> None:
    inc = I.build_incidents([anomaly("all|count", **BOHOL)])[0]
    assert (
        inc["title"]
        == "Surge: #prayforbohol, earthquake, Bohol — 1,240 posts vs 31 expected, 15 Oct 2013 02:00–08:00 UTC"
    )
    assert "1,240 posts" in inc["explanation"] and "31 expected" in inc["explanation"]
    assert "#prayforbohol (300 posts)" in inc["explanation"] and "Bohol (PH)" in inc["explanation"]


def test_title_skips_function_words_of_the_events_languages_but_the_evidence_keeps_them() -> None:
    """Italian and Tagalog bursts lift "di", "ng", "sa": no title word, still in the explanation."""
    a = anomaly(
        "lang:tl|count", terms=("ng", "#Sa", "di", "14", "#prayforbohol", "lindol"), places=("Bohol",)
    )
    inc = I.build_incidents([a])[0]
    assert inc["title"].startswith("Surge: #prayforbohol, lindol, Bohol — ")
    assert "ng (300 posts)" in inc["explanation"]
    assert [t["term"] for t in inc["terms"]][:3] == ["ng", "#Sa", "di"]


def test_title_spanning_days_and_falling_back_to_the_slice_without_terms() -> None:
    a = anomaly("source:bbc|count", datetime(2013, 10, 15, 20, tzinfo=UTC), 10, observed=50, expected=10)
    inc = I.build_incidents([a])[0]
    assert inc["title"] == "Surge: source bbc — 50 posts vs 10 expected, 15 Oct 2013 20:00 – 16 Oct 06:00 UTC"


def test_mean_led_titles_name_the_score_and_its_posts() -> None:
    a = anomaly(
        "lang:en|mean:sentiment",
        observed=0,
        expected=0,
        n_posts=140,
        peak=(-0.4, 0.1),
        terms=("crash", "train"),
    )
    inc = I.build_incidents([a])[0]
    assert inc["title"].startswith("Mood darkens: crash, train — -0.40 vs 0.10 expected over 140 posts")
    assert inc["volume"] is False and inc["posts"] == 140


def test_ranking_puts_volume_and_impact_first_and_minor_last() -> None:
    big = anomaly("all|count", observed=1240, expected=31, severity=0.6, terms=("a1", "a2"))
    small = anomaly(
        "source:x|count", T + timedelta(days=3), observed=120, expected=20, severity=0.95, terms=("b1", "b2")
    )
    mean = anomaly(
        "lang:en|mean:toxicity", T + timedelta(days=5), n_posts=5000, severity=0.99, terms=("c1", "c2")
    )
    minor = anomaly(
        "place:Olbia|count", T + timedelta(days=7), observed=12, expected=1, severity=0.99, terms=("d1", "d2")
    )
    out = I.build_incidents([minor, mean, small, big])
    assert [o["lead_series"] for o in out] == [
        "all|count",
        "source:x|count",
        "lang:en|mean:toxicity",
        "place:Olbia|count",
    ]
    assert [o["minor"] for o in out] == [False, False, False, True]
    assert out[0]["impact"] == round((1240 - 31) * 0.6, 4)


def test_ids_are_stable_and_follow_the_stored_incident_as_it_grows() -> None:
    a = anomaly("all|count", **BOHOL, posts=("p1",))
    first = I.build_incidents([a])[0]["_id"]
    assert I.build_incidents([a])[0]["_id"] == first
    b = anomaly("lang:en|count", T - timedelta(hours=1), posts=("p1",))  # an earlier member joins
    grown = I.build_incidents([a, b], previous={a["_id"]: first})
    assert [g["_id"] for g in grown] == [first]


def test_posts_of_older_documents_without_a_count() -> None:
    assert I.posts_of(anomaly("all|count", observed=77)) == 77
    assert I.posts_of(anomaly("all|mean:threat")) == 0
    assert I.posts_of(anomaly("all|mean:threat", n_posts=45)) == 45


def test_consecutive_windows_of_a_place_add_their_posts() -> None:
    a = anomaly(
        "place:Philippines|count",
        T,
        5,
        observed=17,
        expected=0,
        terms=("#yolanda", "12"),
        places=("Philippines",),
    )
    b = anomaly(
        "place:Philippines|count",
        T + timedelta(hours=6),
        3,
        observed=12,
        expected=0,
        terms=("world",),
        places=("Philippines",),
    )
    (inc,) = I.build_incidents([a, b])
    assert inc["posts"] == 29 and not inc["minor"]
    assert inc["title"].startswith(
        "Surge: #yolanda, world, Philippines — 29 posts vs 0 expected"
    )  # "12" is no word
    c = anomaly(
        "place:Philippines|count",
        T + timedelta(hours=10),
        3,
        observed=12,
        expected=0,
        places=("Philippines",),
    )
    assert len(I.build_incidents([a, c])) == 2  # five hours apart: two incidents
