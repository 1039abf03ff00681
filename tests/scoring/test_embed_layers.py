"""The sentiment head's ``layer4`` block (issue 14): MiniLM's layer-4 output from the same
model run as the sentence vector, which it must leave bit-identical; only the sentiment head
uses it; ``train-sentiment`` refits that head alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from pipelines.scoring import datasets as ds
from pipelines.scoring import train
from pipelines.scoring.embed import (
    LAYER_OUTPUT,
    EmbedderError,
    MiniLMEmbedder,
    _model_path,
    quantized_model,
    with_layer_output,
)
from pipelines.scoring.heads import FEATURE_BLOCKS, HEADS_DIR, HeadSet
from tests.scoring.conftest import TEXTS

EXTRA = ["", "🔥🔥🔥", "<b>flood</b> &amp; rain", "الفيضانات في المدينة", "word " * 3000]


def test_sentence_vectors_are_unchanged_by_the_extra_output(cpu_scorer) -> None:
    emb: MiniLMEmbedder = cpu_scorer.fx.embedder
    texts = TEXTS + EXTRA
    emb.forget()
    with_layer = emb.embed(texts)
    emb.forget()
    plain = ort.InferenceSession(str(quantized_model(_model_path()[0])), providers=["CPUExecutionProvider"])
    saved = emb.session
    try:
        emb.session = _OnlyLast(plain)
        without = emb.embed(texts)
    finally:
        emb.session = saved
        emb.forget()
    assert np.array_equal(with_layer, without)


def test_layer4_is_a_unit_vector_of_the_text_alone(cpu_scorer) -> None:
    emb: MiniLMEmbedder = cpu_scorer.fx.embedder
    texts = TEXTS + EXTRA
    emb.forget()
    sent, layer = emb.embed_layers(texts)
    emb.forget()
    alone = np.vstack([emb.embed_layers([t])[1] for t in texts])
    emb.forget()
    assert layer.shape == sent.shape == (len(texts), 384)
    assert np.array_equal(layer, alone)
    np.testing.assert_allclose(np.linalg.norm(layer, axis=1), 1.0, atol=1e-5)
    cos = (layer * sent).sum(axis=1)
    assert cos.max() < 0.99  # a different layer, not a copy of the sentence vector


def test_features_give_layer4_only_when_asked(cpu_scorer) -> None:
    fx = cpu_scorer.fx
    plain = fx.features(TEXTS[:3])
    assert "layer4" not in plain
    both = fx.features(TEXTS[:3], blocks=set(FEATURE_BLOCKS))
    assert set(both) == set(FEATURE_BLOCKS)
    assert np.array_equal(both["emb"], plain["emb"])


def test_shipped_sentiment_head_runs_through_the_scorer(cpu_scorer) -> None:
    head = cpu_scorer.heads.heads["sentiment"]
    assert set(head.blocks) <= set(FEATURE_BLOCKS)
    assert head.mean.shape[0] == sum(_width(b) for b in head.blocks)
    # layer4 serves the sentiment and (since issue 14's layer-4 rule) the threat head only;
    # every head's arrays are as wide as the blocks it names
    users = {n for n, h in cpu_scorer.heads.heads.items() if "layer4" in h.blocks}
    assert users <= {"sentiment", "threat"}
    for h in cpu_scorer.heads.heads.values():
        assert h.mean.shape[0] == sum(_width(b) for b in h.blocks), h.name
    scores = cpu_scorer.score_texts(["I love this, best day ever!", "This is awful, I hate it."])
    assert scores[0].sentiment > 0.3 > -0.3 > scores[1].sentiment


def test_a_model_without_the_layer_is_named(tmp_path: Path) -> None:
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "tiny.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(EmbedderError, match=LAYER_OUTPUT):
        with_layer_output(path)


def test_train_sentiment_replaces_only_the_sentiment_head(
    cpu_scorer, shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.scoring.sentiment_train import train_sentiment

    heads = tmp_path / "heads"
    shutil.copytree(HEADS_DIR, heads)
    before = HeadSet.load(heads)
    real = ds.tweeteval_sentiment

    def small(data_dir: Path, part: str) -> ds.LabelledTexts:  # 150 training rows: a fast path
        assert part == "train"  # the held-out half is never read by training
        rows = real(data_dir, part)
        return ds.LabelledTexts(rows.name, rows.texts[:150], rows.labels[:150])

    monkeypatch.setattr(ds, "tweeteval_sentiment", small)
    monkeypatch.setattr(train, "SENTIMENT_CANDIDATES", (("layer4", "vader", "profanity"),))
    monkeypatch.setattr(train, "SENTIMENT_C_GRID", (0.0015,))
    monkeypatch.setattr(train, "SENTIMENT_CV_SEEDS", (13,))
    featurise = train.Featuriser(cpu_scorer.fx, _Direct(cpu_scorer.fx))
    section = train_sentiment(shared_dir / "data", featurise, heads)
    after = HeadSet.load(heads)
    assert section["chosen"]["blocks"] == ["layer4", "vader", "profanity"]
    assert after.heads["sentiment"].blocks == ("layer4", "vader", "profanity")
    assert after.card["sentiment"]["log_bias"][1] == 0.0
    for name, h in before.heads.items():
        if name == "sentiment":
            continue
        for key, arr in h.arrays().items():
            assert np.array_equal(arr, after.heads[name].arrays()[key]), key
        assert after.heads[name].threshold == h.threshold
    assert after.card.get("threat_ensemble") == before.card.get("threat_ensemble")
    assert after.card.get("calibration") == before.card.get("calibration")


class _OnlyLast:
    """A session that has only ``last_hidden_state``: answers the layer request with zeros."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        (hidden,) = self.session.run(["last_hidden_state"], feed)
        return [hidden, np.zeros_like(hidden)]


class _Direct:
    def __init__(self, fx: object) -> None:
        self.fx = fx

    def get(self, texts: list[str]) -> np.ndarray:
        return self.fx.embedder.embed(list(texts))  # type: ignore[attr-defined]


def _width(block: str) -> int:
    return {"emb": 384, "layer4": 384, "vader": 4, "profanity": 1}[block]
