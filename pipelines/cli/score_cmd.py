"""``score`` (the worker), ``train-heads`` and ``eval-scorer`` commands."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.cli import app, setup_logging
from pipelines.core.config import get_settings


@app.command()
def score(
    loop: bool = typer.Option(False, "--loop", help="Keep scoring new posts until stopped."),
    once: bool = typer.Option(False, "--once", help="Score every waiting post, then exit."),
    scorer: str = typer.Option("", help="Override VIGIL_SCORER: auto, ollama or cpu."),
    rebuild_rollups: bool = typer.Option(
        False, "--rebuild-rollups", help="Recount score/place rollups from posts (stop workers first)."
    ),
) -> None:
    """Score posts (claims with leases; safe to run several at once)."""
    from pipelines.scoring.worker import ScoringWorker, build_scorer
    from pipelines.scoring.worker import rebuild_rollups as rebuild
    from pipelines.store import Store

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    if scorer and scorer not in ("auto", "ollama", "cpu"):
        raise typer.BadParameter(f"--scorer must be auto, ollama or cpu, not {scorer!r}")
    store = Store.open(settings)
    try:
        if rebuild_rollups:
            n = rebuild(store)
            typer.echo(f"rebuilt {n} score/place rollup documents from scored posts")
            return
        if not (loop or once):
            raise typer.BadParameter("give --loop or --once (or --rebuild-rollups)")
        worker = ScoringWorker(
            store,
            build_scorer(settings, scorer or None),
            batch=settings.vigil_score_batch,
            lease_s=settings.vigil_score_lease_s,
            max_attempts=settings.vigil_score_max_attempts,
        )
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        totals = worker.loop(stop, idle_s=settings.vigil_score_idle_s) if loop else worker.drain(stop)
        typer.echo(
            f"scored {totals.scored}, retry {totals.retry}, failed {totals.failed}, "
            f"quarantined {totals.quarantined}; by model: {json.dumps(totals.models)}"
        )
        typer.echo(f"posts by status: {json.dumps(store.score_queue.status_counts())}")
    finally:
        store.close()


def _featuriser(threads: int, float32: bool = False):
    from pipelines.scoring.cpu import FeatureExtractor
    from pipelines.scoring.embcache import DEFAULT_CACHE_DIR, EmbeddingCache
    from pipelines.scoring.embed import MiniLMEmbedder
    from pipelines.scoring.train import Featuriser

    emb = MiniLMEmbedder(threads=threads, quantized=not float32)
    fx = FeatureExtractor(emb)
    # one cache file per model: the quantised model's vectors are not the float32 model's
    name = "embeddings-minilm.npz" if float32 else f"embeddings-{emb.model_id}.npz"
    cache = EmbeddingCache(DEFAULT_CACHE_DIR / name, emb.embed)
    return fx, Featuriser(fx, cache)


@app.command("train-heads")
def train_heads_cmd(
    data_dir: Annotated[
        Path | None, typer.Option(help="shared/data folder (default: ../shared/data).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Where to write heads.npz and card.json (default: the package).")
    ] = None,
    davidson: Annotated[
        bool, typer.Option(help="Let Davidson's training rows compete as extra data.")
    ] = True,
) -> None:
    """Fit the CPU scorer's heads on shared/data and write heads.npz + card.json."""
    from pipelines.scoring import datasets as ds
    from pipelines.scoring.heads import HEADS_DIR
    from pipelines.scoring.train import train_heads

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    data = data_dir or ds.default_data_dir()
    fx, feat = _featuriser(settings.vigil_score_threads)
    hs = train_heads(data, feat, fx.embedder.embed, out_dir or HEADS_DIR, use_davidson=davidson)  # type: ignore[attr-defined]
    for name, rep in hs.card["training"].items():
        chosen = rep.get("chosen", {})
        typer.echo(f"{name}: n={rep['n_train']} {json.dumps(chosen)}")
    typer.echo(f"wrote heads version {hs.version} to {out_dir or HEADS_DIR}")


