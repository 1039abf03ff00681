"""``alerts`` (the loop, channels, rules, history, tests) and ``watchlists`` commands.

Everything the UI does can be done here too, so a server can be set up from a shell:

    python -m pipelines watchlists add "Calgary flood" --query "flood OR #yycflood"
    python -m pipelines alerts channels add ops --type webhook --url http://127.0.0.1:9000/hook --secret-env HOOK_KEY
    python -m pipelines alerts rules add "Flood volume" --kind volume --watchlist calgary-flood --min-posts 20 --channel ops
    python -m pipelines alerts --loop
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import uuid
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli import app, setup_logging
from pipelines.core.config import get_settings

alerts_app = typer.Typer(help="Alert rules, channels, deliveries; `alerts --loop` runs the alerter.")
channels_app = typer.Typer(
    help="Notification channels (Slack, email, Telegram, webhook).", no_args_is_help=True
)
rules_app = typer.Typer(help="Alert rules on watchlists.", no_args_is_help=True)
watch_app = typer.Typer(help="Watchlists: saved queries that Vigil watches.", no_args_is_help=True)
alerts_app.add_typer(channels_app, name="channels")
alerts_app.add_typer(rules_app, name="rules")
app.add_typer(alerts_app, name="alerts")
app.add_typer(watch_app, name="watchlists")


def _store():
    from pipelines.store import Store

    return Store.open(get_settings())


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


@alerts_app.callback(invoke_without_command=True)
def alerts(
    ctx: typer.Context,
    loop: bool = typer.Option(False, "--loop", help="Run alert cycles until stopped."),
    once: bool = typer.Option(False, "--once", help="Run one cycle (and every due delivery), then exit."),
    config: Annotated[
        Path | None, typer.Option(help="Apply this YAML first (default VIGIL_ALERTS_FILE if it exists).")
    ] = None,
) -> None:
    """Tag posts with watchlists, evaluate rules and send alerts (``--loop`` or ``--once``)."""
    if ctx.invoked_subcommand is not None:
        return
    if not (loop or once):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    from pipelines.alerts.config_file import apply_config, load_config
    from pipelines.alerts.models import AlertConfigError
    from pipelines.alerts.notify import Notifier
    from pipelines.alerts.service import AlertService

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    store = _store()
    try:
        path = config or settings.vigil_alerts_file
        if config is not None or Path(path).is_file():
            try:
                counts = apply_config(store, load_config(Path(path)), str(path))
            except AlertConfigError as exc:
                _fail(str(exc))
            typer.echo(f"applied {path}: {json.dumps(counts)}")
        owner = f"alerts-{uuid.uuid4().hex[:8]}"
        notifier = Notifier(
            store,
            max_attempts=settings.vigil_alerts_max_attempts,
            retry_base_s=settings.vigil_alerts_retry_base_s,
        )
        # Watchlist rules read the search index in VIGIL_DATA_DIR (kept by `pipelines index`).
        service = AlertService(
            store,
            public_url=settings.vigil_public_url,
            notifier=notifier,
            data_dir=settings.vigil_data_dir,
        )
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        interval = settings.vigil_alerts_interval_s
        try:
            while not stop.is_set():
                # One alerts loop at a time: two would race on the same events and journal.
                if not store.meta.take_lease("alerts", owner, max(60.0, interval * 4)):
                    if once:
                        _fail("another alerts loop is running (it holds the 'alerts' lease); try again later")
                    typer.echo("another alerts loop holds the lease; waiting")
                    stop.wait(interval)
                    continue
                report = service.cycle()
                typer.echo(report.line())
                for err in report.errors:
                    typer.echo(f"  {err}", err=True)
                if once:
                    break
                stop.wait(interval)
        finally:
            store.meta.release_lease("alerts", owner)
            notifier.close()
    finally:
        store.close()


@alerts_app.command("apply")
def apply_cmd(path: Path) -> None:
    """Create or update the channels, watchlists and rules of a YAML file."""
    from pipelines.alerts.config_file import apply_config, load_config
    from pipelines.alerts.models import AlertConfigError

    store = _store()
    try:
        counts = apply_config(store, load_config(path), str(path))
    except AlertConfigError as exc:
        _fail(str(exc))
    finally:
        store.close()
    typer.echo(f"applied {path}: {json.dumps(counts)}")


@alerts_app.command("test-channel")
def test_channel(name: str) -> None:
    """Send a test message through one channel now."""
    from pipelines.alerts.notify import send_test

    store = _store()
    try:
        ok, detail = send_test(store, name, get_settings().vigil_public_url)
    finally:
        store.close()
    typer.echo(("sent: " if ok else "failed: ") + detail)
    raise typer.Exit(0 if ok else 1)


@alerts_app.command("receiver")
def receiver(
    port: int = 8765,
    secret_env: str = typer.Option("VIGIL_DEMO_WEBHOOK_SECRET", help="Variable holding the HMAC secret."),
) -> None:
    """A local webhook receiver that verifies signatures and prints alerts (for trying Vigil out)."""
    import os

    from pipelines.alerts.receiver import serve

    secret = os.environ.get(secret_env)
    if not secret:
        _fail(f"set {secret_env} to the same secret as the webhook channel's secret_env")

    def show(payload: dict) -> None:
        a = payload["alert"]
        typer.echo(
            f"[{a['severity_label']}] {a['title']}  ({a['kind']}, rule {a['rule']})  {a.get('link') or ''}"
        )

    typer.echo(f"listening on http://127.0.0.1:{port}/ (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        serve(port, secret or "", show)


@alerts_app.command("history")
def history(limit: int = 20, status: str | None = None, rule: str | None = None) -> None:
    """The newest deliveries (status, attempts, last error)."""
    store = _store()
    try:
        rows = store.alerts.delivery_log(limit, status=status, rule=rule)
    finally:
        store.close()
    for r in rows:
        err = f"  {r['last_error']}" if r.get("last_error") else ""
        typer.echo(
            f"{r['at']:%Y-%m-%d %H:%M} {r['status']:<8} x{r.get('attempts', 0)} {r['channel']:<16} {r.get('title', '')[:70]}{err}"
        )


# --------------------------------------------------------------------------- channels


@channels_app.command("list")
def channels_list() -> None:
    from pipelines.alerts.models import Channel

    store = _store()
    try:
        for doc in store.alerts.list_config("alert_channels"):
            ch = Channel.from_doc(doc)
            typer.echo(f"{ch.name:<20} {ch.type:<9} {'on ' if ch.enabled else 'off'} {ch.target()}")
    finally:
        store.close()


@channels_app.command("add")
def channels_add(
    name: str,
    type: Annotated[str, typer.Option("--type", help="slack, email, telegram or webhook")],
    url: str | None = None,
    url_env: str | None = None,
    secret_env: str | None = None,
    token_env: str | None = None,
    chat_id: str | None = None,
    api_base: str | None = None,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_security: str | None = None,
    smtp_user: str | None = None,
    password_env: str | None = None,
    mail_from: str | None = None,
    mail_to: str | None = None,
) -> None:
    """Create or replace a channel (secrets are given as environment variable NAMES)."""
    from pipelines.alerts.models import AlertConfigError, Channel

    values = {k: v for k, v in locals().items() if v is not None}
    try:
        ch = Channel.make(**values)
    except AlertConfigError as exc:
        _fail(str(exc))
    store = _store()
    try:
        store.alerts.put_config("alert_channels", ch.to_doc())
    finally:
        store.close()
    typer.echo(f"channel {ch.name} ({ch.type}) saved: {ch.target()}")


@channels_app.command("remove")
def channels_remove(name: str) -> None:
    store = _store()
    try:
        ok = store.alerts.delete_config("alert_channels", name)
    finally:
        store.close()
    if not ok:
        _fail(f"no channel named {name!r}")
    typer.echo(f"channel {name} removed")


# --------------------------------------------------------------------------- rules


@rules_app.command("list")
def rules_list() -> None:
    from pipelines.alerts.models import Rule

    store = _store()
    try:
        for doc in store.alerts.list_config("alert_rules"):
            r = Rule.from_doc(doc)
            state = "on " if r.enabled else "off"
            typer.echo(f"{r.id:<24} {state} {r.describe()} -> {', '.join(r.channels) or '(no channel)'}")
    finally:
        store.close()


@rules_app.command("add")
def rules_add(
    name: str,
    kind: Annotated[str, typer.Option(help="spike, threshold, volume, sentiment_shift or new_place")],
    watchlist: str | None = None,
    channel: Annotated[list[str] | None, typer.Option(help="Channel name (repeat for several).")] = None,
    min_severity: float | None = None,
    score: str | None = None,
    min_score: float | None = None,
    min_posts: int | None = None,
    window_hours: int | None = None,
    drop: float | None = None,
    lookback_hours: int | None = None,
    cooldown_minutes: int | None = None,
    tz: str | None = None,
    quiet: Annotated[str | None, typer.Option(help="Quiet hours as HH:MM-HH:MM in --tz.")] = None,
    digest: str | None = None,
    digest_hour: int | None = None,
) -> None:
    """Create or replace a rule (its id is made from the name)."""
    from pipelines.alerts.models import AlertConfigError, Rule

    values = {k: v for k, v in locals().items() if v is not None and k not in ("channel", "quiet")}
    values["channels"] = list(channel or [])
    if quiet:
        start, _, end = quiet.partition("-")
        values["quiet"] = {"start": start.strip(), "end": end.strip()}
    store = _store()
    try:
        try:
            rule = Rule.make(**values)
        except AlertConfigError as exc:
            _fail(str(exc))
        known = {d["_id"] for d in store.alerts.list_config("alert_channels")}
        missing = [c for c in rule.channels if c not in known]
        if missing:
            _fail(f"unknown channel(s): {', '.join(missing)} (add them with `alerts channels add`)")
        if rule.watchlist and store.alerts.get_config("watchlists", rule.watchlist) is None:
            _fail(f"unknown watchlist {rule.watchlist!r}")
        store.alerts.put_config("alert_rules", rule.to_doc())
    finally:
        store.close()
    typer.echo(f"rule {rule.id} saved: {rule.describe()}")


@rules_app.command("remove")
def rules_remove(rule_id: str) -> None:
    store = _store()
    try:
        ok = store.alerts.delete_config("alert_rules", rule_id)
    finally:
        store.close()
    if not ok:
        _fail(f"no rule {rule_id!r}")
    typer.echo(f"rule {rule_id} removed")


# --------------------------------------------------------------------------- watchlists


@watch_app.command("list")
def watch_list() -> None:
    store = _store()
    try:
        for doc in store.alerts.list_config("watchlists"):
            typer.echo(f"{doc['_id']:<24} {doc.get('name', '')!s:<30} {doc.get('query', '')!s:<40}")
    finally:
        store.close()


@watch_app.command("add")
def watch_add(
    name: str,
    query: str = "",
    exclude: str = "",
    source: Annotated[list[str] | None, typer.Option(help="Source name (repeat for several).")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="Language code (repeat for several).")] = None,
    near: Annotated[str | None, typer.Option(help="Circle as LAT,LON,KM.")] = None,
    entity: Annotated[
        list[str] | None, typer.Option(help="Entity as type:name, e.g. org:Red Cross (repeat for several).")
    ] = None,
    owner: str | None = None,
    share_user: Annotated[list[str] | None, typer.Option(help="User to share with.")] = None,
    share_role: Annotated[list[str] | None, typer.Option(help="Role to share with.")] = None,
    id: Annotated[str | None, typer.Option(help="Id (default: made from the name).")] = None,
) -> None:
    """Create or replace a watchlist; the alerts loop back-fills its tags over history."""
    from pipelines.search.watchlists import Watchlist, WatchlistError

    geo = None
    if near:
        try:
            lat, lon, km = (float(x) for x in near.split(","))
        except ValueError:
            _fail(f"--near must be LAT,LON,KM, not {near!r}")
        geo = {"lat": lat, "lon": lon, "km": km}
    try:
        wl = Watchlist.make(
            id=id,
            name=name,
            query=query,
            exclude=exclude,
            sources=source or [],
            langs=lang or [],
            entities=entity or [],
            geo=geo,
            owner=owner,
            shared_users=share_user or [],
            shared_roles=share_role or [],
        )
    except WatchlistError as exc:
        _fail(str(exc))
    store = _store()
    try:
        doc = wl.to_doc()
        doc.pop("created", None)
        doc.pop("updated", None)
        store.alerts.put_config("watchlists", doc)
    finally:
        store.close()
    typer.echo(f"watchlist {wl.id} saved (fingerprint {wl.fingerprint})")


@watch_app.command("remove")
def watch_remove(watchlist_id: str) -> None:
    """Delete a watchlist; the alerts loop then removes its tags and rollups."""
    store = _store()
    try:
        ok = store.alerts.delete_config("watchlists", watchlist_id)
    finally:
        store.close()
    if not ok:
        _fail(f"no watchlist {watchlist_id!r}")
    typer.echo(f"watchlist {watchlist_id} removed")
