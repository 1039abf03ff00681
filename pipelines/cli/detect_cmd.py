"""``detect`` (the detector process), ``eval-nab`` and ``eval-onsets`` commands."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from pipelines.cli import app, setup_logging
from pipelines.config import get_settings


@app.command()
def detect(
    loop: bool = typer.Option(
        False, "--loop", help="Run a cycle every VIGIL_DETECT_INTERVAL_S until stopped."
    ),
    once: bool = typer.Option(False, "--once", help="Run one cycle, print its report, exit."),
    interval: float = typer.Option(0.0, help="Seconds between cycles (default VIGIL_DETECT_INTERVAL_S)."),
) -> None:
    """Find anomalies in the rollups (Prophet baseline + STUMPY matrix profile)."""
    from pipelines.detect.defaults import DetectConfig
    from pipelines.detect.matrix_profile import warm_up
    from pipelines.detect.service import DetectorService
    from pipelines.store import Store

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    if not (loop or once):
        _fail("give --loop or --once")
    if interval < 0:
        _fail(f"--interval must be positive, got {interval}")
    warm_up()  # Numba compilation (or cache load) once per process, never inside a cycle
    from pipelines.search.index import index_path

    store = Store.open(settings)
    try:
        service = DetectorService(
            store,
            DetectConfig()
            if settings.vigil_detect_threshold is None
            else DetectConfig(threshold=settings.vigil_detect_threshold),
            lookback_days=settings.vigil_detect_lookback_days,
            max_series=settings.vigil_detect_max_series,
            index_dir=index_path(settings.vigil_data_dir),  # watch: series (issue 13)
        )
        if once:
            report = service.run_cycle()
            typer.echo(report.line())
            for err in report.errors:
                typer.echo(f"error: {err}", err=True)
            return
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        service.loop(interval or settings.vigil_detect_interval_s, stop)
    finally:
        store.close()


def _methods(value: str) -> list[str]:
    from pipelines.detect.defaults import METHODS

    if value == "all":
        return list(METHODS)
    chosen = [m.strip() for m in value.split(",") if m.strip()]
    bad = [m for m in chosen if m not in METHODS]
    if bad or not chosen:
        _fail(f"--method {value!r}: use prophet, stumpy, combined or all")
    return chosen


def _fail(message: str) -> NoReturn:
    """One plain line on stderr and exit code 2 (no framed usage box)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command("eval-nab")
def eval_nab(
    data_dir: Annotated[Path, typer.Argument(help="Folder of NAB-format CSVs (timestamp,value).")],
    windows_json: Annotated[Path, typer.Argument(help="NAB windows.json (labelled anomaly windows).")],
    profiles: Annotated[
        Path | None, typer.Option("--profiles", help="NAB profiles.json (default: NAB's three profiles).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write NAB result files and scores.json here.")
    ] = None,
    method: Annotated[str, typer.Option("--method", help="prophet, stumpy, combined or all.")] = "all",
    workers: Annotated[int, typer.Option(help="Processes (one file each at a time).")] = 0,
) -> None:
    """Run the detector over NAB files and print standard / low-FP / low-FN NAB scores."""
    from pipelines.detect import nab_eval

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    for path, what in ((data_dir, "DATA_DIR"), (windows_json, "WINDOWS_JSON")):
        if not path.exists():
            _fail(f"{what} {path} does not exist")
    if profiles is None and (data_dir / "profiles.json").exists():
        profiles = data_dir / "profiles.json"
    try:
        results = nab_eval.evaluate(
            data_dir,
            windows_json,
            profiles_json=profiles,
            methods=_methods(method),
            out_dir=out,
            workers=workers or None,
        )
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(nab_eval.format_table(results))
    if out is not None:
        typer.echo(f"results and scores.json written under {out}")


@app.command("eval-onsets")
def eval_onsets(
    crisislex_dir: Annotated[Path, typer.Argument(help="CrisisLexT26 folder (one folder per event).")],
    step: Annotated[int, typer.Option(help="Bucket width in seconds (production rollups: 3600).")] = 3600,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    pad_days: Annotated[
        float, typer.Option(help="Days of empty buckets before each collection (a quiet baseline).")
    ] = 0.0,
) -> None:
    """Delay from each CrisisLex event's start day to the detector's first anomaly."""
    from pipelines.detect import onsets

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    if not crisislex_dir.is_dir():
        _fail(f"{crisislex_dir} is not a folder")
    try:
        rows = onsets.evaluate(crisislex_dir, step_s=step, pad_days=pad_days)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(onsets.as_json(rows) if as_json else onsets.format_table(rows))
