"""MongoDB storage: the only module in Vigil that imports pymongo.

With ``MONGODB_URI`` set, Vigil uses that server as given (credentials included).
Unset, :class:`EmbeddedServer` runs the embedded default, SecantusDB, as a child
process bound to 127.0.0.1 with ``--sync-on-commit`` (without it a crash loses
acknowledged writes). Before starting one it pings the port: a server that already
answers (another Vigil process on the same data folder, or a Streamlit rerun) is
reused, so there is one server per data folder.

Only the portable subset of MongoDB is used (see ``docs/architecture.md``): no
``$text``, no ``hint()``, no ``"$array.field"`` paths inside expressions, no
unbounded ``count_documents({})`` per page view.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import pymongo
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, PyMongoError

from pipelines.core.config import Settings, get_settings

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Bumped when a collection or index changes; :meth:`Store.ensure_schema` records it."""
IDS_PER_QUERY = 100
"""``_id`` values per ``$in`` query in :meth:`Store.posts_by_ids` (see there)."""


class StoreError(RuntimeError):
    """The database cannot be reached or refused an operation; the message says which."""

    # --------------------------------------------------------------------------- server


def ping(uri: str, timeout_ms: int = 500) -> bool:
    """True when a MongoDB-wire server answers ``ping`` at ``uri`` within the timeout."""
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def local_uri(port: int, host: str = "127.0.0.1") -> str:
    """Connection string of an embedded server on this machine."""
    return f"mongodb://{host}:{port}/?directConnection=true"


