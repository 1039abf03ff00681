"""The threat ensemble's parts: hashed n-grams, calibrators, round-3 labels, shipped files."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from pipelines.scoring import datasets as ds
from pipelines.scoring.calibration import (
    Calibrator,
    expected_calibration_error,
    fit_best,
    fit_isotonic,
    fit_platt,
    reliability,
)
from pipelines.scoring.cpu import CpuScorer
from pipelines.scoring.heads import HEADS_DIR, HeadSet
from pipelines.scoring.ngrams import MAX_CHARS, N_BUCKETS, NgramModel, fit_ngram, ngram_ids, normalise
from pipelines.scoring.threat_train import NGRAM_FILE, best_threshold
from pipelines.scoring.thresholds import high_thresholds


def test_ngram_ids_are_stable_and_normalised() -> None:
    a = ngram_ids("I'll CATCH you outside &amp; http://t.co/x @someone")
    assert np.array_equal(a, ngram_ids("i'll catch you outside & https://x.y/z @other"))
    assert a.dtype == np.int64 and np.all(np.diff(a) > 0) and a.max() < N_BUCKETS
    # Fixed hash (CRC-32), not Python's per-process hash(): a known bucket never moves.
    import zlib

    assert (zlib.crc32(b"w:catch") & (N_BUCKETS - 1)) in set(a.tolist())
    assert normalise("@bob see https://a.b/c") == " @user  see  url "


@pytest.mark.parametrize(
    "text",
    ["", "😂😂😂", "שלום עולם مرحبا", "混合 scripts русский", "<p>html &lt;b&gt; remnants</p>", "x" * 40_000],
)
def test_ngram_ids_take_any_text(text: str) -> None:
    ids = ngram_ids(text)
    assert ids.ndim == 1 and (len(ids) == 0) == (text == "")
    if len(text) > MAX_CHARS:
        assert len(ids) <= 2 * MAX_CHARS


def test_ngram_model_learns_and_round_trips(tmp_path: Path) -> None:
    pos = ["i will catch you outside", "pull up and catch these hands", "ima catch you lacking"] * 5
    neg = ["the weather is lovely today", "new phone who dis", "great match last night"] * 5
    y = np.array([1] * len(pos) + [0] * len(neg))
    m = fit_ngram(pos + neg, y, 10.0)
    p = m.predict_proba(["gonna catch you outside tonight", "lovely weather for a match"])
    assert p[0] > 0.5 > p[1]
    m.save(tmp_path / "m.npz")
    m2 = NgramModel.load(tmp_path / "m.npz")
    assert np.allclose(m2.predict_proba(pos[:3]), m.predict_proba(pos[:3]), atol=1e-5)
    np.savez(tmp_path / "bad.npz", coef=np.zeros(10, np.float32), intercept=np.float32(0))
    with pytest.raises(ValueError, match="n-gram weights"):
        NgramModel.load(tmp_path / "bad.npz")


def test_ngram_extras_add_pairs_and_negation_and_travel_with_the_weights(tmp_path: Path) -> None:
    import zlib

    def has(text: str, gram: str, extras: tuple[str, ...]) -> bool:
        return (zlib.crc32(gram.encode()) & (N_BUCKETS - 1)) in set(ngram_ids(text, extras=extras).tolist())

    text = "you gonna get dropped"
    assert has(text, "p:you get", ("pairs",)) and has(text, "p:you dropped", ("pairs",))
    assert not has(text, "p:you get", ()) and not has(text, "p:you gonna", ("pairs",))  # adjacent: a bigram
    assert has("i ain't gon shoot you", "n:shoot", ("neg",)) and not has(
        "i'm gon shoot you", "n:shoot", ("neg",)
    )
    assert not has("ain't a b c shoot", "n:shoot", ("neg",))  # outside the negation's 3-word scope
    base = set(ngram_ids("i ain't gon shoot you").tolist())
    assert base < set(ngram_ids("i ain't gon shoot you", extras=("pairs", "neg")).tolist())
    pos = ["i will catch you outside", "pull up and catch these hands", "ima catch you lacking"] * 5
    neg = ["the weather is lovely today", "i would never catch you", "great match last night"] * 5
    m = fit_ngram(pos + neg, np.array([1] * 15 + [0] * 15), 10.0, ("neg",))
    m.save(tmp_path / "m.npz")
    m2 = NgramModel.load(tmp_path / "m.npz")
    assert m2.extras == ("neg",)
    assert np.allclose(m2.predict_proba(pos[:3]), m.predict_proba(pos[:3]), atol=1e-5)
    np.savez(tmp_path / "odd.npz", coef=m.coef, intercept=np.float32(0), extras=np.asarray(["trigrams"]))
    with pytest.raises(ValueError, match="unknown n-gram feature families"):
        NgramModel.load(tmp_path / "odd.npz")


def _miscalibrated(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose true positive rate is score**2: over-confident by construction."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    return p, (rng.uniform(0, 1, n) < p**2).astype(int)


def test_calibrators_reduce_calibration_error_on_fresh_rows() -> None:
    p, y = _miscalibrated()
    p2, y2 = _miscalibrated(seed=2)
    before = expected_calibration_error(p2, y2)
    for fit in (fit_platt, fit_isotonic):
        cal = fit(p, y)
        after = expected_calibration_error(cal(p2), y2)
        assert after < before / 2, fit.__name__
        assert np.all(np.diff(cal(np.linspace(0, 1, 50))) >= -1e-12)  # monotone
        assert Calibrator.from_json(json.loads(json.dumps(cal.to_json())))(p2[:5]) == pytest.approx(
            cal(p2[:5])
        )
    best, scores = fit_best(p, y)
    assert best.kind in scores and set(scores) == {"platt", "isotonic"}


def test_expected_calibration_error_matches_a_naive_count() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    y = np.array([0, 1, 1, 1, 0])
    # bins: [0.0,0.1): mean p 0.05 vs 0.5; [0.9,1.0]: 0.95 vs 1; [0.5,0.6): 0.55 vs 0
    naive = (2 * 0.45 + 2 * 0.05 + 1 * 0.55) / 5
    assert expected_calibration_error(p, y) == pytest.approx(naive)
    rel = reliability(p, y)
    assert sum(b["n"] for b in rel) == 5


@pytest.mark.parametrize(
    "entry, msg",
    [
        ({"kind": "bogus"}, "unknown calibrator kind"),
        ({"kind": "isotonic", "x": [0.5, 0.1], "y": [0, 1]}, "increasing breakpoints"),
        ({"kind": "isotonic", "x": [0.1], "y": [0]}, "increasing breakpoints"),
    ],
)
def test_bad_calibrator_entries_are_named(entry: dict, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        Calibrator.from_json(entry)


def test_best_threshold_is_the_naive_argmax() -> None:
    y = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.4, 0.9, 0.05])
    t, f1 = best_threshold(y, p)
    from sklearn.metrics import f1_score

    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    naive = max(grid, key=lambda g: (f1_score(y, p >= g, average="macro"), -g))
    assert t == pytest.approx(naive) and f1 == pytest.approx(f1_score(y, p >= naive, average="macro"))
    rng = np.random.default_rng(5)  # the vectorised grid against sklearn on a larger, tied case
    y2 = (rng.random(300) < 0.1).astype(int)
    p2 = np.round(np.clip(0.3 * y2 + rng.random(300) * 0.7, 0, 1), 2)
    t2, f2 = best_threshold(y2, p2)
    naive2 = max(grid, key=lambda g: (f1_score(y2, p2 >= g, average="macro"), -g))
    assert t2 == pytest.approx(naive2) and f2 == pytest.approx(f1_score(y2, p2 >= naive2, average="macro"))


def test_round3_labels_parse_resolve_and_reject_bad_rows(shared_dir: Path, tmp_path: Path) -> None:
    r3 = ds.threat_round3_labels(shared_dir / "data")
    assert len(r3) == 240 and r3.threat.sum() >= 10 and r3.topics.sum() == 0
    assert all(t.strip() for t in r3.texts)
    assert not {(s, r) for s, r in zip(r3.sources, r3.refs, strict=True)} & {
        (r["source"], r["ref"]) for r in ds.read_label_rows()
    }
    bad = tmp_path / "r3.csv"
    bad.write_text("source,ref,pool,threat,self_harm\ndavidson,1,x,1,maybe\n")
    with pytest.raises(ds.LabelFileError, match="self_harm must be 0 or 1"):
        ds.threat_round3_labels(shared_dir / "data", bad)


def test_round4_labels_are_new_rows_and_pass2_refers_to_them(shared_dir: Path) -> None:
    import csv

    r4 = ds.threat_round3_labels(shared_dir / "data", ds.ROUND4_FILE)
    assert len(r4) > 600 and r4.threat.sum() > 100 and all(t.strip() for t in r4.texts)
    keys = set(zip(r4.sources, r4.refs, strict=True))
    r3 = ds.threat_round3_labels(shared_dir / "data")
    earlier = {(r["source"], r["ref"]) for r in ds.read_label_rows()} | set(
        zip(r3.sources, r3.refs, strict=True)
    )
    assert not keys & earlier
    # never TweetEval val/test (val calibrates hate/toxicity; test is never read)
    assert not [r for s, r in keys if s.startswith("tweeteval/") and not r.startswith("train:")]
    with (ds.LABELS_DIR / "threat_round4_pass2.csv").open(encoding="utf-8") as f:
        pass2 = [(r["source"], r["ref"]) for r in csv.DictReader(f)]
    assert len(pass2) >= 100 and set(pass2) <= keys


def test_round5_labels_are_new_rows_and_pass2_refers_to_them(shared_dir: Path) -> None:
    import csv

    r5 = ds.threat_round3_labels(shared_dir / "data", ds.ROUND5_FILE)
    assert len(r5) > 600 and r5.threat.sum() > 80 and all(t.strip() for t in r5.texts)
    keys = list(zip(r5.sources, r5.refs, strict=True))
    assert len(set(keys)) == len(keys)
    earlier = {(r["source"], r["ref"]) for r in ds.read_label_rows()}
    for path in (ds.ROUND3_FILE, ds.ROUND4_FILE):
        r = ds.threat_round3_labels(shared_dir / "data", path)
        earlier |= set(zip(r.sources, r.refs, strict=True))
    assert not set(keys) & earlier
    assert not [r for s, r in keys if s.startswith("tweeteval/") and not r.startswith("train:")]
    assert {p.split(":")[0] for p in r5.pools} == {"round5", "round5b"}
    with (ds.LABELS_DIR / "threat_round5_pass2.csv").open(encoding="utf-8") as f:
        pass2 = [(r["source"], r["ref"], r["threat_pass2"]) for r in csv.DictReader(f)]
    assert len(pass2) >= 100 and {(s, r) for s, r, _ in pass2} <= set(keys)
    assert {y for _, _, y in pass2} == {"0", "1"}


def test_shipped_threat_ensemble_is_complete_and_calibrated(cpu_scorer: CpuScorer) -> None:
    card = cpu_scorer.heads.card
    ens = card["threat_ensemble"]
    assert (HEADS_DIR / NGRAM_FILE).is_file() and cpu_scorer._threat_ngram is not None
    assert 0.0 <= ens["weight"] <= 1.0 and ens["calibration"]["kind"] in ("platt", "isotonic")
    cuts = high_thresholds()
    assert set(cuts) == {"threat", "hate", "toxicity"} and all(0 < c < 1 for c in cuts.values())
    assert cuts["threat"] == card["high_thresholds"]["threat"]
    for name in ("hate", "offensive"):
        assert card["calibration"][name]["data"].endswith("[tune half]")


def test_threat_scores_are_deterministic_probabilities_and_need_no_network(
    cpu_scorer: CpuScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("the scorer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    fresh = CpuScorer(heads=HeadSet.load(), features=cpu_scorer.fx)  # loads the n-gram file again
    texts = [
        "I will find you and kill you, you better watch your back",
        "keep talking and I'll catch you outside, you're dead",
        "Had a lovely walk in the park with my dog",
        "Police arrested a man after a stabbing in the city centre",
        "",
        "😡😡😡",
    ]
    a = [s.threat for s in fresh.score_texts(texts)]
    b = [s.threat for s in cpu_scorer.score_texts(texts)]
    assert a == b
    assert all(0.0 <= v <= 1.0 for v in a)
    cut = high_thresholds()["threat"]
    assert a[0] >= cut and a[1] >= cut
    assert a[2] < cut and a[3] < cut


def test_missing_ngram_file_is_a_clear_error(tmp_path: Path, cpu_scorer: CpuScorer) -> None:
    hs = HeadSet.load()
    hs.save(tmp_path)  # card names the ensemble, but no n-gram file beside it
    with pytest.raises(FileNotFoundError, match="train-threat"):
        CpuScorer(heads=HeadSet.load(tmp_path), features=cpu_scorer.fx)


def test_rollups_count_high_at_each_scores_tuned_cut() -> None:
    from datetime import UTC, datetime

    from pipelines.scoring.rollups import as_documents, contributions

    cuts = high_thresholds()
    ts = datetime(2024, 1, 1, 10, tzinfo=UTC)
    just_above = {f: min(1.0, c + 0.001) for f, c in cuts.items()}
    just_below = {f: max(0.0, c - 0.001) for f, c in cuts.items()}
    posts = [
        {"_id": "a", "ts": ts, "source": "s", "scores": {"sentiment": 0, "language": "en", **just_above}},
        {"_id": "b", "ts": ts, "source": "s", "scores": {"sentiment": 0, "language": "en", **just_below}},
    ]
    doc = as_documents(contributions(posts))["score|2024-01-01T10:00:00+00:00|s|en"]
    assert doc["high"] == {"threat": 1, "hate": 1, "toxicity": 1}


def test_sentiment_bias_renormalises_and_helps_an_undercalled_class() -> None:
    from pipelines.scoring.sentiment_bias import apply_bias, choose_bias

    p = np.array([[0.4, 0.6, 0.0], [0.45, 0.55, 0.0], [0.1, 0.9, 0.0], [0.0, 0.2, 0.8]])
    y = np.array([0, 0, 1, 2])  # the negatives are under-called by the argmax
    q = apply_bias(p, [0.5, 0.0, 0.0])
    assert np.allclose(q.sum(axis=1), 1.0)
    naive = p * np.exp([0.5, 0.0, 0.0])
    assert np.allclose(q, naive / naive.sum(axis=1, keepdims=True))
    assert apply_bias(p, None) is p
    bias, recall = choose_bias(p, y)
    assert recall == pytest.approx(1.0) and bias[0] > 0 and bias[1] == 0.0
    assert (apply_bias(p, bias).argmax(axis=1) == y).all()


def test_bad_input_gets_valid_probabilities_and_low_confidence_where_unknown(cpu_scorer: CpuScorer) -> None:
    texts = [
        "",
        "😂🔥💯",
        "x" * 40_000,
        "שלום לכולם, מה שלומכם היום",
        "مرحبا بالجميع كيف حالكم اليوم",
        "Mixed скрипты and 漢字 together",
        "<div class='tweet'>I&#39;ll catch you outside &amp; you&#39;re done</div>",
    ]
    out = cpu_scorer.score_texts(texts)
    assert len(out) == len(texts)
    for s in out:
        for v in (s.threat, s.hate, s.toxicity):
            assert 0.0 <= v <= 1.0
        assert -1.0 <= s.sentiment <= 1.0
    assert out[3].confidence == "low" and out[4].confidence == "low"
    assert out[6].threat > out[1].threat  # HTML entities decoded before the n-grams read the words


def test_evaluate_threat_on_a_small_fixture(cpu_scorer: CpuScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.scoring import threat_train
    from pipelines.scoring.evaluate_threat import evaluate_threat, format_threat

    texts = [
        "I will find you and kill you, you better watch your back",
        "keep talking and I'll catch you outside, you're dead",
        "someone should put a bullet in that judge",
        "Had a lovely walk in the park with my dog",
        "Police arrested a man after a stabbing in the city centre",
        "we killed it at the gig tonight",
        "new phone, who dis",
        "the senate votes on the budget tomorrow",
    ]
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    origin = ["fixture"] * 4 + ["round4"] * 2 + ["round5"] * 2
    rows = threat_train.ThreatRows(texts, y, np.ones(len(y), dtype=bool), origin)
    monkeypatch.setattr(threat_train, "threat_rows", lambda data_dir: rows)

    def featurise(d: ds.LabelledTexts, blocks: set[str] | None = None) -> dict[str, np.ndarray]:
        return cpu_scorer.fx.features(d.texts, blocks=blocks)

    res = evaluate_threat(cpu_scorer, Path("/nonexistent"), featurise, errors=2)
    assert res["rows"] == 8 and res["positives"] == 3 and res["rows_round3"] == 0
    assert (
        res["rows_round4"] == 2 and res["round4_only"]["rows"] == 2 and res["round4_only"]["positives"] == 0
    )
    assert (
        res["rows_round5"] == 2 and res["round5_only"]["rows"] == 2 and res["round5_only"]["positives"] == 0
    )
    assert res["earlier_rows"]["positives"] == 3
    lo, hi = res["macro_f1_ci95"]
    assert 0 <= lo <= hi <= 100
    assert sum(b["n"] for b in res["reliability"]) == 8
    assert res["high_threshold"] == high_thresholds()["threat"]
    text = format_threat(res)
    assert "8 rows, 3 threats" in text and "macro-F1" in text


def test_clause_max_pooling_finds_the_threatening_sentence_of_a_long_post() -> None:
    from pipelines.scoring.ngrams import clauses

    assert clauses("short one") == [] and clauses("one two three. four five six!") == [
        "one two three.",
        "four five six!",
    ]
    texts = ["i will kill you", "i will hug you", "have a nice day", "lovely weather today"] * 5
    model = fit_ngram(texts, np.array([1, 0, 0, 0] * 5), 16.0)
    post = (
        "The council met today about the new road and the budget for the park. "
        "Everyone had a view on the parking. i will kill you. Then we all went home for tea."
    )
    whole = float(model.predict_proba([post])[0])
    pooled = float(model.predict_proba_clause_max([post])[0])
    assert pooled > whole and pooled == pytest.approx(float(model.predict_proba(["i will kill you."])[0]))
    one = ["lovely weather today"]  # a single clause: pooling changes nothing
    assert model.predict_proba_clause_max(one)[0] == pytest.approx(model.predict_proba(one)[0])


def test_scorer_pools_the_ngram_half_as_the_card_says(cpu_scorer: CpuScorer) -> None:
    post = ["We talked about the weather for an hour. Nice and sunny. I will find you and kill you."]
    ens = cpu_scorer.heads.card["threat_ensemble"]
    saved = ens.get("ngram_pooling")
    try:
        ens["ngram_pooling"] = "post"
        plain = cpu_scorer.threat_ngram_proba(post)[0]
        ens["ngram_pooling"] = "clause-max"
        assert cpu_scorer.threat_ngram_proba(post)[0] > plain
    finally:
        if saved is None:
            ens.pop("ngram_pooling", None)
        else:
            ens["ngram_pooling"] = saved


def test_the_variants_reference_is_the_shipped_head_block_set(cpu_scorer: CpuScorer) -> None:
    """``threat_variants --by-blocks`` compares every block set with the shipped one."""
    from pipelines.scoring.threat_variants import SHIPPED_BLOCKS

    chosen = cpu_scorer.heads.card["threat_ensemble"]["chosen"]["blocks"]
    assert SHIPPED_BLOCKS == "+".join(chosen) == "+".join(cpu_scorer.heads.heads["threat"].blocks)
