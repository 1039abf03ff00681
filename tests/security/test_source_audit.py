"""Source changes made on the command line land in the audit log with their actor."""

from __future__ import annotations

from typer.testing import CliRunner

from pipelines.cli import load_commands
from pipelines.store import Store


def test_sources_add_toggle_remove_are_audited(store: Store, runner: CliRunner):
    app = load_commands()
    steps = [
        ["sources", "add", "feed-one", "--kind", "rss", "--url", "https://example.org/feed.xml"],
        [
            "sources",
            "add",
            "feed-one",
            "--kind",
            "rss",
            "--url",
            "https://example.org/other.xml",
            "--replace",
        ],
        ["sources", "disable", "feed-one"],
        ["sources", "enable", "feed-one"],
        ["sources", "remove", "feed-one"],
        ["sources", "remove", "feed-one"],  # unknown now: refused, nothing audited
    ]
    codes = [runner.invoke(app, args).exit_code for args in steps]
    assert codes[:5] == [0, 0, 0, 0, 0] and codes[5] != 0
    events = list(reversed(store.audit.events(20, action="source.")))
    assert [(e["action"], e["target"]) for e in events] == [
        ("source.add", "feed-one"),
        ("source.replace", "feed-one"),
        ("source.disable", "feed-one"),
        ("source.enable", "feed-one"),
        ("source.remove", "feed-one"),
    ]
    assert all(e["actor"].startswith("cli:") for e in events)
    assert events[0]["details"] == {"kind": "rss"}