class EmbeddedServer:
    """SecantusDB as a child process: one per data folder, reused when already up.

    Parameters
    ----------
    storage_path:
        WiredTiger home, or ``":memory:"`` for a throw-away server (tests).
    port:
        TCP port on 127.0.0.1; the server never binds another interface.
    """

    def __init__(self, storage_path: Path | str, port: int, host: str = "127.0.0.1") -> None:
        self.storage_path = str(storage_path)
        self.port = port
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    @property
    def uri(self) -> str:
        return local_uri(self.port, self.host)

    @property
    def owned(self) -> bool:
        """True when this object started the server (and so must stop it)."""
        return self.process is not None

    def _pidfile(self) -> Path | None:
        if self.storage_path == ":memory:":
            return None
        return Path(self.storage_path) / "vigil-server.json"

    def ensure_running(self, timeout_s: float = 60.0) -> str:
        """Reuse a server answering on the port, else start one; returns the URI."""
        if ping(self.uri):
            log.info("embedded store already answering on %s: reusing it", self.uri)
            return self.uri
        pidfile = self._pidfile()
        if pidfile is not None:
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
            self._log_file = open(Path(self.storage_path) / "secantus.log", "ab")  # noqa: SIM115
        cmd = [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--storage-path",
            self.storage_path,
            "--sync-on-commit",
            "--log-level",
            "WARNING",
        ]
        log.info("starting embedded store: %s", " ".join(cmd))
        self.process = subprocess.Popen(
            cmd,
            stdout=self._log_file or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                # Lost a race with another process starting the same server: reuse it.
                if ping(self.uri, 2000):
                    return self.uri
                raise StoreError(
                    f"embedded SecantusDB exited with code {code} on port {self.port} "
                    f"(storage {self.storage_path}); see secantus.log there, or set MONGODB_URI"
                )
            if ping(self.uri, 300):
                if pidfile is not None:
                    pidfile.write_text(json.dumps({"pid": self.process.pid, "port": self.port}))
                return self.uri
            time.sleep(0.1)
        self.stop()
        raise StoreError(f"embedded SecantusDB did not answer on {self.uri} within {timeout_s:.0f} s")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the server if this object started it (SIGINT, then SIGTERM, then SIGKILL)."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            for sig, wait in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                proc.kill()
                proc.wait(5)
        pidfile = self._pidfile()
        if pidfile is not None:
            with contextlib.suppress(OSError):
                pidfile.unlink()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


# --------------------------------------------------------------------------- results


@dataclass
class UpsertResult:
    """What a bulk upsert did: ``inserted`` new ids, ``existing`` already stored."""

    inserted: int = 0
    existing: int = 0
    inserted_ids: list[str] | None = None

    def __iadd__(self, other: UpsertResult) -> Self:
        self.inserted += other.inserted
        self.existing += other.existing
        return self


def hour_floor(ts: datetime) -> datetime:
    """The start of the UTC hour holding ``ts`` (rollup bucket)."""
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --------------------------------------------------------------------------- the store


class Store:
    """Repository over one Vigil database. Construct with :meth:`open` or a URI.

    Methods return plain dicts and lists, never cursors, so callers (the dashboard
    caches in particular) can keep results.
    """

    def __init__(self, uri: str, db_name: str = "vigil", server: EmbeddedServer | None = None):
        self.uri = uri
        self.server = server
        self.client: MongoClient = MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="vigil"
        )
        self.db = self.client[db_name]

    @classmethod
    def open(cls, settings: Settings | None = None, *, ensure_schema: bool = True) -> Store:
        """Connect to ``MONGODB_URI`` or to the embedded server (starting it if needed)."""
        settings = settings or get_settings()
        server = None
        if settings.mongodb_uri:
            uri = settings.mongodb_uri
        else:
            server = EmbeddedServer(settings.db_path, settings.vigil_db_port)
            uri = server.ensure_running()
        store = cls(uri, settings.mongodb_db, server=server)
        if ensure_schema:
            store.ensure_schema()
        return store

    def close(self) -> None:
        """Close the client; stop the embedded server if this store started it."""
        self.client.close()
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> bool:
        """True when the server answers."""
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    # ------------------------------------------------------------------ schema

    INDEXES: Mapping[str, Sequence[tuple[list[tuple[str, Any]], dict[str, Any]]]] = {
        "posts": [
            ([("ts", DESCENDING)], {}),
            ([("source", ASCENDING), ("ts", DESCENDING)], {}),
            ([("status", ASCENDING), ("lease_until", ASCENDING)], {}),
            ([("content_hash", ASCENDING)], {}),
            ([("geo", "2dsphere")], {}),
            ([("claim", ASCENDING)], {}),  # scoring (issue 4): a worker's claimed batch
            ([("rollup_pending", ASCENDING)], {}),  # scoring (issue 4): rollup crash recovery
            ([("seq", ASCENDING)], {}),  # search (issue 13): the indexer's change marker
        ],
        "rollups": [
            ([("kind", ASCENDING), ("hour", ASCENDING)], {}),
        ],
        "quarantine": [
            ([("at", DESCENDING)], {}),
            ([("kind", ASCENDING), ("at", DESCENDING)], {}),
        ],
        "sources": [
            ([("name", ASCENDING)], {"unique": True}),
        ],
        "crawl_runs": [
            ([("source", ASCENDING), ("started", DESCENDING)], {}),
        ],
        "sessions": [
            ([("user", ASCENDING)], {}),
            ([("expires", ASCENDING)], {}),
        ],
        "alert_events": [  # alerts (issue 7)
            ([("rule", ASCENDING), ("decision", ASCENDING), ("created", DESCENDING)], {}),
        ],
        "alerts": [  # alerts (issue 7): the delivery log
            ([("status", ASCENDING), ("next_try", ASCENDING)], {}),
            ([("at", DESCENDING)], {}),
        ],
        "anomalies": [  # detection (issue 5)
            ([("series", ASCENDING), ("start", ASCENDING)], {}),
            ([("start", DESCENDING)], {}),
            ([("end", DESCENDING)], {}),
            ([("status", ASCENDING), ("start", DESCENDING)], {}),
        ],
        "incidents": [  # incidents (issue 12)
            ([("start", DESCENDING)], {}),
            ([("end", DESCENDING)], {}),
            ([("members.id", ASCENDING)], {}),
        ],
        "detector_feedback": [  # incidents (issue 12)
            ([("until", ASCENDING)], {}),
        ],
        "audit": [
            ([("at", DESCENDING)], {}),
            ([("actor", ASCENDING), ("at", DESCENDING)], {}),
            ([("action", ASCENDING), ("at", DESCENDING)], {}),
        ],
    }

    def ensure_schema(self) -> None:
        """Create collections and indexes (idempotent) and record the schema version."""
        try:
            existing = set(self.db.list_collection_names())
            for name in (
                "posts",
                "sources",
                "crawl_runs",
                "rollups",
                "quarantine",
                "meta",
                "anomalies",  # detection (issue 5)
                "detector_state",  # detection (issue 5)
            ):
                if name not in existing:
                    with contextlib.suppress(pymongo.errors.CollectionInvalid):
                        self.db.create_collection(name)
            for coll, specs in self.INDEXES.items():
                # Skip indexes that exist by name: re-sending a 2dsphere spec is refused by
                # some servers (SecantusDB adds 2dsphereIndexVersion and sees a conflict).
                have = set(self.db[coll].index_information())
                for keys, opts in specs:
                    name = "_".join(f"{k}_{v}" for k, v in keys)
                    if name not in have:
                        self.db[coll].create_index(keys, **opts)
            self.drop_obsolete_indexes()
            self.db.meta.update_one(
                {"_id": "schema"},
                {"$set": {"version": SCHEMA_VERSION, "updated": datetime.now(UTC)}},
                upsert=True,
            )
        except PyMongoError as exc:
            raise StoreError(f"cannot prepare the database at {self._safe_uri()}: {exc}") from exc

    def schema_version(self) -> int | None:
        doc = self.db.meta.find_one({"_id": "schema"})
        return doc["version"] if doc else None

    def index_names(self, collection: str) -> list[str]:
        return sorted(self.db[collection].index_information())

    def _safe_uri(self) -> str:
        """The URI with any password masked, for error messages."""
        if "@" not in self.uri:
            return self.uri
        scheme, rest = self.uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"

    # ------------------------------------------------------------------ meta (key/value)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        return self.db.meta.find_one({"_id": key})

    def set_meta(self, key: str, **values: Any) -> None:
        self.db.meta.update_one({"_id": key}, {"$set": values}, upsert=True)

    # ------------------------------------------------------------------ posts

    def upsert_posts(self, docs: Sequence[dict[str, Any]]) -> UpsertResult:
        """Insert posts whose ``_id`` is new; leave existing ones untouched.

        Unordered bulk ``$setOnInsert`` upserts, so a re-import inserts nothing and one
        bad document does not stop the rest. Newly inserted posts are counted into the
        hourly ``rollups`` (``n`` per hour x source).
        """
        if not docs:
            return UpsertResult(inserted_ids=[])
        self.stamp_seq(docs)
        ops = [UpdateOne({"_id": d["_id"]}, {"$setOnInsert": d}, upsert=True) for d in docs]
        try:
            res = self.db.posts.bulk_write(ops, ordered=False)
            upserted = res.upserted_ids
        except BulkWriteError as exc:
            # Duplicate-key races between two writers are "already present", not errors.
            errors = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
            if errors:
                raise StoreError(f"bulk upsert failed: {errors[0].get('errmsg')}") from exc
            upserted = {u["index"]: u["_id"] for u in exc.details.get("upserted", [])}
        except PyMongoError as exc:
            raise StoreError(f"cannot write posts: {exc}") from exc
        inserted_ids = [docs[i]["_id"] for i in sorted(upserted)]
        self.count_ingest_rollups([docs[i] for i in sorted(upserted)])
        return UpsertResult(
            inserted=len(inserted_ids), existing=len(docs) - len(inserted_ids), inserted_ids=inserted_ids
        )

    def get_post(self, post_id: str) -> dict[str, Any] | None:
        return self.db.posts.find_one({"_id": post_id})

    def estimated_post_count(self) -> int:
        """Total posts from collection metadata (no scan)."""
        return self.db.posts.estimated_document_count()

    def latest_posts(
        self, limit: int = 50, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Newest posts first, bounded by ``limit`` (uses the ``ts`` index)."""
        q: dict[str, Any] = {}
        if since or until:
            q["ts"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        proj = {"terms": 0}
        return list(self.db.posts.find(q, proj).sort("ts", DESCENDING).limit(max(1, min(limit, 1000))))

    def find_posts(
        self,
        query: dict[str, Any],
        *,
        limit: int,
        sort: Sequence[tuple[str, int]] = (("ts", DESCENDING),),
        projection: dict[str, Any] | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """Posts matching a filter built by Vigil (never raw user input), always limited."""
        cur = self.db.posts.find(query, projection).sort(list(sort)).skip(skip).limit(limit)
        return list(cur)

    def iter_posts(
        self, query: dict[str, Any], batch_size: int = 1000, projection: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream posts for exports and recounts, in ``_id`` order."""
        yield from self.db.posts.find(query, projection).sort("_id", ASCENDING).batch_size(batch_size)

    def ts_range(self) -> tuple[datetime | None, datetime | None]:
        """Oldest and newest post times, read from the ``ts`` index ends."""
        first = self.db.posts.find_one({}, {"ts": 1}, sort=[("ts", ASCENDING)])
        last = self.db.posts.find_one({}, {"ts": 1}, sort=[("ts", DESCENDING)])
        return (first["ts"] if first else None, last["ts"] if last else None)

    # ------------------------------------------------------------------ rollups (read side)

    def ingest_rollups(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Hourly post counts per source in a time range (from ``rollups``, not posts)."""
        q: dict[str, Any] = {"kind": "ingest"}
        if since or until:
            q["hour"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        return list(self.db.rollups.find(q, {"_id": 0, "hour": 1, "source": 1, "n": 1}).sort("hour", 1))

    def rollup_sums(
        self,
        kind: str,
        by: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
        match: dict[str, Any] | None = None,
        fields: Sequence[str] = ("n",),
    ) -> list[dict[str, Any]]:
        """Sum rollup ``fields`` of one ``kind`` grouped by ``by`` over an hour range.

        Runs as a ``$group`` over the (small) rollups collection, never over posts.
        Returns one dict per group with the ``by`` keys and the summed fields.
        """
        q: dict[str, Any] = {"kind": kind, **(match or {})}
        if since or until:
            q["hour"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        group: dict[str, Any] = {"_id": {b: f"${b}" for b in by}}
        for f in fields:
            group[f.replace(".", "_")] = {"$sum": f"${f}"}
        rows = self.db.rollups.aggregate([{"$match": q}, {"$group": group}])
        return [{**r["_id"], **{k: v for k, v in r.items() if k != "_id"}} for r in rows]

    def _inc_rollups_once(
        self, contrib: Mapping[str, Mapping[str, Any]], token: str, *, keep: int, what: str
    ) -> None:
        """Token-guarded ``$inc`` upserts shared by the scorer and the watch pass.

        Each upsert is filtered on ``applied != token`` and records the token (the last
        ``keep`` are kept), so replaying a batch after a crash adds nothing twice: an
        already-applied document does not match and its upsert hits the duplicate ``_id``
        (E11000), the expected "done already".
        """
        ops = [
            UpdateOne(
                {"_id": rid, "applied": {"$ne": token}},
                {
                    "$setOnInsert": dict(c["set"]),
                    "$inc": dict(c["inc"]),
                    "$push": {"applied": {"$each": [token], "$slice": -keep}},
                },
                upsert=True,
            )
            for rid, c in contrib.items()
        ]
        if not ops:
            return
        try:
            self.db.rollups.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            errors = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
            if errors:
                raise StoreError(f"{what} update failed: {errors[0].get('errmsg')}") from exc

    def rebuild_ingest_rollups(self) -> int:
        """Recount the ingest rollups from posts (repair after a crash mid-import)."""
        self.db.rollups.delete_many({"kind": "ingest"})
        pipeline = [
            {
                "$group": {
                    "_id": {"h": {"$dateTrunc": {"date": "$ts", "unit": "hour"}}, "s": "$source"},
                    "n": {"$sum": 1},
                }
            }
        ]
        ops = []
        for row in self.db.posts.aggregate(pipeline, allowDiskUse=True):
            hour = row["_id"]["h"].astimezone(UTC)
            src = row["_id"]["s"]
            ops.append(
                UpdateOne(
                    {"_id": f"ingest|{hour.isoformat()}|{src}"},
                    {"$set": {"kind": "ingest", "hour": hour, "source": src, "n": row["n"]}},
                    upsert=True,
                )
            )
        if ops:
            self.db.rollups.bulk_write(ops, ordered=False)
        return len(ops)

    # ------------------------------------------------------------------ quarantine

    def quarantine(
        self, kind: str, reason: str, raw: Any, *, origin: str | None = None, **extra: Any
    ) -> None:
        """Keep a rejected record with its reason and raw payload (nothing is lost)."""
        self.quarantine_many([{"kind": kind, "reason": reason, "raw": raw, "origin": origin, **extra}])

    def quarantine_many(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        now = datetime.now(UTC)
        docs = []
        for r in records:
            doc = dict(r)
            doc.setdefault("at", now)
            doc["raw"] = _bounded_raw(doc.get("raw"))
            docs.append(doc)
        try:
            self.db.quarantine.insert_many(docs, ordered=False)
        except PyMongoError as exc:
            raise StoreError(f"cannot write quarantine records: {exc}") from exc

    def quarantined(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = {"kind": kind} if kind else {}
        return list(self.db.quarantine.find(q).sort("at", DESCENDING).limit(limit))

    def quarantine_count(self, kind: str | None = None) -> int:
        return self.db.quarantine.count_documents({"kind": kind} if kind else {})

    # ------------------------------------------------------------------ sources

    def upsert_source(self, source: dict[str, Any]) -> None:
        """Create or replace a source definition by name (cursor fields are kept)."""
        doc = {k: v for k, v in source.items() if k != "_id"}
        doc["updated"] = datetime.now(UTC)
        self.db.sources.update_one({"name": doc["name"]}, {"$set": doc}, upsert=True)

    def get_source(self, name: str) -> dict[str, Any] | None:
        return self.db.sources.find_one({"name": name}, {"_id": 0})

    def list_sources(self, enabled: bool | None = None) -> list[dict[str, Any]]:
        q = {} if enabled is None else {"enabled": enabled}
        return list(self.db.sources.find(q, {"_id": 0}).sort("name", ASCENDING))

    def set_source_enabled(self, name: str, enabled: bool) -> bool:
        res = self.db.sources.update_one({"name": name}, {"$set": {"enabled": enabled}})
        return res.matched_count == 1

    def update_source_state(self, name: str, **state: Any) -> None:
        """Save crawl state (cursor, ETag, Last-Modified, last run) on a source."""
        self.db.sources.update_one({"name": name}, {"$set": {f"state.{k}": v for k, v in state.items()}})

    def remove_source(self, name: str) -> bool:
        return self.db.sources.delete_one({"name": name}).deleted_count == 1

    # ------------------------------------------------------------------ import (issue 2)

    def insert_posts(self, docs: Sequence[dict[str, Any]]) -> tuple[UpsertResult, list[tuple[int, str]]]:
        """Insert posts whose ``_id`` is new; duplicates count as already present.

        The same outcome as :meth:`upsert_posts` (nothing stored is overwritten, a
        re-import inserts nothing, a duplicate-key race is "already present") written
        as one unordered ``insert_many``. Why: on SecantusDB with ``--sync-on-commit``
        every update statement is its own fsynced commit, while an insert batch
        commits once per 1,000 documents (measured ~290 vs ~1,900 posts/s, see
        docs/import.md). New posts are counted into the ingest rollups in one
        transaction where the server supports them. Returns the result and the
        ``(index, reason)`` of documents the server refused for another reason.
        """
        if not docs:
            return UpsertResult(inserted_ids=[]), []
        refused: dict[int, str] = {}
        duplicate: set[int] = set()
        self.stamp_seq(docs)
        try:
            self.db.posts.insert_many(list(docs), ordered=False)
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") == 11000:
                    duplicate.add(err["index"])
                else:
                    refused[err["index"]] = f"refused by the database: {err.get('errmsg', '')[:300]}"
        except PyMongoError as exc:
            raise StoreError(f"cannot write posts: {exc}") from exc
        new = [d for i, d in enumerate(docs) if i not in duplicate and i not in refused]
        self.count_ingest_rollups(new)
        result = UpsertResult(
            inserted=len(new), existing=len(duplicate), inserted_ids=[d["_id"] for d in new]
        )
        return result, sorted(refused.items())

    def count_ingest_rollups(self, docs: Sequence[dict[str, Any]]) -> None:
        """Add new posts to the hourly ingest rollups, in one transaction when possible.

        One ``ingest|<hour>|<source>`` counter per hour x source; on a replica set (SecantusDB
        is one) the upserts share one commit instead of one fsync per hour x source,
        which made a scattered-hours batch of 300 upserts ~10x faster.
        """
        counts: Counter[tuple[datetime, str]] = Counter()
        for d in docs:
            counts[(hour_floor(d["ts"]), d["source"])] += 1
        if not counts:
            return
        ops = [
            UpdateOne(
                {"_id": f"ingest|{hour.isoformat()}|{source}"},
                {"$setOnInsert": {"kind": "ingest", "hour": hour, "source": source}, "$inc": {"n": n}},
                upsert=True,
            )
            for (hour, source), n in counts.items()
        ]
        try:
            if len(ops) > 1 and self._supports_transactions():
                with self.client.start_session() as session:
                    session.with_transaction(
                        lambda s: self.db.rollups.bulk_write(ops, ordered=False, session=s)
                    )
            else:
                self.db.rollups.bulk_write(ops, ordered=False)
        except PyMongoError as exc:
            raise StoreError(f"cannot update the ingest rollups: {exc}") from exc

    def _supports_transactions(self) -> bool:
        """True on a replica set member or mongos (asked once per store)."""
        if not hasattr(self, "_txn_ok"):
            try:
                hello = self.client.admin.command("hello")
                self._txn_ok = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
            except PyMongoError:
                self._txn_ok = False
        return self._txn_ok

    # ------------------------------------------------------------------ crawler (issue 3)

    def claim_source(self, name: str, owner: str, lease_s: float) -> dict[str, Any] | None:
        """Take the crawl lock of a source for ``lease_s`` seconds, or ``None`` if held.

        One atomic conditional update, so two schedulers (or a scheduler and a manual
        ``crawl --once``) never run the same source at once. A holder that died leaves
        a lock that expires with its lease.
        """

        from pymongo import ReturnDocument

        now = datetime.now(UTC)
        lease = {"owner": owner, "since": now, "until": now + timedelta(seconds=lease_s)}
        return self.db.sources.find_one_and_update(
            {"name": name, "$or": [{"lock": None}, {"lock.until": {"$lt": now}}]},
            {"$set": {"lock": lease}},
            projection={"_id": 0},
            return_document=ReturnDocument.AFTER,
        )

    def release_source(self, name: str, owner: str) -> bool:
        """Drop the lock if ``owner`` still holds it (a stolen, expired lock is left alone)."""
        res = self.db.sources.update_one({"name": name, "lock.owner": owner}, {"$set": {"lock": None}})
        return res.modified_count == 1

    def start_crawl_run(self, run: dict[str, Any]) -> str:
        """Record a run as ``running`` (it must carry ``_id``, ``source`` and ``started``)."""
        doc = {"status": "running", **run}
        self.db.crawl_runs.insert_one(doc)
        return doc["_id"]

    def finish_crawl_run(self, run_id: str, **fields: Any) -> None:
        """Close a run with its outcome (status, ended, counts, errors)."""
        self.db.crawl_runs.update_one({"_id": run_id}, {"$set": fields})

    def crawl_runs(self, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest runs first, for one source or all."""
        q = {"source": source} if source else {}
        return list(self.db.crawl_runs.find(q).sort("started", DESCENDING).limit(max(1, min(limit, 1000))))

    def abandon_crawl_runs(self, owner_prefix: str | None = None) -> int:
        """Mark runs still ``running`` past their deadline as ``abandoned`` (their scheduler died)."""
        q: dict[str, Any] = {"status": "running", "deadline": {"$lt": datetime.now(UTC)}}
        if owner_prefix:
            q["owner"] = {"$regex": f"^{owner_prefix}"}
        res = self.db.crawl_runs.update_many(
            q,
            {
                "$set": {
                    "status": "abandoned",
                    "error": "the scheduler stopped before this run finished",
                    "ended": datetime.now(UTC),
                }
            },
        )
        return res.modified_count

    def insert_new_posts(self, docs: Sequence[dict[str, Any]]) -> UpsertResult:
        """Same outcome as :meth:`upsert_posts`, faster for crawls: look up, then insert.

        Existing ``_id`` values are found with one ``$in`` query and only the missing
        documents are inserted (unordered ``insert_many``); a duplicate key from a
        concurrent writer counts as "already present". New posts are counted into the
        ingest rollups exactly as :meth:`upsert_posts` does. On SecantusDB this is about
        4x faster than one ``$setOnInsert`` upsert per post (see docs/crawler.md).
        """
        if not docs:
            return UpsertResult(inserted_ids=[])
        unique = list({d["_id"]: d for d in docs}.values())
        try:
            have = {
                d["_id"] for d in self.db.posts.find({"_id": {"$in": [d["_id"] for d in unique]}}, {"_id": 1})
            }
            new = [d for d in unique if d["_id"] not in have]
            lost: set[str] = set()
            if new:
                self.stamp_seq(new)
                try:
                    self.db.posts.insert_many(new, ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details.get("writeErrors", [])
                    other = [e for e in errors if e.get("code") != 11000]
                    if other:
                        raise StoreError(f"bulk insert failed: {other[0].get('errmsg')}") from exc
                    lost = {new[e["index"]]["_id"] for e in errors}
        except PyMongoError as exc:
            raise StoreError(f"cannot write posts: {exc}") from exc
        inserted = [d for d in new if d["_id"] not in lost]
        self.count_ingest_rollups(inserted)
        ids = [d["_id"] for d in inserted]
        return UpsertResult(inserted=len(ids), existing=len(docs) - len(ids), inserted_ids=ids)

    def mark_cross_posts(self, docs: Sequence[dict[str, Any]]) -> list[str]:
        """Flag new posts whose ``content_hash`` was already seen from another source.

        The post is kept (it is news that the same text appears elsewhere) and gets
        ``cross_post: true`` and ``cross_post_of``: the earliest post with that hash from
        another source that came first (earlier ``ts``, or the same ``ts`` and already
        stored). A source repeating itself is not a cross-post. Returns the flagged ids.
        """
        by_hash: dict[str, list[dict[str, Any]]] = {}
        for d in docs:
            if d.get("content_hash"):
                by_hash.setdefault(d["content_hash"], []).append(d)
        if not by_hash:
            return []
        pipeline = [
            {"$match": {"content_hash": {"$in": list(by_hash)}}},
            {"$sort": {"ts": ASCENDING, "_id": ASCENDING}},
            {
                "$group": {
                    "_id": {"h": "$content_hash", "s": "$source"},
                    "first": {"$first": "$_id"},
                    "ts": {"$first": "$ts"},
                }
            },
        ]
        earliest: dict[str, list[tuple[datetime, str, str]]] = {}
        for row in self.db.posts.aggregate(pipeline):
            earliest.setdefault(row["_id"]["h"], []).append((row["ts"], row["_id"]["s"], row["first"]))
        batch = {d["_id"] for d in docs}
        ops = []
        flagged: list[str] = []
        for h, new_docs in by_hash.items():
            seen = sorted(earliest.get(h, []))
            for d in new_docs:
                # A cross-post when the text came first from another source: an earlier
                # time, or the same time and stored before this batch (ties inside a batch
                # go by source name). A source repeating itself is not a cross-post.
                ts = d["ts"].astimezone(UTC)
                before = [
                    (t, src, pid)
                    for t, src, pid in seen
                    if pid != d["_id"] and (t < ts or (t == ts and (pid not in batch or src < d["source"])))
                ]
                first = before[0][2] if before and before[0][1] != d["source"] else None
                if first is not None:
                    flagged.append(d["_id"])
                    ops.append(
                        UpdateOne({"_id": d["_id"]}, {"$set": {"cross_post": True, "cross_post_of": first}})
                    )
        if ops:
            self.db.posts.bulk_write(ops, ordered=False)
        return flagged

    # ------------------------------------------------------------------ scoring (issue 4)
    #
    # Job queue on ``posts``: new -> claimed (lease_until, worker, claim token) -> scored,
    # or back to new after a failure, or failed after ``max_attempts`` failures. Every
    # write after the claim is conditional on the claim token, so a worker whose lease
    # expired (and whose posts were reclaimed by another) cannot overwrite anything.

    def claim_posts(
        self, worker: str, limit: int, lease_s: float, *, max_claims: int = 6
    ) -> tuple[str, list[dict[str, Any]]]:
        """Atomically lease up to ``limit`` posts that are new or whose lease expired.

        Returns ``(claim token, claimed post documents)``. Race-safe across processes:
        candidate ids are read, then one ``update_many`` re-checks eligibility per
        document (each document update is atomic), and only documents carrying this
        call's fresh token are returned. A post leased ``max_claims`` times without
        finishing (it keeps killing workers) is left for :meth:`fail_stuck_posts`.
        """
        import uuid

        now = utcnow()
        token = uuid.uuid4().hex
        eligible = {
            "$or": [
                {"status": "new"},
                {"status": "claimed", "lease_until": {"$lt": now}},
            ],
            "claims": {"$not": {"$gte": max_claims}},
        }
        got = 0
        for _ in range(3):  # another worker may win some candidates: read more, at most 3 rounds
            ids = [d["_id"] for d in self.db.posts.find(eligible, {"_id": 1}).limit(limit - got)]
            if not ids:
                break
            res = self.db.posts.update_many(
                {"_id": {"$in": ids}, **eligible},
                {
                    "$set": {
                        "status": "claimed",
                        "lease_until": now + timedelta(seconds=lease_s),
                        "worker": worker,
                        "claim": token,
                        "claimed_at": now,
                    },
                    "$inc": {"claims": 1},
                },
            )
            got += res.modified_count
            if got >= limit:
                break
        if not got:
            return token, []
        return token, list(self.db.posts.find({"claim": token, "status": "claimed"}))

    def extend_lease(self, token: str, lease_s: float) -> int:
        """Push the lease of this claim's posts forward (a slow LLM batch); returns how many."""

        res = self.db.posts.update_many(
            {"claim": token, "status": "claimed"},
            {"$set": {"lease_until": utcnow() + timedelta(seconds=lease_s)}},
        )
        return res.modified_count

    def complete_scores(
        self, token: str, scored: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Write scores for posts still held under ``token``; return the posts that moved.

        Each post is written with a conditional update (status claimed AND this claim),
        so a post is scored at most once whatever the workers do. The returned posts
        carry ``rollup_pending = token``: :meth:`apply_score_rollups` counts exactly those
        into the rollups, then clears the mark.
        """
        now = utcnow()
        first = self.next_seq(len(scored)) if scored else 0
        ops = [
            UpdateOne(
                {"_id": post_id, "status": "claimed", "claim": token},
                {
                    "$set": {
                        "status": "scored",
                        "scores": scores,
                        "scored_at": now,
                        "seq": first + i,
                        "rollup_pending": token,
                        "rollup_pending_at": now,
                    },
                    "$unset": {"lease_until": "", "worker": "", "claim": "", "error": ""},
                    "$inc": {"score_writes": 1},
                },
            )
            for i, (post_id, scores) in enumerate(scored)
        ]
        if not ops:
            return []
        self.db.posts.bulk_write(ops, ordered=False)
        # Exactly the posts this call moved carry this claim's token (tokens are unique).
        return list(
            self.db.posts.find(
                {"rollup_pending": token, "status": "scored"}, {"_id": 1, "ts": 1, "source": 1, "scores": 1}
            )
        )

    def apply_score_rollups(self, token: str, contrib: Mapping[str, Mapping[str, Any]]) -> int:
        """Add one batch's rollup contributions exactly once, then clear its posts' mark.

        Every ``$inc`` upsert is filtered on ``applied != token`` and pushes the token
        (the last 500 are kept), so re-applying a batch after a crash adds nothing twice:
        an already-applied document does not match and its upsert hits the duplicate
        ``_id`` (E11000), which is the expected "done already".
        """
        self._inc_rollups_once(contrib, token, keep=500, what="rollup")
        res = self.db.posts.update_many(
            {"rollup_pending": token}, {"$unset": {"rollup_pending": "", "rollup_pending_at": ""}}
        )
        return res.modified_count

    def pending_rollup_tokens(self, older_than_s: float) -> list[str]:
        """Claim tokens whose rollups a crashed worker may not have applied."""

        cutoff = utcnow() - timedelta(seconds=older_than_s)
        docs = self.db.posts.find(
            {"rollup_pending": {"$exists": True}, "rollup_pending_at": {"$lt": cutoff}},
            {"rollup_pending": 1},
        ).limit(10_000)
        return sorted({d["rollup_pending"] for d in docs})

    def posts_pending_rollup(self, token: str) -> list[dict[str, Any]]:
        return list(
            self.db.posts.find(
                {"rollup_pending": token, "status": "scored"}, {"_id": 1, "ts": 1, "source": 1, "scores": 1}
            )
        )

    def fail_scoring(
        self, token: str, failures: Sequence[tuple[str, str]], max_attempts: int
    ) -> dict[str, int]:
        """Count a failed attempt for each post still held under ``token``.

        Below ``max_attempts`` the post goes back to ``new`` (retried later); at it, the
        post goes to ``failed`` with the error. Returns ``{"retry": n, "failed": m}``.
        """
        out = {"retry": 0, "failed": 0}
        now = utcnow()
        for post_id, error in failures:
            doc = self.db.posts.find_one(
                {"_id": post_id, "status": "claimed", "claim": token}, {"attempts": 1}
            )
            if doc is None:
                continue
            attempts = int(doc.get("attempts") or 0) + 1
            final = attempts >= max_attempts
            res = self.db.posts.update_one(
                {"_id": post_id, "status": "claimed", "claim": token},
                {
                    "$set": {
                        "status": "failed" if final else "new",
                        "attempts": attempts,
                        "error": error[:2000],
                        "failed_at": now,
                    },
                    "$unset": {"lease_until": "", "worker": "", "claim": ""},
                },
            )
            if res.modified_count:
                out["failed" if final else "retry"] += 1
        return out

    def release_claim(self, token: str) -> int:
        """Give unfinished posts of a claim back to the queue (graceful shutdown)."""
        res = self.db.posts.update_many(
            {"claim": token, "status": "claimed"},
            {
                "$set": {"status": "new"},
                "$unset": {"lease_until": "", "worker": "", "claim": ""},
                "$inc": {"claims": -1},
            },
        )
        return res.modified_count

    def fail_stuck_posts(self, max_claims: int) -> int:
        """Posts leased ``max_claims`` times whose last lease expired: mark them failed."""
        res = self.db.posts.update_many(
            {"status": "claimed", "claims": {"$gte": max_claims}, "lease_until": {"$lt": utcnow()}},
            {
                "$set": {
                    "status": "failed",
                    "error": f"claimed {max_claims} times without finishing (worker crash?)",
                },
                "$unset": {"lease_until": "", "worker": "", "claim": ""},
            },
        )
        return res.modified_count

    def scoring_status_counts(self) -> dict[str, int]:
        """Posts per status (new, claimed, scored, failed) for ``score --once`` reports."""
        rows = self.db.posts.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        return {str(r["_id"]): int(r["n"]) for r in rows}

    def requeue_posts(self, query: Mapping[str, Any]) -> int:
        """Put scored or failed posts matching a Vigil-built filter back to ``new`` (rescore).

        Their old contributions stay in the rollups: run :meth:`replace_score_rollups`
        with a recount afterwards (``score --rebuild-rollups``).
        """
        res = self.db.posts.update_many(
            {**query, "status": {"$in": ["scored", "failed"]}},
            {"$set": {"status": "new", "attempts": 0, "claims": 0}, "$unset": {"error": "", "claim": ""}},
        )
        return res.modified_count

    def iter_scored_posts(self, batch_size: int = 2000) -> Iterator[dict[str, Any]]:
        """Every scored post's ``ts``, ``source`` and ``scores`` (for rollup recounts)."""
        yield from self.db.posts.find(
            {"status": "scored"}, {"_id": 1, "ts": 1, "source": 1, "scores": 1}
        ).batch_size(batch_size)

    def score_rollup_docs(self) -> list[dict[str, Any]]:
        """Every ``score`` and ``place`` rollup document, without the ``applied`` tokens."""
        return list(self.db.rollups.find({"kind": {"$in": ["score", "place"]}}, {"applied": 0}))

    def replace_score_rollups(self, docs: Sequence[dict[str, Any]]) -> int:
        """Replace all ``score``/``place`` rollups with recounted documents (workers stopped)."""
        self.db.rollups.delete_many({"kind": {"$in": ["score", "place"]}})
        if docs:
            self.db.rollups.insert_many([dict(d) for d in docs], ordered=False)
        return len(docs)

    # ------------------------------------------------------------------ detection (issue 5)
    # ``anomalies``: one document per (series, window), updated in place when a later
    # cycle finds an overlapping window (docs/detection.md lists the fields).
    # ``detector_state``: per series, the newest bucket already scored.

    DETECTOR_ROLLUP_KINDS = ("ingest", "score", "place", "watch")

    def detector_rollups(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Rollup documents the detector builds series from, ``hour >= since`` (all if None).

        Bookkeeping fields (``applied`` tokens, ``topics``) are left out: they are the
        bulk of a score rollup and the detector does not read them.
        """
        q: dict[str, Any] = {"kind": {"$in": list(self.DETECTOR_ROLLUP_KINDS)}}
        if since is not None:
            q["hour"] = {"$gte": since}
        proj = {"applied": 0, "topics": 0}
        return list(self.db.rollups.find(q, proj).sort("hour", ASCENDING))

    def newest_rollup_hour(self) -> datetime | None:
        """Newest hour of any rollup the detector reads (index ``kind, hour``)."""
        newest = None
        for kind in self.DETECTOR_ROLLUP_KINDS:
            doc = self.db.rollups.find_one({"kind": kind}, {"hour": 1}, sort=[("hour", DESCENDING)])
            if doc and (newest is None or doc["hour"] > newest):
                newest = doc["hour"]
        return newest

    def detector_state(self) -> dict[str, datetime]:
        """Series id -> newest bucket already scored."""
        return {str(d["_id"]): d["newest"] for d in self.db.detector_state.find({}, {"newest": 1})}

    def set_detector_state(self, newest: Mapping[str, datetime]) -> None:
        if not newest:
            return
        now = utcnow()
        ops = [
            UpdateOne({"_id": sid}, {"$set": {"newest": t, "updated": now}}, upsert=True)
            for sid, t in newest.items()
        ]
        self.db.detector_state.bulk_write(ops, ordered=False)

    def sample_posts(
        self,
        query: dict[str, Any],
        since: datetime,
        until: datetime,
        limit: int,
        projection: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """At most ``limit`` posts with ``since <= ts < until`` matching a Vigil-built filter.

        Newest first through the ``ts`` index, so the cost is bounded by ``limit`` (plus
        the non-matching posts of the range when ``query`` filters further).
        """
        q = {**query, "ts": {"$gte": since, "$lt": until}}
        cur = self.db.posts.find(q, projection).sort("ts", DESCENDING).limit(max(1, int(limit)))
        return list(cur)

    def insert_rollups(self, docs: Sequence[Mapping[str, Any]]) -> int:
        """Insert ready-made rollup documents (benchmarks and repairs; each needs its ``_id``)."""
        if not docs:
            return 0
        try:
            self.db.rollups.insert_many([dict(d) for d in docs], ordered=False)
        except PyMongoError as exc:
            raise StoreError(f"cannot insert rollups: {exc}") from exc
        return len(docs)

    def upsert_anomaly(self, doc: Mapping[str, Any]) -> tuple[str, bool]:
        """Store a detected anomaly, merging it into an overlapping one of the same series.

        An existing anomaly of ``doc["series"]`` whose window overlaps (or touches)
        ``[start, end]`` is updated: its window grows to cover both, ``methods`` are
        united, and the measured fields (severity, observed, expected, interval,
        evidence, context) are replaced when the new detection is at least as severe.
        Its ``status`` (an analyst's verdict) and ``created`` are kept. Otherwise a new
        document is inserted with ``_id = "<series>|<start ISO>"``.

        Returns ``(anomaly id, inserted?)``.
        """
        now = utcnow()
        series, start, end = doc["series"], doc["start"], doc["end"]
        overlap = {"series": series, "start": {"$lte": end}, "end": {"$gte": start}}
        for _attempt in range(3):
            old = self.db.anomalies.find_one(
                overlap, {"context": 0, "evidence": 0}, sort=[("start", ASCENDING)]
            )
            if old is None:
                new = {
                    **doc,
                    "_id": f"{series}|{start.isoformat()}",
                    "status": "open",
                    "created": now,
                    "updated": now,
                }
                new["cycles"] = 1
                try:
                    self.db.anomalies.insert_one(new)
                    return new["_id"], True
                except pymongo.errors.DuplicateKeyError:
                    continue  # another detector inserted it just now: merge into it
            measured = {k: v for k, v in doc.items() if k not in ("series", "start", "end", "methods", "_id")}
            update: dict[str, Any] = {
                "$set": {"updated": now},
                "$min": {"start": start},
                "$max": {"end": end},
                "$addToSet": {"methods": {"$each": list(doc.get("methods") or [])}},
                "$inc": {"cycles": 1},
            }
            if float(doc.get("severity") or 0.0) >= float(old.get("severity") or 0.0):
                update["$set"].update(measured)
            self.db.anomalies.update_one({"_id": old["_id"]}, update)
            return str(old["_id"]), False
        raise StoreError(f"cannot store anomaly of {series} at {start}: concurrent writers kept colliding")

    def posts_by_ids(
        self, ids: Sequence[str], projection: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Posts by ``_id`` (a map selection, an anomaly's evidence), newest first.

        Asked in chunks of :data:`IDS_PER_QUERY`: SecantusDB answers a short ``$in`` on
        ``_id`` by point lookups but a long one much slower than the lookups would take
        (measured at 100,000 posts: 100 ids 0.02 s, 1,000 ids 12 s; the Map's 3,000
        points took 40 s in one query).
        """
        if not ids:
            return []
        ids = list(dict.fromkeys(ids))
        docs: list[dict[str, Any]] = []
        for i in range(0, len(ids), IDS_PER_QUERY):
            docs += self.db.posts.find({"_id": {"$in": ids[i : i + IDS_PER_QUERY]}}, projection)
        return sorted(docs, key=lambda d: d.get("ts") or datetime.min.replace(tzinfo=UTC), reverse=True)

    def newest_ingest_hour(self, now: datetime | None = None) -> datetime | None:
        """The newest hour holding posts, from the ingest rollups (never a scan of posts).

        Widening windows back from ``now`` (1 day, 8, 64, 512, 4096 days, then all): each
        step reads only the rollups of its window, so a live store answers from one day
        of rollups and an archive from a few thousand documents.
        """
        now = now or datetime.now(UTC)
        for days in (1, 8, 64, 512, 4096, None):
            q: dict[str, Any] = {"kind": "ingest"}
            if days is not None:
                q["hour"] = {"$gte": now - timedelta(days=days)}
            rows = list(self.db.rollups.find(q, {"_id": 0, "hour": 1}))
            if rows:
                return max(r["hour"] for r in rows).astimezone(UTC)
        return None

    def newest_post_ts(self, now: datetime | None = None) -> datetime | None:
        """The newest post's time, reading one hour of the ``ts`` index instead of all of it.

        Why: on SecantusDB a sorted ``find_one`` walks the whole index range it is given,
        so :meth:`ts_range` costs seconds on a large store. The ingest rollups name the
        newest hour; only that hour's posts are read. Without rollups (a store filled by
        hand) it falls back to :meth:`ts_range`.
        """
        hour = self.newest_ingest_hour(now)
        if hour is not None:
            doc = self.db.posts.find_one(
                {"ts": {"$gte": hour, "$lt": hour + timedelta(hours=1)}}, {"ts": 1}, sort=[("ts", DESCENDING)]
            )
            if doc is not None:
                return doc["ts"]
        return self.ts_range()[1]

    def rollup_values(self, kind: str, field: str) -> list[str]:
        """Distinct values of one rollup key (sources, languages, places) from ``rollups``."""
        return sorted(v for v in self.db.rollups.distinct(field, {"kind": kind}) if isinstance(v, str) and v)

    def crawl_health(self, since: datetime) -> list[dict[str, Any]]:
        """Per source: its newest run (any age) and its run / item / error totals since ``since``."""
        pipeline = [
            {"$match": {"started": {"$gte": since}}},
            {"$sort": {"started": DESCENDING}},
            {
                "$group": {
                    "_id": "$source",
                    "runs": {"$sum": 1},
                    "failed_runs": {"$sum": {"$cond": [{"$in": ["$status", ["error", "abandoned"]]}, 1, 0]}},
                    "items": {"$sum": {"$ifNull": ["$items", 0]}},
                    "inserted": {"$sum": {"$ifNull": ["$inserted", 0]}},
                    "errors": {"$sum": {"$ifNull": ["$error_count", 0]}},
                }
            },
        ]
        totals = {r["_id"]: r for r in self.db.crawl_runs.aggregate(pipeline)}
        out = []
        for name in sorted(set(totals) | set(self.db.crawl_runs.distinct("source"))):
            last = self.db.crawl_runs.find_one({"source": name}, sort=[("started", DESCENDING)]) or {}
            t = totals.get(name, {})
            out.append(
                {
                    "source": name,
                    "last_started": last.get("started"),
                    "last_ended": last.get("ended"),
                    "last_status": last.get("status"),
                    "last_items": last.get("items"),
                    "last_inserted": last.get("inserted"),
                    "last_error": last.get("error"),
                    "runs": t.get("runs", 0),
                    "failed_runs": t.get("failed_runs", 0),
                    "items": t.get("items", 0),
                    "inserted": t.get("inserted", 0),
                    "errors": t.get("errors", 0),
                }
            )
        return out

    def latest_alerts(self, limit: int = 10) -> list[dict[str, Any]]:
        """Newest alerts (an empty list while the alerts collection does not exist yet)."""
        if "alerts" not in self.db.list_collection_names():
            return []
        return list(self.db.alerts.find({}).sort([("at", DESCENDING)]).limit(max(1, min(limit, 200))))

    def watchlist_names(self) -> list[dict[str, Any]]:
        """``{_id, name}`` of every watchlist (the sidebar's watchlist filter)."""
        return list(self.db.watchlists.find({}, {"name": 1}).sort("name", ASCENDING).limit(500))

    def find_anomalies(
        self,
        statuses: Sequence[str] = (),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Anomalies newest first; ``statuses`` filters (a missing status counts as ``open``).

        ``since``/``until`` keep the anomalies whose window overlaps that range.
        """
        q: dict[str, Any] = {}
        if statuses:
            wanted = list(statuses)
            q["status"] = {"$in": [*wanted, None]} if "open" in wanted else {"$in": wanted}
        if since is not None:
            q["end"] = {"$gt": since}
        if until is not None:
            q["start"] = {"$lt": until}
        cur = self.db.anomalies.find(q, {"context": 0}).sort("start", DESCENDING)
        return list(cur.limit(max(1, min(int(limit), 5000))))

    def get_anomaly(self, anomaly_id: str) -> dict[str, Any] | None:
        """One anomaly by id (string ids, or the hex of an ObjectId)."""
        doc = self.db.anomalies.find_one({"_id": anomaly_id})
        if doc is None and len(anomaly_id) == 24:
            from bson import ObjectId
            from bson.errors import InvalidId

            with contextlib.suppress(InvalidId):
                doc = self.db.anomalies.find_one({"_id": ObjectId(anomaly_id)})
        return doc

    def set_anomaly_status(self, anomaly_id: str, status: str, *, by: str, note: str = "") -> bool:
        """Record an analyst's verdict on an anomaly, keeping the history of verdicts."""
        doc = self.get_anomaly(anomaly_id)
        if doc is None:
            return False
        now = datetime.now(UTC)
        entry = {"status": status, "by": by, "at": now, "note": note}
        res = self.db.anomalies.update_one(
            {"_id": doc["_id"]},
            {"$set": {"status": status, "status_by": by, "status_at": now}, "$push": {"history": entry}},
        )
        return res.matched_count == 1

    def rollup_docs(
        self, kinds: Sequence[str], since: datetime, until: datetime, match: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Raw rollup documents of some kinds in an hour range (one series' drill-down)."""
        q = {"kind": {"$in": list(kinds)}, "hour": {"$gte": since, "$lt": until}, **(match or {})}
        return list(self.db.rollups.find(q, {"_id": 0}))

    # ------------------------------------------------------------------ alerts (issue 7)
    # Configuration: ``watchlists``, ``alert_rules``, ``alert_channels`` (no secrets, see
    # pipelines/alerts/models.py). What a watchlist selects is read from the search index
    # (issue 13: pipelines/search/signals.py), not tagged on posts. The alert log:
    # ``alert_events`` (one per rule event,
    # unique ``_id``) and ``alerts`` (one per delivery, unique ``_id`` per event or summary
    # and channel).

    ALERT_CONFIG = ("watchlists", "alert_rules", "alert_channels")

    def _config_coll(self, coll: str) -> Any:
        if coll not in self.ALERT_CONFIG:
            raise ValueError(f"not an alert configuration collection: {coll!r}")
        return self.db[coll]

    def put_config(self, coll: str, doc: Mapping[str, Any]) -> bool:
        """Create or update a watchlist, rule or channel by ``_id``; ``True`` when created.

        Only the given fields are set: state kept beside the definition (a watchlist's
        ``tagging`` progress, ``created``) survives an edit.
        """
        fields = {k: v for k, v in doc.items() if k != "_id"}
        fields["updated"] = utcnow()
        res = self._config_coll(coll).update_one(
            {"_id": doc["_id"]}, {"$set": fields, "$setOnInsert": {"created": fields["updated"]}}, upsert=True
        )
        return res.upserted_id is not None

    def get_config(self, coll: str, key: str) -> dict[str, Any] | None:
        return self._config_coll(coll).find_one({"_id": key})

    def list_config(self, coll: str) -> list[dict[str, Any]]:
        return list(self._config_coll(coll).find({}).sort("_id", ASCENDING).limit(10_000))

    def delete_config(self, coll: str, key: str) -> bool:
        return self._config_coll(coll).delete_one({"_id": key}).deleted_count == 1

    def take_lease(self, name: str, owner: str, lease_s: float) -> bool:
        """Hold a named lease (one alerts loop at a time); renewing your own always works."""

        now = utcnow()
        try:
            res = self.db.meta.update_one(
                {"_id": f"lease:{name}", "$or": [{"owner": owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": owner, "until": now + timedelta(seconds=lease_s)}},
                upsert=True,
            )
        except pymongo.errors.DuplicateKeyError:
            return False  # held by another owner: the upsert hit the existing _id
        return res.matched_count == 1 or res.upserted_id is not None

    def release_lease(self, name: str, owner: str) -> None:
        """Give a lease back (a clean exit), if ``owner`` still holds it."""
        self.db.meta.update_one({"_id": f"lease:{name}", "owner": owner}, {"$set": {"until": utcnow()}})

    def insert_alert_event(self, doc: Mapping[str, Any]) -> bool:
        """Record a rule event once; ``False`` when its ``_id`` (rule + event key) exists."""
        try:
            self.db.alert_events.insert_one(dict(doc))
            return True
        except pymongo.errors.DuplicateKeyError:
            return False

    def alert_events(self, query: Mapping[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        """Events matching a Vigil-built filter, oldest first."""
        return list(self.db.alert_events.find(dict(query)).sort("created", ASCENDING).limit(int(limit)))

    def update_alert_events(self, ids: Sequence[str], **fields: Any) -> int:
        return self.db.alert_events.update_many({"_id": {"$in": list(ids)}}, {"$set": fields}).modified_count

    def last_alert_sent(self, rule: str) -> datetime | None:
        """When a rule last sent a single alert (for its cooldown)."""
        doc = self.db.alert_events.find_one(
            {"rule": rule, "decision": "send"}, sort=[("created", DESCENDING)]
        )
        return doc["created"] if doc else None

    def enqueue_delivery(self, doc: Mapping[str, Any]) -> bool:
        """Queue one message for one channel; ``False`` when this ``_id`` was queued before."""
        try:
            self.db.alerts.insert_one(dict(doc))
            return True
        except pymongo.errors.DuplicateKeyError:
            return False

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        q = {"status": {"$in": ["pending", "retrying"]}, "next_try": {"$lte": now}}
        return list(self.db.alerts.find(q).sort("next_try", ASCENDING).limit(int(limit)))

    def update_delivery(self, delivery_id: str, **fields: Any) -> None:
        self.db.alerts.update_one({"_id": delivery_id}, {"$set": fields})

    def delivery_log(self, limit: int = 200, **match: Any) -> list[dict[str, Any]]:
        """Newest deliveries first, optionally filtered by equal fields (status, rule, channel)."""
        q = {
            k: v
            for k, v in match.items()
            if v is not None and k in ("status", "rule", "channel", "watchlist")
        }
        return list(self.db.alerts.find(q).sort("at", DESCENDING).limit(max(1, min(int(limit), 5000))))

    def anomalies_since(self, since: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Detector anomalies whose window ends at or after ``since`` (newest first)."""
        if "anomalies" not in self.db.list_collection_names():
            return []
        return list(
            self.db.anomalies.find({"end": {"$gte": since}}).sort("end", DESCENDING).limit(int(limit))
        )

    # ------------------------------------------------------------------ auth (issue 8)
    # Users, dashboard sessions, login throttling and the audit log (pipelines/auth/).
    # The audit log is append-only from Vigil's side: an append and a read, no update
    # and no delete method exists.

    def insert_user(self, doc: dict[str, Any]) -> bool:
        """Create a user (``_id`` is the username); ``False`` when the name is taken."""
        from pymongo.errors import DuplicateKeyError

        try:
            self.db.users.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def get_user(self, username: str) -> dict[str, Any] | None:
        return self.db.users.find_one({"_id": username})

    def list_users(self) -> list[dict[str, Any]]:
        """Every user without secrets (password hash, TOTP secret, recovery codes)."""
        secret = {"password_hash": 0, "totp_secret": 0, "recovery_codes": 0}
        return list(self.db.users.find({}, secret).sort("_id", ASCENDING))

    def user_count(self) -> int:
        return self.db.users.count_documents({})

    def update_user(
        self, username: str, set_fields: dict[str, Any] | None = None, unset: Sequence[str] = ()
    ) -> bool:
        """Change fields of one user; ``False`` when there is no such user."""
        update: dict[str, Any] = {"$set": {**(set_fields or {}), "updated": datetime.now(UTC)}}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        return self.db.users.update_one({"_id": username}, update).matched_count == 1

    def consume_recovery_code(self, username: str, code_hash: str) -> bool:
        """Remove one recovery code hash atomically: ``True`` for exactly one caller."""
        res = self.db.users.update_one(
            {"_id": username, "recovery_codes": code_hash}, {"$pull": {"recovery_codes": code_hash}}
        )
        return res.modified_count == 1

    def advance_totp_step(self, username: str, step: int) -> bool:
        """Record the time step of an accepted TOTP code unless it (or a later one) was used.

        One conditional update, so a code seen by two requests at once is accepted once.
        """
        res = self.db.users.update_one(
            {"_id": username, "$or": [{"totp_last_step": None}, {"totp_last_step": {"$lt": step}}]},
            {"$set": {"totp_last_step": step}},
        )
        return res.modified_count == 1

    def insert_session(self, doc: dict[str, Any]) -> None:
        self.db.sessions.insert_one(doc)

    def get_session(self, sid: str) -> dict[str, Any] | None:
        return self.db.sessions.find_one({"_id": sid})

    def update_session(self, sid: str, fields: dict[str, Any], *, stage: str | None = None) -> bool:
        """Change a session; with ``stage`` only if it is still at that stage (atomic step)."""
        q: dict[str, Any] = {"_id": sid}
        if stage is not None:
            q["stage"] = stage
        return self.db.sessions.update_one(q, {"$set": fields}).matched_count == 1

    def delete_session(self, sid: str) -> bool:
        return self.db.sessions.delete_one({"_id": sid}).deleted_count == 1

    def delete_user_sessions(self, username: str) -> int:
        return self.db.sessions.delete_many({"user": username}).deleted_count

    def purge_sessions(self, now: datetime) -> int:
        """Drop sessions past their absolute expiry (idle ones are refused on use)."""
        return self.db.sessions.delete_many({"expires": {"$lt": now}}).deleted_count

    def user_sessions(self, username: str) -> list[dict[str, Any]]:
        return list(self.db.sessions.find({"user": username}).sort("created", ASCENDING))

    def login_throttle(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Failure counters of the given keys (``user:NAME``, ``client:ADDR``)."""
        return {d["_id"]: d for d in self.db.auth_throttle.find({"_id": {"$in": list(keys)}})}

    def record_login_failure(self, key: str, now: datetime, forget_before: datetime) -> dict[str, Any]:
        """Count one failure for ``key``; failures older than ``forget_before`` start over."""
        from pymongo import ReturnDocument

        self.db.auth_throttle.update_one(
            {"_id": key, "last": {"$lt": forget_before}},
            {"$set": {"failures": 0, "locked_until": None, "next_allowed": None}},
        )
        return self.db.auth_throttle.find_one_and_update(
            {"_id": key},
            {"$inc": {"failures": 1}, "$set": {"last": now}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    def set_login_throttle(self, key: str, **fields: Any) -> None:
        self.db.auth_throttle.update_one({"_id": key}, {"$set": fields})

    def clear_login_failures(self, key: str) -> bool:
        return self.db.auth_throttle.delete_one({"_id": key}).deleted_count == 1

    def append_audit(self, doc: dict[str, Any]) -> None:
        """Add one audit event (the only write the audit log has)."""
        try:
            self.db.audit.insert_one(doc)
        except PyMongoError as exc:
            raise StoreError(f"cannot write the audit log: {exc}") from exc

    def audit_events(
        self,
        limit: int = 200,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Newest audit events first; ``action`` matches exactly or as a prefix ending in '.'."""
        import re

        q: dict[str, Any] = {}
        if actor:
            q["actor"] = actor
        if action:
            q["action"] = {"$regex": "^" + re.escape(action)} if action.endswith(".") else action
        if since or until:
            q["at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        cur = self.db.audit.find(q).sort([("at", DESCENDING), ("_id", DESCENDING)])
        return list(cur.limit(max(1, min(limit, 5000))))

    # ------------------------------------------------------------------ search index (issue 13)

    def next_seq(self, n: int) -> int:
        """Reserve ``n`` consecutive change numbers; returns the first.

        Why: the search indexer follows posts in the order they change (inserted or
        re-scored), by this number, which one atomic ``$inc`` on ``meta`` hands out.
        """
        doc = self.db.meta.find_one_and_update(
            {"_id": "post_seq"},
            {"$inc": {"value": int(n)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["value"]) - int(n) + 1

    def current_seq(self) -> int:
        """The last change number handed out (0 before any)."""
        doc = self.db.meta.find_one({"_id": "post_seq"})
        return int(doc["value"]) if doc else 0

    def stamp_seq(self, docs: Sequence[dict[str, Any]]) -> None:
        """Give each post about to be written its own change number (``seq``), in place."""
        if docs:
            first = self.next_seq(len(docs))
            for i, d in enumerate(docs):
                d["seq"] = first + i

    def posts_changed_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """Posts whose ``seq`` is above ``seq``, in ``seq`` order (the indexer's feed)."""
        return list(self.db.posts.find({"seq": {"$gt": int(seq)}}).sort("seq", ASCENDING).limit(int(limit)))

    def posts_with_seqs(self, seqs: Sequence[int]) -> list[dict[str, Any]]:
        """Posts carrying any of these change numbers (late writers the indexer waits for)."""
        return list(self.db.posts.find({"seq": {"$in": [int(s) for s in seqs]}})) if seqs else []

    def all_post_ids(self) -> set[str]:
        """Every post id (tests and index checks)."""
        return {d["_id"] for d in self.db.posts.find({}, {"_id": 1})}

    # ------------------------------------------------------------------ search read side (issue 13)
    # Reads with filters go through the search index, so indexes only the old reads and
    # the watch pass needed are dropped at start-up: ``terms`` (multikey: the costliest
    # index per inserted post), ``watched``+``status`` and ``watchlists``+``ts``.

    OBSOLETE_INDEXES: Mapping[str, Sequence[str]] = {
        "posts": ("terms_1", "watched_1_status_1", "watchlists_1_ts_1"),
    }

    def drop_obsolete_indexes(self) -> list[str]:
        """Drop :data:`OBSOLETE_INDEXES` that exist (idempotent); returns the names dropped."""
        dropped = []
        for coll, names in self.OBSOLETE_INDEXES.items():
            have = set(self.db[coll].index_information())
            for name in names:
                if name in have:
                    self.db[coll].drop_index(name)
                    dropped.append(f"{coll}.{name}")
        return dropped

    # ------------------------------------------------------------------ incidents (issue 12)
    # ``incidents``: anomalies of one event grouped (pipelines/detect/incidents.py), rebuilt
    # after each detector cycle over the span it touched; an analyst's ``status`` and
    # ``verdicts`` survive rebuilds. ``detector_feedback``: one document per verdict and
    # series, read by the detector to damp that series for a while (feedback.py).

    def replace_incidents(
        self, docs: Sequence[Mapping[str, Any]], since: datetime, until: datetime
    ) -> dict[str, int]:
        """Store rebuilt incidents of ``[since, until)``; incidents there not rebuilt are dropped.

        Computed fields are replaced; ``status``, ``verdicts`` and ``created`` are kept
        (an incident keeps its id as it grows, see ``incidents.build_incidents``).
        Returns ``{"upserted", "updated", "removed"}``.
        """
        now = utcnow()
        out = {"upserted": 0, "updated": 0, "removed": 0}
        keep = [str(d["_id"]) for d in docs]
        try:
            for d in docs:
                fields = {k: v for k, v in d.items() if k not in ("_id", "status", "verdicts", "created")}
                res = self.db.incidents.update_one(
                    {"_id": d["_id"]},
                    {"$set": {**fields, "updated": now}, "$setOnInsert": {"status": "open", "created": now}},
                    upsert=True,
                )
                out["upserted" if res.upserted_id is not None else "updated"] += 1
            gone = {"start": {"$lt": until}, "end": {"$gt": since}, "_id": {"$nin": keep}}
            out["removed"] = self.db.incidents.delete_many(gone).deleted_count
        except PyMongoError as exc:
            raise StoreError(f"cannot store incidents: {exc}") from exc
        return out

    def incident_members(self, since: datetime, until: datetime) -> dict[str, str]:
        """``anomaly id -> incident id`` for the stored incidents overlapping the span."""
        q = {"start": {"$lt": until}, "end": {"$gt": since}}
        out: dict[str, str] = {}
        for d in self.db.incidents.find(q, {"members.id": 1}).sort("created", ASCENDING):
            for m in d.get("members") or []:
                out.setdefault(str(m.get("id")), str(d["_id"]))
        return out

    def find_incidents(
        self,
        statuses: Sequence[str] = (),
        *,
        include_minor: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Incidents (newest first, bounded); ranking is the caller's (``incidents.rank_key``)."""
        q: dict[str, Any] = {}
        if statuses:
            q["status"] = {"$in": list(statuses)}
        if not include_minor:
            q["minor"] = {"$ne": True}
        if since is not None:
            q["end"] = {"$gt": since}
        if until is not None:
            q["start"] = {"$lt": until}
        cur = self.db.incidents.find(q).sort("start", DESCENDING)
        return list(cur.limit(max(1, min(int(limit), 5000))))

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.db.incidents.find_one({"_id": str(incident_id)})

    def add_incident_verdict(self, incident_id: str, entry: Mapping[str, Any], status: str) -> bool:
        """Append a verdict (``{verdict, by, at, note, until}``) and set the incident's status."""
        res = self.db.incidents.update_one(
            {"_id": str(incident_id)},
            {
                "$set": {"status": status, "status_by": entry.get("by"), "status_at": entry.get("at")},
                "$push": {"verdicts": dict(entry)},
            },
        )
        return res.matched_count == 1

    def add_detector_feedback(self, docs: Sequence[Mapping[str, Any]]) -> int:
        """Record feedback rows (one per series of a verdict); returns how many."""
        if not docs:
            return 0
        try:
            self.db.detector_feedback.insert_many([dict(d) for d in docs], ordered=False)
        except PyMongoError as exc:
            raise StoreError(f"cannot record detector feedback: {exc}") from exc
        return len(docs)

    def incidents_of_anomalies(self, anomaly_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``anomaly id -> incident document`` for the incidents holding these anomalies."""
        if not anomaly_ids:
            return {}
        out: dict[str, dict[str, Any]] = {}
        wanted = set(anomaly_ids)
        for d in self.db.incidents.find({"members.id": {"$in": list(wanted)}}, {"posts_evidence": 0}):
            for m in d.get("members") or []:
                if m.get("id") in wanted:
                    out.setdefault(str(m["id"]), d)
        return out

    def detector_feedback(self, now: datetime) -> list[dict[str, Any]]:
        """Feedback rows still in force at ``now`` (``until > now``)."""
        return list(self.db.detector_feedback.find({"until": {"$gt": now}}).sort("at", ASCENDING))


def _bounded_raw(raw: Any, limit: int = 64_000) -> Any:
    """Raw payloads are kept whole up to 64 KB; bigger ones keep their head and size.

    A MongoDB document is capped at 16 MB, and a 50 MB line must still leave a record.
    Structured payloads are stored as JSON text, so no key of theirs becomes a field.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        pass
    else:
        # Always JSON text: a hostile payload's "$where" or dotted keys never become fields.
        try:
            raw = json.dumps(raw, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            raw = repr(raw)
    if len(raw) > limit:
        return {"head": raw[:limit], "size": len(raw), "truncated": True}
    return raw


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "EmbeddedServer",
    "Store",
    "StoreError",
    "UpsertResult",
    "hour_floor",
    "local_uri",
    "ping",
    "utcnow",
]
