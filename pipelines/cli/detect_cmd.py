"""``detect`` (the detector process), ``eval-nab`` and ``eval-onsets`` commands."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from pipelines.cli import app, setup_logging
from pipelines.core.config import get_settings


@app.command()
def detect(
    loop: bool = typer.Option(
        False, "--loop", help="Run a cycle every VIGIL_DETECT_INTERVAL_S until stopped."
    ),
    once: bool = typer.Option(False, "--once", help="Run one cycle, print its report, exit."),
    interval: float = typer.Option(0.0, help="Seconds between cycles (default VIGIL_DETECT_INTERVAL_S)."),
) -> None:
    """Find anomalies in the rollups (robust online statistics; see docs/detection.md)."""
    from pipelines.detect.defaults import production_config
    from pipelines.detect.matrix_profile import warm_up
    from pipelines.detect.service import DetectorService
    from pipelines.store import Store

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    if not (loop or once):
        _fail("give --loop or --once")
    if interval < 0:
        _fail(f"--interval must be positive, got {interval}")
    try:
        config = production_config(settings.vigil_detect_method, settings.vigil_detect_threshold)
    except ValueError as exc:
        _fail(str(exc))
    if config.method in ("stumpy", "combined", "ensemble"):
        warm_up()  # Numba compilation (or cache load) once per process, never inside a cycle
    from pipelines.search.index import index_path

    store = Store.open(settings)
    try:
        service = DetectorService(
            store,
            config,
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
        _fail(f"--method {value!r}: use {', '.join(METHODS)} or all")
    return chosen


def _fail(message: str) -> NoReturn:
    """One plain line on stderr and exit code 2 (no framed usage box)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


_CONTEXT_CHOICE = "With --lofo, context methods: comma list of "

AlsoOption = Annotated[
    list[Path] | None, typer.Option("--also", help="With --lofo: more folders (each with windows.json).")
]
CacheOption = Annotated[
    Path | None, typer.Option("--cache", help="With --lofo: cache raw scores per file and variant here.")
]
TransformOption = Annotated[
    str, typer.Option("--transform", help="With --lofo: comma list of log1p, sqrt, none to choose from.")
]
DirectionOption = Annotated[
    str, typer.Option("--direction", help="With --lofo: comma list of up, both to choose from.")
]
LikelihoodOption = Annotated[
    str,
    typer.Option(
        "--likelihood",
        help=_CONTEXT_CHOICE + "anomaly-likelihood averaging hours to choose from (0 = raw novelty).",
    ),
]
TrimOption = Annotated[
    str,
    typer.Option(
        "--trim",
        help=_CONTEXT_CHOICE + "warm-up range trims (quantile each side, 0 = min/max) to choose from.",
    ),
]
SoftOption = Annotated[
    str,
    typer.Option(
        "--soft",
        help=_CONTEXT_CHOICE
        + "0 (crisp novelty), 1 (soft: share of past continuations missed) to choose from.",
    ),
]
EdgesOption = Annotated[
    str,
    typer.Option(
        "--edges",
        help=_CONTEXT_CHOICE
        + "width, quantile, both (how the warm-up range is cut into bins) to choose from.",
    ),
]
GridOption = Annotated[
    list[str] | None,
    typer.Option(
        "--grid",
        help="With --lofo: KEY=V1,V2 (repeatable) adds any detector setting's values to choose from, e.g. context_orders=4,7.",
    ),
]
RefreshOption = Annotated[
    str,
    typer.Option(
        "--refresh",
        help=_CONTEXT_CHOICE
        + "0 (fixed bins) or k (bins and memory renewed every k warm-ups) to choose from.",
    ),
]


