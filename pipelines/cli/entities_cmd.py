"""``eval-entities``: precision / recall / F1 of entity extraction on annotated posts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli import app


@app.command("eval-entities")
def eval_entities_cmd(
    data_dir: Annotated[
        Path | None, typer.Option(help="shared/data folder (default: ../shared/data).")
    ] = None,
    split: Annotated[
        list[str] | None, typer.Option(help="tune and/or test (default: both). Tune rules on tune only.")
    ] = None,
    extractor: Annotated[
        str, typer.Option(help="shipped (spaCy + rules + gazetteer) or model-only (spaCy alone, no rules).")
    ] = "shipped",
    errors: Annotated[int, typer.Option(help="Also print this many mistakes per split.")] = 0,
) -> None:
    """Print entity P/R/F1 per type with 95 % intervals on the 300 hand-annotated posts."""
    from pipelines.scoring import datasets as ds
    from pipelines.scoring.entities_eval import EXTRACTORS, evaluate, format_report

    splits = tuple(split or ("tune", "test"))
    bad = [s for s in splits if s not in ("tune", "test")]
    if bad or extractor not in EXTRACTORS:
        what = (
            f"split {bad[0]!r} (tune or test)"
            if bad
            else f"extractor {extractor!r} ({', '.join(EXTRACTORS)})"
        )
        typer.echo(f"eval-entities: unknown {what}", err=True)
        raise typer.Exit(2)
    try:
        res = evaluate(data_dir or ds.default_data_dir(), extractor, splits)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"eval-entities: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(format_report(res, errors))
