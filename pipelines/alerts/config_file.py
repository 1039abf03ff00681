"""Alerting configured from a YAML file, without the UI (``alerts.yaml``).

``python -m pipelines alerts apply FILE`` and the alerts loop at start (``VIGIL_ALERTS_FILE``,
default ``alerts.yaml`` in the repository root, when it exists) create or update the
channels, watchlists and rules it lists, by id/name. Entries the file does not list are
left alone (the UI may have made them). The file holds no secrets: channels name the
environment variables that do. See ``alerts.example.yaml`` and docs/alerts.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.alerts.models import AlertConfigError, Channel, Rule
from pipelines.search.watchlists import Watchlist, WatchlistError
from pipelines.store import Store

SECTIONS = ("channels", "watchlists", "rules")


@dataclass
class AlertConfig:
    channels: list[Channel] = field(default_factory=list)
    watchlists: list[Watchlist] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


def parse_config(data: Any, origin: str = "alerts config") -> AlertConfig:
    """Validate a parsed YAML document; errors name the section, entry and field."""
    if data is None:
        return AlertConfig()
    if not isinstance(data, dict):
        raise AlertConfigError(f"{origin}: the top level must be a mapping with {', '.join(SECTIONS)}")
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise AlertConfigError(f"{origin}: unknown section(s) {', '.join(sorted(map(str, unknown)))}")
    out = AlertConfig()
    makers = {"channels": Channel.make, "watchlists": Watchlist.make, "rules": Rule.make}
    for section in SECTIONS:
        entries = data.get(section) or []
        if not isinstance(entries, list):
            raise AlertConfigError(f"{origin}: {section} must be a list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise AlertConfigError(f"{origin}: {section}[{i}] must be a mapping")
            try:
                getattr(out, section).append(makers[section](**entry))
            except (AlertConfigError, WatchlistError) as exc:
                label = entry.get("name") or entry.get("id") or i
                raise AlertConfigError(f"{origin}: {section}[{i}] ({label}): {exc}") from exc
    return out


def load_config(path: Path) -> AlertConfig:
    """Read and validate a YAML file (a clear error names the file and the problem)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AlertConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AlertConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    return parse_config(data, str(path))


def apply_config(store: Store, cfg: AlertConfig, origin: str = "alerts config") -> dict[str, int]:
    """Save every entry (channels first, so rules can name them); returns counts per section.

    Rules naming a channel or watchlist that exists neither in the file nor in the store
    are refused before anything is written.
    """
    channels = {c.name for c in cfg.channels} | {d["_id"] for d in store.alerts.list_config("alert_channels")}
    watch = {w.id for w in cfg.watchlists} | {d["_id"] for d in store.alerts.list_config("watchlists")}
    for r in cfg.rules:
        missing = [c for c in r.channels if c not in channels]
        if missing:
            raise AlertConfigError(f"{origin}: rule {r.id!r} names unknown channel(s) {', '.join(missing)}")
        if r.watchlist and r.watchlist not in watch:
            raise AlertConfigError(f"{origin}: rule {r.id!r} names unknown watchlist {r.watchlist!r}")
    for c in cfg.channels:
        store.alerts.put_config("alert_channels", c.to_doc())
    for w in cfg.watchlists:
        store.alerts.put_config("watchlists", _watch_doc(w))
    for r in cfg.rules:
        store.alerts.put_config("alert_rules", r.to_doc())
    return {"channels": len(cfg.channels), "watchlists": len(cfg.watchlists), "rules": len(cfg.rules)}


def _watch_doc(w: Watchlist) -> dict[str, Any]:
    doc = w.to_doc()
    for k in ("created", "updated"):
        doc.pop(k, None)  # the store keeps its own timestamps
    return doc
