"""A small, deterministic store for the dashboard tests: real posts, scores, places, geo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.core.post import build_post
from pipelines.store import Store

BASE = datetime(2013, 6, 20, tzinfo=UTC)
TEXTS = [
    "Flood waters rising in Calgary, evacuation ordered #yycflood",
    "State of emergency declared in High River after the flood",
    "Earthquake felt strongly in Guatemala City this morning",
    "Volunteers needed at the Calgary shelter tonight",
    "<script>alert('x')</script> fake news about the quake",
    "Bushfire smoke over Sydney, stay indoors",
]
PLACES = {
    "Calgary": (51.05, -114.07, "CA"),
    "High River": (50.58, -113.87, "CA"),
    "Guatemala City": (14.64, -90.51, "GT"),
    "Sydney": (-33.87, 151.21, "AU"),
}


def seed(store: Store, n: int = 120) -> list[dict]:
    """``n`` posts over 5 days before BASE + 1 old one; every third is scored with places."""
    docs = []
    for i in range(n):
        text = TEXTS[i % len(TEXTS)]
        src = ("alpha", "beta", "gamma")[i % 3]
        lat = lon = None
        if i % 10 == 0:  # own coordinates
            lat, lon = -33.87 + i * 0.001, 151.21
        post = build_post(
            source=src,
            native_id=str(i),
            ts=BASE - timedelta(minutes=53 * i),
            text=f"{text} #{i}",
            url=f"https://example.org/{src}/{i}",
            author=f"user{i % 7}",
            lang="en" if i % 4 else "es",
            lat=lat,
            lon=lon,
        )
        docs.append(post.to_doc())
    docs.append(
        build_post(source="beta", native_id="old", ts=BASE - timedelta(days=60), text="old flood").to_doc()
    )
    store.posts.upsert(docs)
    for i, d in enumerate(docs[:n]):
        if i % 3:
            continue
        names = [p for p in PLACES if p.lower() in d["text"].lower()]
        scores = {
            "sentiment": round(-0.8 + (i % 9) * 0.2, 2),
            "threat": round((i % 11) / 10, 2),
            "hate": round((i % 5) / 10, 2),
            "toxicity": round((i % 7) / 10, 2),
            "topics": ["crisis/disaster"],
            "places": [
                {"name": p, "lat": PLACES[p][0], "lon": PLACES[p][1], "country": PLACES[p][2]} for p in names
            ],
            "language": d.get("lang") or "en",
            "confidence": "high",
            "model": "test",
            "version": "1",
            "rationale": "seeded for tests",
        }
        store.db.posts.update_one({"_id": d["_id"]}, {"$set": {"scores": scores, "status": "scored"}})
    return docs


def anomaly_doc(i: int, **extra) -> dict:
    start = BASE - timedelta(hours=30 + 7 * i)
    doc = {
        "_id": f"an{i}",
        "series": "source:alpha|count" if i % 2 == 0 else "lang:es|count",
        "start": start,
        "end": start + timedelta(hours=3),
        "peak": start + timedelta(hours=1),
        "observed": 40.0 + i,
        "expected": 5.0,
        "lo": 1.0,
        "hi": 9.0,
        "severity": round(0.5 + i / 20, 2),
        "methods": ["prophet", "stumpy"] if i % 2 == 0 else ["robust"],
        "status": "open",
        "evidence": {
            "posts": ["alpha:0", "alpha:3"],
            "terms": [{"term": "flood", "lift": 4.2}],
            "places": [{"place": "Calgary", "n": 3}],
        },
    }
    doc.update(extra)
    return doc
