"""The audit log: what an event holds, bounded details, filters, and that Vigil's code
has no way to change or delete an event (append-only from the app's side)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta

from pipelines.auth import audit
from pipelines.store import Store
from tests.conftest import REPO


def test_event_fields_and_bounds(store: Store):
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    doc = audit(
        store,
        "alice",
        "export",
        "csv",
        {"filters": {"query": "flood", "sources": ("a", "b")}, "rows": 12, "big": "x" * 5000},
        at=at,
    )
    got = store.audit.events(1)[0]
    assert got["_id"] == doc["_id"]
    assert (got["at"], got["actor"], got["action"], got["target"]) == (at, "alice", "export", "csv")
    assert got["details"]["filters"] == {"query": "flood", "sources": ["a", "b"]}
    assert got["details"]["rows"] == 12 and len(got["details"]["big"]) == 2001  # cut, with an ellipsis


def test_filters_newest_first_and_prefix(store: Store):
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    for i, action in enumerate(["user.add", "login", "user.role", "user_x.add", "export"]):
        audit(store, "root" if i % 2 else "cli:admin", action, None, at=t0 + timedelta(minutes=i))
    assert [e["action"] for e in store.audit.events(10)] == [
        "export",
        "user_x.add",
        "user.role",
        "login",
        "user.add",
    ]
    # "user." is a prefix (escaped: the "." is literal, so "user_x.add" is not included).
    assert [e["action"] for e in store.audit.events(10, action="user.")] == ["user.role", "user.add"]
    assert [e["action"] for e in store.audit.events(10, actor="root")] == ["user_x.add", "login"]
    since = store.audit.events(10, since=t0 + timedelta(minutes=3))
    assert [e["action"] for e in since] == ["export", "user_x.add"]


def test_store_has_no_way_to_change_or_delete_audit_events():
    """Every use of ``db.audit`` in the store package is an insert or a find."""
    store_dir = REPO / "pipelines" / "store"
    calls = set()
    nodes = (n for path in sorted(store_dir.glob("*.py")) for n in ast.walk(ast.parse(path.read_text())))
    for node in nodes:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "audit"
            and isinstance(node.value.value, ast.Attribute)
            and node.value.value.attr == "db"
        ):
            calls.add(node.attr)
    assert calls == {"insert_one", "find"}
    # And nothing else in Vigil reaches the collection directly.
    for folder in ("pipelines", "components", "pages", "crawler"):
        for path in (REPO / folder).rglob("*.py"):
            if store_dir in path.parents:
                continue
            text = path.read_text()
            assert "db.audit" not in text and '["audit"]' not in text, path
