"""``python -m pipelines <command>``: one typer app, one module per group of commands.

Each module in this package registers its commands on :data:`app` when imported;
the list below is the registry (a test checks that every module imports).
"""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(
    name="pipelines",
    help="Vigil: collect, score, detect, alert. Run `make run` for the whole stack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (
    "pipelines.cli.up_cmd",
    "pipelines.cli.import_cmd",
    "pipelines.cli.crawl_cmd",
    "pipelines.cli.user_cmd",
    "pipelines.cli.score_cmd",
    "pipelines.cli.alerts_cmd",
    "pipelines.cli.detect_cmd",
    "pipelines.cli.places_cmd",
    "pipelines.cli.entities_cmd",
    "pipelines.cli.export_cmd",
    "pipelines.cli.search_cmd",
)


@app.callback()
def _root() -> None:
    """Vigil's command line (``python -m pipelines --help`` lists every command)."""


def setup_logging(level: str = "INFO") -> None:
    """One log format for every Vigil process (the supervisor prefixes process names)."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def load_commands() -> typer.Typer:
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    return app
