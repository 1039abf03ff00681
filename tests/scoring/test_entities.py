"""Named entities: spaCy's installed model (no network), the tweet rules, bad input, the
evaluation code, and the entities filter through MongoDB, the search index and watchlists."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tantivy

from pipelines.core.scores import Entity, Place
from pipelines.scoring import entities as E
from pipelines.scoring import entities_eval as EV
from pipelines.search.compile import filters_query
from pipelines.search.filters import FilterError, Filters
from pipelines.search.schema import build_schema, to_document
from pipelines.search.watchlists import Watchlist, WatchlistError, match_post
from pipelines.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _pairs(text: str, lang: str = "en") -> set[tuple[str, str]]:
    from pipelines.scoring.geo import extract_places

    return {(e.name, e.type) for e in E.extract_batch([text], [extract_places(text)], [lang])[0]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Michelle Obama met Red Cross staff in Calgary",
            {("Michelle Obama", "person"), ("Red Cross", "org")},
        ),
        ("RT @user: Apple unveils a phone & Tim Cook smiles", {("Apple", "org"), ("Tim Cook", "person")}),
        ("#NSWRFS says the fire near Sydney is contained", {("NSWRFS", "org")}),
    ],
)
def test_finds_people_and_organisations(text: str, expected: set[tuple[str, str]]) -> None:
    assert expected <= _pairs(text)


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("RT @CBCNews: flooding downtown", "CBCNews"),  # @handles are accounts, not names
        ("Pray for them #RescuePH #BoulderFlood", "RescuePH"),  # compound hashtags
        ("Super Typhoon Haiyan hits the coast", "Super Typhoon Haiyan"),  # storms are events
        ("Awww this is so cute", "Awww"),
    ],
)
def test_rules_drop_what_is_not_a_name(text: str, absent: str) -> None:
    assert absent not in {n for n, _ in _pairs(text)}


def test_places_come_from_the_gazetteer_and_win_over_the_model() -> None:
    got = _pairs("Earthquake in Bohol, Philippines this morning")
    assert ("Bohol", "place") in got
    assert not any(n == "Bohol" and t != "place" for n, t in got)


def test_a_place_inside_a_name_is_dropped() -> None:
    places = [Place(name="Jordan", lat=31.0, lon=36.0, country="JO", kind="country")]
    got = E.merge([("Olivia Jordan", "person")], places)
    assert got == [Entity(name="Olivia Jordan", type="person")]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "😀😀🔥",
        "a" * 40_000,
        "مرحبا بكم في القاهرة",
        "Привет Москва",
        "שלום עולם",
        "<p>&amp;</p>",
        "x" + "A" * 40_000,
    ],
)
def test_bad_input_never_crashes(text: str) -> None:
    out = E.extract_batch([text], [[]], ["und"])[0]
    assert all(isinstance(e, Entity) for e in out) and len(out) <= 12


def test_long_posts_are_cut_before_the_model() -> None:
    assert len(E.prepare("Obama " * 10_000)) <= E.MAX_NER_CHARS


def test_other_languages_skip_the_model_but_keep_places() -> None:
    text = "Se suspenden las clases en Guatemala"
    assert _pairs(text, "es") == {("Guatemala", "place")}


def test_deterministic() -> None:
    texts = ["Barack Obama and Angela Merkel met at the UN in New York"] * 3
    runs = [E.extract_batch(texts, [[]] * 3) for _ in range(2)]
    assert runs[0] == runs[1] and runs[0][0] == runs[0][2]


def test_repeated_texts_are_read_once_and_give_the_same_entities(monkeypatch: pytest.MonkeyPatch) -> None:
    E.clear_cache()
    nlp = E.load_model()
    calls: list[int] = []
    real_pipe = nlp.pipe
    monkeypatch.setattr(
        nlp, "pipe", lambda texts, **kw: (calls.append(1), list(real_pipe(list(texts), **kw)))[1]
    )
    text = "RT @a: Angela Merkel visited Microsoft"
    first = E.extract_batch([text, "RT @b: Angela Merkel visited Microsoft"], [[], []])
    again = E.extract_batch([text], [[]])
    assert first[0] == first[1] == again[0] and first[0]
    assert len(calls) == 1  # the second batch came from the cache


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 texts but 1 place lists"):
        E.extract_batch(["a", "b"], [[]])


def test_model_loads_from_the_installed_package_without_network() -> None:
    code = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise RuntimeError("network touched")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from pipelines.scoring.entities import load_model, extract_entities
        nlp = load_model()
        assert nlp.pipe_names == ["ner"], nlp.pipe_names
        print(extract_entities("Angela Merkel visited Microsoft", places=[]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Angela Merkel" in out.stdout


def test_entity_model_reads_legacy_documents() -> None:
    assert Entity.model_validate({"text": "Acme", "type": "organization"}) == Entity(name="Acme", type="org")
    assert Entity.model_validate({"text": "Paris", "type": "location"}).key == "place:Paris"
    with pytest.raises(ValueError):
        Entity(name="x", type="event")


def test_llm_entities_merge_with_gazetteer_places() -> None:
    class Answer:
        def __init__(self, name: str, type_: str) -> None:
            self.name, self.type = name, type_

    places = [Place(name="Calgary", lat=51.05, lon=-114.07, country="CA")]
    got = E.llm_entities([Answer("#Red Cross", "org"), Answer("Atlantis", "place")], places)
    assert got == [Entity(name="Red Cross", type="org"), Entity(name="Calgary", type="place")]


def test_llm_schema_asks_for_name_and_type() -> None:
    from pipelines.scoring.llm import inline_refs, response_model

    schema = inline_refs(response_model(["other"], 2).model_json_schema())
    ent = schema["properties"]["results"]["items"]["properties"]["entities"]["items"]
    assert set(ent["properties"]) == {"name", "type"}
    assert ent["properties"]["type"]["enum"] == ["person", "org", "place", "product"]


# --------------------------------------------------------------------------- evaluation


def test_scoring_counts_matches_per_type() -> None:
    gold = EV.GoldPost("x", "1", "tune", "t", EV.parse_entities("person:Obama/Barack Obama;org:NASA", "t"))
    res = EV.score([gold], [[("Barack Obama", "person"), ("NASA", "person"), ("#nasa", "person")]])
    assert res.totals("person") == (1, 1, 0)
    assert res.totals("org") == (0, 0, 1)
    assert EV.prf(*res.totals()) == pytest.approx((0.5, 0.5, 0.5))


def test_summary_for_eval_scorer_json() -> None:
    gold = EV.GoldPost("x", "1", "test", "t", EV.parse_entities("person:Obama;org:NASA", "t"))
    out = EV.summary(EV.score([gold], [[("Obama", "person")]]))
    assert out["micro"]["gold"] == 2 and out["micro"]["precision"] == 1.0 and out["micro"]["recall"] == 0.5
    assert out["org"]["f1"] == 0.0 and len(out["person"]["f1_ci95"]) == 2


def test_bad_gold_rows_name_the_row() -> None:
    with pytest.raises(ValueError, match="line 7: bad entity 'event:Super Bowl'"):
        EV.parse_entities("person:A;event:Super Bowl", "line 7")


def test_gold_file_references_resolve(shared_dir: Path) -> None:
    gold = EV.load_gold(shared_dir / "data")
    assert len(gold) == 300
    assert {p.split for p in gold} == {"tune", "test"}
    te = [p for p in gold if p.source == "tweeteval-sentiment-val"]
    assert all(p.split == EV.tweeteval_split(int(p.ref)) for p in te)


def test_eval_command_on_a_small_gold_file(shared_dir: Path, tmp_path: Path) -> None:
    rows = EV.GOLD_PATH.read_text(encoding="utf-8").splitlines()
    small = tmp_path / "gold.csv"
    small.write_text("\n".join(rows[:1] + rows[150:160]) + "\n", encoding="utf-8")
    res = {
        "tune": EV.score(
            g := EV.load_gold(shared_dir / "data", small), EV.shipped_extractor([p.text for p in g])
        )
    }
    report = EV.format_report(res)
    assert "micro" in report and "person" in report
    tp, fp, fn = res["tune"].totals()
    assert tp + fn == sum(len(p.entities) for p in g)


# --------------------------------------------------------------------------- the filter


POSTS = [
    {"_id": "a", "text": "x", "ts": datetime(2013, 6, 20, tzinfo=UTC), "source": "t", "lang": "en",
     "scores": {"entities": [{"name": "Red Cross", "type": "org"}, {"name": "Calgary", "type": "place"}]}},
    {"_id": "b", "text": "y", "ts": datetime(2013, 6, 20, tzinfo=UTC), "source": "t", "lang": "en",
     "scores": {"entities": [{"name": "Red Cross", "type": "person"}]}},
    {"_id": "c", "text": "z", "ts": datetime(2013, 6, 20, tzinfo=UTC), "source": "t", "lang": "en"},
]  # fmt: skip


def test_filters_entities_validate_and_round_trip() -> None:
    f = Filters.make(entities=["org:Red Cross, Canada", "person:Obama"])
    assert Filters.from_params(f.to_params()) == f
    assert ("entities", "org:Red Cross, Canada, person:Obama") in f.describe()
    for bad in (["Red Cross"], ["event:Super Bowl"], ["org:a|b"], [{"$ne": 1}]):
        with pytest.raises(FilterError, match="entities"):
            Filters.make(entities=bad)


def test_entities_filter_in_mongodb_and_in_the_index(store: Store) -> None:
    store.posts.upsert([dict(p) for p in POSTS])
    f = Filters.make(entities=["org:Red Cross"])
    assert [p["_id"] for p in store.posts.find(f.to_mongo(), limit=10)] == ["a"]
    index = tantivy.Index(build_schema())
    writer = index.writer(15_000_000, 1)
    for p in POSTS:
        writer.add_document(to_document(p))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    for keys, expected in (
        (["org:Red Cross"], 1),
        (["org:Red Cross", "person:Red Cross"], 2),
        (["org:x"], 0),
    ):
        q = filters_query(build_schema(), Filters.make(entities=keys))
        assert searcher.search(q, 10).count == expected
        assert len(store.posts.find(Filters.make(entities=keys).to_mongo(), limit=10)) == expected


def test_watchlist_entities_field() -> None:
    wl = Watchlist.make(name="Red Cross", entities=["org:Red Cross"])
    assert wl.filters().entities == ("org:Red Cross",)
    assert [match_post(wl, p) for p in POSTS] == [True, False, False]
    plain = Watchlist.make(name="w", query="flood")
    assert plain.fingerprint == Watchlist.make(name="w", query="flood", entities=[]).fingerprint
    assert wl.fingerprint != Watchlist.make(name="Red Cross", entities=["org:Red"]).fingerprint
    with pytest.raises(WatchlistError, match="entities"):
        Watchlist.make(name="bad", entities=["Red Cross"])


# --------------------------------------------------------------------------- incidents


def test_anomaly_evidence_and_incidents_carry_an_entity_breakdown() -> None:
    from pipelines.detect.evidence import top_entities
    from pipelines.detect.incidents import merged_entities

    posts = [
        {
            "scores": {
                "entities": [{"name": "Red Cross", "type": "org"}, {"name": "Red Cross", "type": "org"}]
            }
        },
        {
            "scores": {
                "entities": [{"name": "Red Cross", "type": "org"}, {"name": "Calgary", "type": "place"}]
            }
        },
        {"scores": {"entities": [{"name": "Nenshi", "type": "person"}]}},
        {"text": "unscored"},
    ]
    top = top_entities(posts, 5)
    assert top == [
        {"entity": "org:Red Cross", "type": "org", "name": "Red Cross", "n": 2},
        {"entity": "person:Nenshi", "type": "person", "name": "Nenshi", "n": 1},
    ]
    members = [{"evidence": {"entities": top}}, {"evidence": {"entities": [{**top[1], "n": 4}]}}]
    assert [(e["entity"], e["n"]) for e in merged_entities(members)] == [
        ("person:Nenshi", 4),
        ("org:Red Cross", 2),
    ]