@app.command("eval-nab")
def eval_nab(
    data_dir: Annotated[Path, typer.Argument(help="Folder of NAB-format CSVs (timestamp,value).")],
    windows_json: Annotated[
        Path | None, typer.Argument(help="NAB windows.json (default: DATA_DIR/windows.json).")
    ] = None,
    profiles: Annotated[
        Path | None, typer.Option("--profiles", help="NAB profiles.json (default: NAB's three profiles).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write NAB result files and scores.json (or lofo.json) here.")
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method", help="prophet, stumpy, combined, robust, ensemble, context, robust+context or all."
        ),
    ] = "all",
    workers: Annotated[int, typer.Option(help="Processes (one file each at a time).")] = 0,
    lofo: Annotated[
        bool,
        typer.Option(
            "--lofo", help="Leave-one-file-out: settings and threshold chosen without the scored file."
        ),
    ] = False,
    also: AlsoOption = None,
    cache: CacheOption = None,
    transform: TransformOption = "",
    direction: DirectionOption = "",
    likelihood: LikelihoodOption = "0",
    trim: TrimOption = "0",
    soft: SoftOption = "0",
    edges: EdgesOption = "width",
    grid: GridOption = None,
    refresh: RefreshOption = "0",
) -> None:
    """Run the detector over NAB files and print standard / low-FP / low-FN NAB scores."""
    from pipelines.detect import nab_eval

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    windows_json = windows_json or data_dir / "windows.json"
    for path, what in ((data_dir, "DATA_DIR"), (windows_json, "WINDOWS_JSON")):
        if not path.exists():
            _fail(f"{what} {path} does not exist")
    if profiles is None and (data_dir / "profiles.json").exists():
        profiles = data_dir / "profiles.json"
    if lofo:
        _eval_lofo(
            [data_dir, *(also or [])],
            method,
            transform,
            direction,
            profiles,
            out,
            cache,
            likelihood,
            trim,
            soft,
            edges,
            refresh,
            grid or [],
        )
        return
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


def _number_list(text: str, option: str) -> list[object]:
    """A comma list of non-negative numbers (exits with a clear message on anything else)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        _fail(f"{option} {text!r}: use a comma list of numbers >= 0, e.g. 0,1")
    if not values or any(not v >= 0 for v in values):
        _fail(f"{option} {text!r}: use a comma list of numbers >= 0, e.g. 0,1")
    return list(values)


def _grid_options(items: list[str]) -> dict[str, list[object]]:
    """``--grid KEY=V1,V2`` items as grid options, each value cast to the setting's type."""
    from pipelines.detect.defaults import DetectConfig

    defaults = DetectConfig()
    out: dict[str, list[object]] = {}
    for item in items:
        key, _, text = item.partition("=")
        key = key.strip()
        if not hasattr(defaults, key) or not text.strip():
            _fail(f"--grid {item!r}: use KEY=V1,V2 with KEY a detector setting (e.g. context_orders=4,7)")
        kind = type(getattr(defaults, key))
        cast = (lambda v: v.lower() in ("1", "true", "yes")) if kind is bool else kind
        try:
            values = [cast(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            _fail(f"--grid {item!r}: {key} takes {kind.__name__} values")
        out[key] = list(values)
    return out


def _eval_lofo(
    folders: list[Path],
    method: str,
    transform: str,
    direction: str,
    profiles: Path | None,
    out: Path | None,
    cache: Path | None,
    likelihood: str = "0",
    trim: str = "0",
    soft: str = "0",
    edges: str = "width",
    refresh: str = "0",
    grid: list[str] | None = None,
) -> None:
    import json

    from pipelines.detect import lofo, nab
    from pipelines.detect.defaults import CONTEXT_METHODS

    methods = ["robust"] if method == "all" else _methods(method)
    options: dict[str, list[object]] = {"method": list(methods)}
    for name, text, allowed in (
        ("transform", transform, ("log1p", "sqrt", "none")),
        ("direction", direction, ("up", "both")),
    ):
        chosen = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in chosen if v not in allowed]
        if bad:
            _fail(f"--{name} {text!r}: use a comma list of {', '.join(allowed)}")
        if chosen:
            options[name] = list(chosen)
    options |= lofo.DEFAULT_GRID
    if any(m in CONTEXT_METHODS for m in methods):
        options |= lofo.CONTEXT_GRID
        options["likelihood_avg_hours"] = _number_list(likelihood, "--likelihood")
        options["context_trim"] = _number_list(trim, "--trim")
        if any(v >= 0.5 for v in options["context_trim"]):  # type: ignore[operator]
            _fail(f"--trim {trim!r}: a share of the warm-up cut at each end, below 0.5")
        options["context_soft"] = [bool(v) for v in _number_list(soft, "--soft")]
        cuts = [v.strip() for v in edges.split(",") if v.strip()]
        if not cuts or any(v not in ("width", "quantile", "both") for v in cuts):
            _fail(f"--edges {edges!r}: use a comma list of width, quantile, both")
        options["context_edges"] = cuts
        renew = _number_list(refresh, "--refresh")
        if any(v != int(v) for v in renew):  # type: ignore[call-overload]
            _fail(f"--refresh {refresh!r}: use a comma list of whole numbers of warm-ups, e.g. 0,1")
        options["context_refresh"] = [int(v) for v in renew]  # type: ignore[call-overload]
    if "robust+context" in methods:
        options["context_weight"] = list(lofo.CONTEXT_WEIGHTS)
    options |= _grid_options(grid or [])
    try:
        files = lofo.discover(folders)
        report = lofo.leave_one_file_out(
            files,
            lofo.grid(lofo.DEFAULT_BASE, options),
            nab.load_profiles(profiles) if profiles else None,
            cache=cache,
            vary=[k for k, v in options.items() if len(v) > 1],
        )
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(lofo.format_report(report))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "lofo.json").write_text(json.dumps(report, indent=1, default=float))
        typer.echo(f"report written to {out / 'lofo.json'}")


