"""``python -m pipelines crawl`` and ``python -m pipelines sources ...`` (the crawler's CLI)."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.cli import app, setup_logging
from pipelines.core.config import get_settings

sources_app = typer.Typer(help="Manage crawl sources (the `sources` collection).", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


def _store() -> Any:
    from pipelines.store import Store

    return Store.open(get_settings())


def _audit(store: Any, action: str, name: str, details: dict[str, Any] | None = None) -> None:
    """Source changes go to the audit log with the actor ``cli:<OS user>`` (issue 8)."""
    from pipelines.auth import audit, cli_actor

    audit(store, cli_actor(), action, name, details)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def crawl(
    loop: bool = typer.Option(False, "--loop", help="Run due sources forever (what `pipelines up` starts)."),
    once: bool = typer.Option(False, "--once", help="Run sources once and exit."),
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="With --once: this source (repeatable).")
    ] = None,
    concurrency: int | None = typer.Option(
        None, help="Crawl subprocesses at once (VIGIL_CRAWL_CONCURRENCY)."
    ),
) -> None:
    """Crawl the sources: each run is a `scrapy crawl` subprocess recorded in `crawl_runs`."""
    from pipelines.ingest.crawl_scheduler import CrawlScheduler, seed_sources
    from pipelines.ingest.sources import InvalidSource

    if loop == once:
        _fail("pass exactly one of --loop or --once")
    if loop and source:
        _fail("--source goes with --once")
    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    store = _store()
    try:
        sched = CrawlScheduler(store, settings, concurrency=concurrency)
        if once:
            try:
                results = sched.run_once(source or None)
            except InvalidSource as exc:
                _fail(str(exc))
            for r in results:
                typer.echo(
                    f"{r['source']}: {r['status']}, {r.get('inserted', 0)} new of {r.get('items', 0)} items, "
                    f"{r.get('dropped', 0)} dropped" + (f"; {r['error']}" if r.get("error") else "")
                )
            if not results:
                typer.echo("no source is due")
            raise typer.Exit(0 if all(r["status"] in ("ok", "partial") for r in results) else 1)
        if store.meta.get("sources_seeded") is None and not store.sources.list_all():
            path = Path(settings.vigil_crawl_sources_file)
            if path.is_file():
                written, errors = seed_sources(store, path)
                for e in errors:
                    typer.echo(f"warning: {e}", err=True)
                typer.echo(f"seeded {len(written)} source(s) from {path}")
            store.meta.set("sources_seeded", file=str(path))
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        sched.loop(stop)
    finally:
        store.close()


# --------------------------------------------------------------------------- sources


@sources_app.command("add")
def sources_add(
    name: str = typer.Argument(..., help="Unique name; posts are stored as NAME:native_id."),
    kind: str = typer.Option(
        ..., "--kind", "-k", help="rss, reddit, mastodon, fourchan, hackernews, bluesky"
    ),
    url: str | None = typer.Option(None, help="Feed URL (rss)."),
    api_base: str | None = typer.Option(None, help="API host (default: the platform's public one)."),
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value, repeatable (e.g. subreddit=worldnews)."),
    ] = None,
    interval: int = typer.Option(900, help="Seconds between runs."),
    timeout: int = typer.Option(600, help="A run is killed after this many seconds."),
    auth_env: str | None = typer.Option(None, help="NAME of the env variable holding the auth header value."),
    auth_header: str = typer.Option("Authorization", help="Header the auth_env value is sent in."),
    no_robots: bool = typer.Option(False, "--no-robots", help="Do not obey robots.txt (official APIs only)."),
    disabled: bool = typer.Option(False, "--disabled", help="Add it switched off."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a source of the same name."),
    description: str | None = typer.Option(None),
) -> None:
    """Add a source after validating it (refused with the reason when it cannot work)."""
    from pipelines.ingest.sources import InvalidSource, parse_param_pairs, validate_source

    try:
        src = validate_source(
            {
                "name": name,
                "kind": kind,
                "url": url,
                "api_base": api_base,
                "params": parse_param_pairs(param or []),
                "interval_s": interval,
                "timeout_s": timeout,
                "auth_env": auth_env,
                "auth_header": auth_header,
                "obey_robots": not no_robots,
                "enabled": not disabled,
                "description": description,
            }
        )
    except InvalidSource as exc:
        _fail(str(exc))
    store = _store()
    try:
        existed = store.sources.get(src.name) is not None
        if existed and not replace:
            _fail(f"source {src.name!r} already exists (use --replace to overwrite it)")
        store.sources.upsert(src.to_doc())
        _audit(store, "source.replace" if existed else "source.add", src.name, {"kind": src.kind})
    finally:
        store.close()
    typer.echo(
        f"added {src.name} ({src.kind}, every {src.interval_s} s{'' if src.enabled else ', disabled'})"
    )


@sources_app.command("list")
def sources_list(as_json: bool = typer.Option(False, "--json", help="One JSON object per line.")) -> None:
    """Every source with its state: last run, status, next run."""
    store = _store()
    try:
        docs = store.sources.list_all()
    finally:
        store.close()
    if as_json:
        for d in docs:
            d.pop("lock", None)
            typer.echo(json.dumps(d, default=str))
        return
    if not docs:
        typer.echo("no sources (add one with `sources add`, or `sources seed`)")
        return
    typer.echo(
        f"{'name':<22} {'kind':<10} {'on':<3} {'every':>7}  {'last':<8} {'next run (UTC)':<19}  target"
    )
    for d in docs:
        st = d.get("state") or {}
        nxt = st.get("next_due")
        target = d.get("url") or (d.get("api_base") or "") + " " + json.dumps(d.get("params") or {})
        typer.echo(
            f"{d['name']:<22} {d['kind']:<10} {'yes' if d.get('enabled') else 'no':<3} "
            f"{d.get('interval_s', 0):>6}s  {st.get('last_status') or '-':<8} "
            f"{nxt.strftime('%Y-%m-%d %H:%M:%S') if nxt else 'now':<19}  {target.strip()[:70]}"
        )


def _toggle(name: str, enabled: bool) -> None:
    store = _store()
    try:
        ok = store.sources.set_enabled(name, enabled)
        if ok:
            _audit(store, "source.enable" if enabled else "source.disable", name)
    finally:
        store.close()
    if not ok:
        _fail(f"unknown source {name!r}")
    typer.echo(f"{name} {'enabled' if enabled else 'disabled'}")


@sources_app.command("enable")
def sources_enable(name: str) -> None:
    """Switch a source on."""
    _toggle(name, True)


@sources_app.command("disable")
def sources_disable(name: str) -> None:
    """Switch a source off (its posts and state are kept)."""
    _toggle(name, False)


@sources_app.command("remove")
def sources_remove(name: str) -> None:
    """Delete a source definition (its posts stay)."""
    store = _store()
    try:
        ok = store.sources.remove(name)
        if ok:
            _audit(store, "source.remove", name)
    finally:
        store.close()
    if not ok:
        _fail(f"unknown source {name!r}")
    typer.echo(f"removed {name}")


@sources_app.command("seed")
def sources_seed(
    file: Annotated[
        Path | None, typer.Option(help="Sources file (default VIGIL_CRAWL_SOURCES_FILE).")
    ] = None,
    replace: bool = typer.Option(False, "--replace", help="Overwrite sources that already exist."),
) -> None:
    """Add the sources of a sources.yaml (refused entries are listed with their reasons)."""
    from pipelines.ingest.crawl_scheduler import seed_sources
    from pipelines.ingest.sources import InvalidSource

    path = file or Path(get_settings().vigil_crawl_sources_file)
    store = _store()
    try:
        written, errors = seed_sources(store, path, replace=replace)
        store.meta.set("sources_seeded", file=str(path))
    except InvalidSource as exc:
        _fail(str(exc))
    finally:
        store.close()
    for e in errors:
        typer.echo(f"refused: {e}", err=True)
    typer.echo(f"seeded {len(written)} source(s) from {path}")
    if errors:
        raise typer.Exit(1)


@sources_app.command("runs")
def sources_runs(
    name: str | None = typer.Argument(None, help="Only this source."),
    limit: int = typer.Option(20, help="How many runs, newest first."),
) -> None:
    """Recent crawl runs: status, counts and the first error."""
    store = _store()
    try:
        runs = store.crawl_runs.recent(name, limit=limit)
    finally:
        store.close()
    for r in runs:
        typer.echo(
            f"{r['started'].strftime('%Y-%m-%d %H:%M:%S')} {r['source']:<22} {r.get('status', '?'):<11} "
            f"{r.get('inserted', 0):>5} new {r.get('items', 0):>5} items {r.get('dropped', 0):>4} dropped"
            + (f"  {r['error']}" if r.get("error") else "")
        )
