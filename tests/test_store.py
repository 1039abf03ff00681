"""The store against a real SecantusDB: schema, idempotent upserts, unique keys, reuse."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest

from pipelines.core.config import Settings
from pipelines.core.post import build_post
from pipelines.store import EmbeddedServer, Store, StoreError, ping
from tests.conftest import free_port


def _docs(n: int, source: str = "t", hour: int = 3) -> list[dict]:
    return [
        build_post(
            source=source,
            native_id=str(i),
            ts=datetime(2013, 6, 20, hour, i % 60, tzinfo=UTC),
            text=f"post number {i} about floods",
        ).to_doc()
        for i in range(n)
    ]


def test_indexes_and_schema_version(store: Store):
    names = store.schema.index_names("posts")
    for expected in (
        "ts_-1",
        "source_1_ts_-1",
        "status_1_lease_until_1",
        "content_hash_1",
        "geo_2dsphere",
        "seq_1",
    ):
        assert expected in names
    assert store.schema.version() == 3
    day_index = store.db.rollups.index_information()["kind_1_of_1_hour_1"]
    assert dict(day_index["partialFilterExpression"]) == {"kind": "day"}  # the hourly counters stay out
    store.schema.ensure()  # idempotent
    assert store.schema.index_names("posts") == names


def test_indexes_only_the_old_reads_needed_are_dropped_at_start_up(store: Store):
    """A database from before the search index (issue 13) loses its obsolete indexes."""
    store.db.posts.create_index([("terms", 1)])
    store.db.posts.create_index([("watched", 1), ("status", 1)])
    assert "terms_1" in store.schema.index_names("posts")
    store.schema.ensure()
    names = store.schema.index_names("posts")
    assert "terms_1" not in names and "watched_1_status_1" not in names
    assert "ts_-1" in names and store.schema.drop_obsolete_indexes() == []


def test_upsert_is_idempotent_and_counts_rollups(store: Store):
    first = store.posts.upsert(_docs(10))
    assert (first.inserted, first.existing) == (10, 0)
    again = store.posts.upsert(_docs(12))
    assert (again.inserted, again.existing) == (2, 10)
    assert store.db.posts.count_documents({}) == 12
    rollups = store.rollups.ingest()
    assert sum(r["n"] for r in rollups) == 12
    # An upsert never overwrites what is stored (scores, status written later survive).
    store.db.posts.update_one({"_id": "t:0"}, {"$set": {"status": "scored"}})
    store.posts.upsert(_docs(1))
    assert store.posts.get("t:0")["status"] == "scored"


def test_rebuild_rollups_equals_recount(store: Store):
    store.posts.upsert(_docs(30, hour=3) + _docs(5, source="u", hour=4))
    store.db.rollups.delete_many({})
    assert store.rollups.rebuild_ingest() == 2
    got = {(r["source"], r["hour"].hour): r["n"] for r in store.rollups.ingest()}
    assert got == {("t", 3): 30, ("u", 4): 5}


def test_unique_key_rejects_duplicate(store: Store):
    store.sources.upsert({"name": "bbc", "kind": "rss", "url": "https://example.org/a"})
    store.db.sources.insert_one({"name": "other"})
    with pytest.raises(Exception, match="(?i)duplicate"):
        store.db.sources.insert_one({"name": "bbc"})


def test_quarantine_keeps_reason_and_raw(store: Store):
    store.quarantine.add("import", "empty text", {"$where": "1", "a.b": 2}, origin="f.jsonl:3")
    big = "x" * 200_000
    store.quarantine.add("import", "too big", big)
    rows = store.quarantine.recent("import")
    assert {r["reason"] for r in rows} == {"empty text", "too big"}
    small = next(r for r in rows if r["reason"] == "empty text")
    assert small["raw"] == '{"$where": "1", "a.b": 2}'  # hostile keys stay inert text
    huge = next(r for r in rows if r["reason"] == "too big")
    assert huge["raw"]["size"] == 200_000 and huge["raw"]["truncated"]


def test_sources_repository(store: Store):
    store.sources.upsert({"name": "hn", "kind": "hackernews", "enabled": True})
    store.sources.update_state("hn", cursor=123)
    store.sources.upsert({"name": "hn", "kind": "hackernews", "enabled": True, "interval": 60})
    src = store.sources.get("hn")
    assert src["state"]["cursor"] == 123 and src["interval"] == 60
    assert store.sources.set_enabled("hn", False)
    assert store.sources.list_all(enabled=False)[0]["name"] == "hn"
    assert store.sources.remove("hn") and store.sources.get("hn") is None


def test_latest_posts_and_ts_range(store: Store):
    store.posts.upsert(_docs(20))
    latest = store.posts.latest(limit=5)
    assert len(latest) == 5
    assert [p["ts"] for p in latest] == sorted((p["ts"] for p in latest), reverse=True)
    lo, hi = store.posts.ts_range()
    assert lo.minute == 0 and hi.minute == 19


def test_newest_post_ts_reads_the_newest_hour_and_falls_back_without_rollups(store: Store):
    assert store.posts.newest_ts() is None
    store.posts.upsert(_docs(20, hour=3) + _docs(7, source="u", hour=9))
    assert store.posts.newest_ts() == store.posts.ts_range()[1] == datetime(2013, 6, 20, 9, 6, tzinfo=UTC)
    # A post written without an ingest rollup (by hand) is still found by the fallback.
    store.db.rollups.delete_many({"kind": {"$in": ["ingest", "total"]}})
    store.db.posts.insert_one({**_docs(1, source="v", hour=11)[0]})
    assert store.posts.newest_ts() == datetime(2013, 6, 20, 11, 0, tzinfo=UTC)


def test_ping_before_start_reuses_one_server_per_folder(tmp_path):
    port = free_port()
    settings = Settings(vigil_data_dir=tmp_path, vigil_db_port=port, mongodb_uri=None)
    first = Store.open(settings)
    try:
        assert first.server is not None and first.server.owned
        second = Store.open(settings)
        assert second.server is not None and not second.server.owned  # reused, not started
        out = subprocess.run(
            ["pgrep", "-f", "--", f"secantus.*--port {port}"], capture_output=True, text=True
        )
        assert len(out.stdout.split()) == 1
        second.posts.upsert(_docs(3))
        assert first.db.posts.count_documents({}) == 3
        second.close()  # does not stop a server it did not start
        assert ping(first.uri)
    finally:
        first.close()
    assert not ping(first.uri)
    # The data survive a restart on the same folder.
    again = Store.open(settings)
    try:
        assert again.db.posts.count_documents({}) == 3
    finally:
        again.close()


def test_mongodb_uri_is_used_as_given(db_server: EmbeddedServer):
    s = Store.open(Settings(mongodb_uri=db_server.uri, mongodb_db="t_given"))
    try:
        assert s.server is None and s.uri == db_server.uri and s.ping()
    finally:
        s.client.drop_database("t_given")
        s.close()


def test_unreachable_database_gives_clear_error():
    s = Store(f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300", "x")
    with pytest.raises(StoreError, match="cannot prepare the database"):
        s.schema.ensure()


def test_store_is_a_facade_callers_name_a_repository_through(store: Store):
    """``Store`` only connects and closes: every query is a method of a repository attribute.

    Why: issue 15 wants each caller to name what it touches (``store.posts.upsert``), so a
    method forwarding to a repository must not creep back onto the facade.
    """
    public = {n for n in vars(Store) if not n.startswith("_") and callable(getattr(Store, n))}
    assert public == {"open", "close", "ping"}
    repos = {n: r for n, r in vars(store).items() if n not in ("uri", "server", "client", "db")}
    assert len(repos) >= 10
    for name, repo in repos.items():
        assert type(repo).__module__.startswith("pipelines.store."), name
        assert repo.db is store.db, name


def test_error_messages_mask_the_password_of_the_uri():
    from pipelines.store.client import safe_uri

    assert (
        safe_uri("mongodb://vigil:s3cret@db.example:27017/?tls=true")
        == "mongodb://***@db.example:27017/?tls=true"
    )
    assert safe_uri("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"