@app.command("eval-onsets")
def eval_onsets(
    crisislex_dir: Annotated[Path, typer.Argument(help="CrisisLexT26 folder (one folder per event).")],
    step: Annotated[
        int, typer.Option(help="Bucket width in seconds; 0 = 5 minutes where volume allows, else hourly.")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    pad_days: Annotated[
        float, typer.Option(help="Days of empty buckets before each collection (a quiet baseline).")
    ] = 0.0,
    loeo: Annotated[
        bool,
        typer.Option(
            "--loeo",
            help="Leave-one-event-out: each event scored with the gate and cold-start setting best on the others.",
        ),
    ] = False,
    choose: Annotated[
        bool,
        typer.Option(
            "--choose",
            help="Print every --loeo setting's loss on all events, as collected and padded 7 days together (how the default was chosen).",
        ),
    ] = False,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="Production method to measure (robust or robust+context; not with --loeo/--choose).",
        ),
    ] = "robust",
) -> None:
    """Delay from the first tweet of each CrisisLex event's surge to the detector's first anomaly."""
    from pipelines.detect import onsets
    from pipelines.detect.defaults import COUNT_CONFIG, production_config

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    if not crisislex_dir.is_dir():
        _fail(f"{crisislex_dir} is not a folder")
    if step < 0:
        _fail(f"--step must be 0 (auto) or a number of seconds, got {step}")
    try:
        config = production_config(method)
    except ValueError as exc:
        _fail(f"--method: {exc}")
    if method != "robust" and (loeo or choose):
        _fail(
            "--method: --loeo and --choose choose the robust method's gate; measure other methods without them"
        )
    try:
        if choose:
            ranked = onsets.choose(crisislex_dir, onsets.loeo_grid(COUNT_CONFIG), step_s=step)
            for c, (n, med) in ranked:
                typer.echo(
                    f"min_hour_excess={c.min_hour_excess:g} cold_start_hours={c.cold_start_hours:g}: "
                    f"misses + false alarms {n}, mean median delay {med:.2f} h"
                )
            return
        if loeo:
            pairs = onsets.leave_one_event_out(
                crisislex_dir, onsets.loeo_grid(COUNT_CONFIG), step_s=step, pad_days=pad_days
            )
            rows = [r for r, _ in pairs]
            chosen = [
                f"{r.event}: min_hour_excess={c.min_hour_excess:g} cold_start_hours={c.cold_start_hours:g}"
                for r, c in pairs
            ]
        else:
            rows = onsets.evaluate(crisislex_dir, config, step_s=step, pad_days=pad_days)
            chosen = []
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(onsets.as_json(rows) if as_json else onsets.format_table(rows))
    if chosen and not as_json:
        typer.echo("chosen on the other events:\n  " + "\n  ".join(chosen))