@app.command("eval-scorer")
def eval_scorer_cmd(
    data_dir: Annotated[
        Path | None, typer.Option(help="shared/data folder (default: ../shared/data).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    threat_only: Annotated[
        bool, typer.Option("--threat-only", help="Only the threat ensemble and calibration figures.")
    ] = False,
    errors: Annotated[int, typer.Option(help="List this many threat misses each way.")] = 0,
    float32: Annotated[
        bool,
        typer.Option("--float32", help="Embed with the float32 model (the figures before the int8 one)."),
    ] = False,
) -> None:
    """Print the CPU scorer's held-out quality: TweetEval, Davidson, CrisisLex, and threat/topics (labels/)."""
    from pipelines.scoring import datasets as ds
    from pipelines.scoring.cpu import CpuScorer
    from pipelines.scoring.evaluate import evaluate, format_report

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    fx, feat = _featuriser(settings.vigil_score_threads, float32)
    scorer = CpuScorer(topics=settings.topics, features=fx)
    from pipelines.scoring.evaluate_threat import (
        calibration_figures,
        evaluate_threat,
        format_threat,
        sentiment_figures,
    )

    data = data_dir or ds.default_data_dir()
    threat = {
        "threat": evaluate_threat(scorer, data, feat, errors),
        "calibration": calibration_figures(scorer, data, feat),
        "sentiment_heldout": sentiment_figures(scorer, data, feat),
    }
    res = {} if threat_only else evaluate(scorer, data, feat)
    ents = None
    if not threat_only:
        # entities (issue 14): the held-out test split of labels/entities_gold.csv
        from pipelines.scoring import entities_eval

        ents = entities_eval.evaluate(data, splits=("test",))
        if as_json:
            res["entities_test"] = entities_eval.summary(ents["test"])
    if as_json:
        typer.echo(json.dumps({**res, **threat}, indent=2))
    else:
        if res:
            typer.echo(format_report(res))
        typer.echo(format_threat(threat["threat"], threat["calibration"], threat["sentiment_heldout"]))
        if ents is not None:
            typer.echo(
                "\nEntities, test split of labels/entities_gold.csv (eval-entities: both splits, errors):"
            )
            typer.echo(entities_eval.format_report(ents))


# ---- threat ensemble and calibration (issue 14, threat/sentiment/calibration area)


DataDirOption = Annotated[Path | None, typer.Option(help="shared/data folder (default: ../shared/data).")]
HeadsDirOption = Annotated[
    Path | None, typer.Option(help="Heads folder to update (default: the package's heads/).")
]


def _refit(train: Any, data_dir: Path | None, heads_dir: Path | None) -> dict:
    """Run one of the refit steps (threat, sentiment) with the settings' featuriser.

    They share the data/heads defaults and the featuriser, and differ only in what they fit.
    """
    from pipelines.scoring import datasets as ds
    from pipelines.scoring.heads import HEADS_DIR

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    _, feat = _featuriser(settings.vigil_score_threads)
    return train(data_dir or ds.default_data_dir(), feat, heads_dir or HEADS_DIR)


@app.command("train-threat")
def train_threat_cmd(
    data_dir: DataDirOption = None,
    heads_dir: HeadsDirOption = None,
) -> None:
    """Fit the threat ensemble (MiniLM head + n-grams), calibrate it; run after train-heads."""
    from pipelines.scoring.threat_train import train_threat

    sec = _refit(train_threat, data_dir, heads_dir)
    typer.echo(f"threat: {json.dumps(sec['chosen'])}")
    typer.echo(f"calibration {sec['calibration']['kind']}, high threshold {sec['high_threshold']}")


@app.command("train-sentiment")
def train_sentiment_cmd(
    data_dir: DataDirOption = None,
    heads_dir: HeadsDirOption = None,
) -> None:
    """Refit only the sentiment head (blocks, C by CV on the training half) and its class biases."""
    from pipelines.scoring.sentiment_train import train_sentiment

    sec = _refit(train_sentiment, data_dir, heads_dir)
    best = sec["chosen"]
    typer.echo(
        f"sentiment: blocks {best['blocks']} C {best['C']} -> CV macro-recall "
        f"{100 * best['cv_macro_recall']:.1f} (training half, seeds {best['cv_macro_recall_by_seed']})"
    )
