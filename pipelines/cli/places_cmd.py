"""``eval-places``: precision / recall / F1 of place extraction on annotated tweets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli import app


@app.command("eval-places")
def eval_places_cmd(
    data_dir: Annotated[
        Path | None, typer.Option(help="shared/data folder (default: ../shared/data).")
    ] = None,
    errors: Annotated[int, typer.Option(help="Also print this many mistakes per split.")] = 0,
    geo_file: Annotated[
        Path | None,
        typer.Option(
            help="Measure extract_places of another geo.py (e.g. `git show REV:pipelines/scoring/geo.py`)."
        ),
    ] = None,
) -> None:
    """Print place-extraction P/R/F1 on the hand-annotated CrisisLexT26 tweets (tune / test)."""
    from pipelines.scoring import datasets as ds
    from pipelines.scoring.gazetteer_eval import evaluate, extract_pairs, format_report, pairs_from_file

    try:
        extract = pairs_from_file(geo_file) if geo_file else extract_pairs
        res = evaluate(data_dir or ds.default_data_dir(), extract=extract)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"eval-places: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(format_report(res, errors))
