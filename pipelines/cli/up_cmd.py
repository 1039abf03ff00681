"""``python -m pipelines up``: the whole stack (what ``make run`` calls)."""

from __future__ import annotations

import typer

from pipelines.cli import app, setup_logging
from pipelines.core.config import get_settings


@app.command()
def up() -> None:
    """Start the store, the sample import, every background process and the dashboard."""
    from pipelines.supervisor import run_stack

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    raise typer.Exit(run_stack(settings))
