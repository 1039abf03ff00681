"""``rollups``: hourly counts and score sums the dashboard and the detector read.

``kind="ingest"`` counts new posts per hour x source (written with the posts),
``kind="score"`` and ``kind="place"`` are written by the scorer (through
:class:`pipelines.store.score_queue.ScoreQueue`), ``kind="watch"`` by the watch pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError

from pipelines.store import rollup_days as RD
from pipelines.store import rollup_totals as RT
from pipelines.store.client import supports_transactions
from pipelines.store.common import Repository, StoreError, hour_floor

DETECTOR_ROLLUP_KINDS = ("ingest", "score", "place", "watch")
"""The rollup kinds the detector builds series from."""
DAYS_META, DAYS_VERSION = RD.DAYS_META, RD.DAYS_VERSION
TOTALS_META, TOTALS_VERSION = RT.TOTALS_META, RT.TOTALS_VERSION


class Rollups(Repository):
    """Reads and writes of ``rollups``; never a scan of posts for a chart."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._txn_ok: bool | None = None

    def ingest(self, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
        """Hourly post counts per source in a time range (from ``rollups``, not posts)."""
        q: dict[str, Any] = {"kind": "ingest"}
        if since or until:
            q["hour"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        return list(self.db.rollups.find(q, {"_id": 0, "hour": 1, "source": 1, "n": 1}).sort("hour", 1))

    def sums(
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

    def inc_once(self, contrib: Mapping[str, Mapping[str, Any]], token: str, *, keep: int, what: str) -> None:
        """Token-guarded ``$inc`` upserts shared by the scorer and the watch pass.

        Each upsert is filtered on ``applied != token`` and records the token (the last
        ``keep`` are kept), so replaying a batch after a crash adds nothing twice: an
        already-applied document does not match and its upsert hits the duplicate ``_id``
        (E11000), the expected "done already".
        """
        contrib = {**contrib, **RD.day_contributions(contrib)}
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

    def rebuild_ingest(self) -> int:
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
        self.rebuild_days(("ingest",))
        self.rebuild_totals()
        return len(ops)

    def count_ingest(self, docs: Sequence[dict[str, Any]]) -> None:
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
        contrib = {
            f"ingest|{hour.isoformat()}|{source}": {
                "set": {"kind": "ingest", "hour": hour, "source": source},
                "inc": {"n": n},
            }
            for (hour, source), n in counts.items()
        }
        contrib.update(RD.day_contributions(contrib))  # the detector's day documents, same commit
        ops = [
            UpdateOne({"_id": rid}, {"$setOnInsert": c["set"], "$inc": c["inc"]}, upsert=True)
            for rid, c in contrib.items()
        ]
        ops += _total_ops(counts)  # the per-source totals, same commit
        try:
            if len(ops) > 1 and self._supports_transactions():
                with self.db.client.start_session() as session:
                    session.with_transaction(
                        lambda s: self.db.rollups.bulk_write(ops, ordered=False, session=s)
                    )
            else:
                self.db.rollups.bulk_write(ops, ordered=False)
        except PyMongoError as exc:
            raise StoreError(f"cannot update the ingest rollups: {exc}") from exc

    def score_docs(self) -> list[dict[str, Any]]:
        """Every ``score`` and ``place`` rollup document, without the ``applied`` tokens."""
        return list(self.db.rollups.find({"kind": {"$in": ["score", "place"]}}, {"applied": 0}))

    def replace_score(self, docs: Sequence[dict[str, Any]]) -> int:
        """Replace all ``score``/``place`` rollups with recounted documents (workers stopped)."""
        self.db.rollups.delete_many({"kind": {"$in": ["score", "place"]}})
        self.db.rollups.delete_many({"kind": "day", "of": {"$in": ["score", "place"]}})
        if docs:
            self.db.rollups.insert_many([dict(d) for d in docs], ordered=False)
            days = list(RD.pack(docs).values())
            if days:
                self.db.rollups.insert_many(days, ordered=False)
        return len(docs)

    def for_detector(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Rollup documents the detector builds series from, ``hour >= since`` (all if None).

        Read from the day documents (:mod:`.rollup_days`, 24x fewer documents: the read
        is server-bound per document) and handed back as hourly documents. A store
        written before they existed has none: the first call packs them from the
        hourly documents (:meth:`rebuild_days`) and answers from those. Bookkeeping
        fields (``applied`` tokens, ``topics``) are left out: the detector never reads them.
        """
        if not self.days_ready():
            return self._hourly_for_detector(since, rebuild=True)
        q: dict[str, Any] = {"kind": "day", "of": {"$in": list(RD.PACKED_KINDS)}}
        if since is not None:
            q["hour"] = {"$gte": RD.day_of(since)}
        days = self.db.rollups.find(q, {"applied": 0}).sort("hour", ASCENDING)
        out = sorted(RD.expand(days, since), key=_by_hour)  # the hourly read's order
        rest = [k for k in DETECTOR_ROLLUP_KINDS if k not in RD.PACKED_KINDS]
        if rest:
            out += self._hourly(rest, since)
        return out

    def _hourly(self, kinds: Sequence[str], since: datetime | None) -> list[dict[str, Any]]:
        q: dict[str, Any] = {"kind": {"$in": list(kinds)}}
        if since is not None:
            q["hour"] = {"$gte": since}
        return list(self.db.rollups.find(q, {"applied": 0, "topics": 0}).sort("hour", ASCENDING))

    def _hourly_for_detector(self, since: datetime | None, *, rebuild: bool) -> list[dict[str, Any]]:
        """The hourly documents (the previous read); with ``rebuild``, packs the day documents too."""
        if rebuild:
            self.rebuild_days()
        return self._hourly(DETECTOR_ROLLUP_KINDS, since)

    def days_ready(self) -> bool:
        """True when the day documents were built or kept by this version's writers."""
        doc = self.db.meta.find_one({"_id": DAYS_META})
        return bool(doc and doc.get("version") == DAYS_VERSION)

    def rebuild_days(self, kinds: Sequence[str] = RD.PACKED_KINDS) -> int:
        """Repack the day documents of ``kinds`` from the hourly ones (the migration).

        Exact when no writer adds to those kinds meanwhile (run with workers stopped, as
        :meth:`replace_score`); the detector runs it once on a store written by a
        version without day documents. Returns how many day documents were written.
        """
        kinds = [k for k in kinds if k in RD.PACKED_KINDS]
        hourly = self.db.rollups.find({"kind": {"$in": kinds}}, {"applied": 0, "topics": 0})
        days = list(RD.pack(hourly).values())
        self.db.rollups.delete_many({"kind": "day", "of": {"$in": kinds}})
        for i in range(0, len(days), 5000):
            self.db.rollups.insert_many(days[i : i + 5000], ordered=False)
        if set(kinds) == set(RD.PACKED_KINDS):
            self.db.meta.update_one(
                {"_id": DAYS_META},
                {"$set": {"version": DAYS_VERSION, "built": datetime.now(UTC)}},
                upsert=True,
            )
        return len(days)

    def newest_hour(self) -> datetime | None:
        """Newest hour of any rollup the detector reads (index ``kind, hour``)."""
        newest = None
        for kind in DETECTOR_ROLLUP_KINDS:
            doc = self.db.rollups.find_one({"kind": kind}, {"hour": 1}, sort=[("hour", DESCENDING)])
            if doc and (newest is None or doc["hour"] > newest):
                newest = doc["hour"]
        return newest

    def insert(self, docs: Sequence[Mapping[str, Any]]) -> int:
        """Insert ready-made hourly rollup documents (benchmarks and repairs; each needs its ``_id``).

        Their day documents get the same numbers added (``$inc`` upserts); if the insert
        fails half-way the day documents are marked stale and repacked on the next read.
        """
        try:
            n = self._insert_all("rollups", docs, "insert rollups")
        except StoreError:
            self.db.meta.delete_many({"_id": {"$in": [DAYS_META, TOTALS_META]}})
            raise
        contrib = {
            RD.hourly_id(d): {
                "set": {k: d[k] for k in ("kind", "hour", *RD.IDENTITY) if k in d},
                "inc": _flat({k: d[k] for k in RD.VALUES if k in d}),
            }
            for d in docs
        }
        ops = [
            UpdateOne({"_id": did}, {"$setOnInsert": c["set"], "$inc": c["inc"]}, upsert=True)
            for did, c in RD.day_contributions(contrib).items()
        ]
        counts: Counter[tuple[datetime, str]] = Counter()
        for d in docs:
            if d.get("kind") == "ingest" and isinstance(d.get("hour"), datetime) and "source" in d:
                counts[(d["hour"], d["source"])] += int(d.get("n") or 0)
        ops += _total_ops(counts)
        if ops:
            self.db.rollups.bulk_write(ops, ordered=False)
        return n

    def newest_ingest_hour(self) -> datetime | None:
        """The newest hour holding posts (from the per-source totals; never a scan of posts)."""
        lasts = [t["last"] for t in self.totals() if t.get("last") is not None]
        return max(lasts) if lasts else None

    def ingest_hours(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Hourly post counts per source in ``[since, until)``: ``hour``, ``source``, ``n``.

        Read from the day documents (:mod:`.rollup_days`: one per source and day, so a
        week of five sources is 40 documents instead of 840; the read is server-bound per
        document) when the store has them, else from the hourly ones. Hours without posts
        are absent, as in the hourly read.
        """
        if not self.days_ready():
            return [
                {"hour": RT.utc(r["hour"]), "source": r["source"], "n": int(r["n"])}
                for r in self.ingest(since, until)
                if r.get("n")
            ]
        q = {"kind": "day", "of": "ingest", "hour": {"$gte": RD.day_of(since), "$lt": until}}
        days = self.db.rollups.find(q, {"_id": 0, "of": 1, "hour": 1, "source": 1, "h": 1})
        out = []
        for d in RD.expand(days, since):
            hour = RT.utc(d["hour"])
            if hour is not None and hour < until and d.get("n"):
                out.append({"hour": hour, "source": d.get("source"), "n": int(d["n"])})
        return out

    def sources(self) -> list[str]:
        """Every source that ever delivered a post, sorted (from the per-source totals)."""
        return sorted(t["source"] for t in self.totals() if t.get("source"))

    def totals(self) -> list[dict[str, Any]]:
        """One row per source: ``source``, ``n`` (posts), ``first`` and ``last`` hour (UTC).

        Read from the ``total`` documents (:mod:`.rollup_totals`: one per source, kept in
        the same commit as the hourly counters). A store written before they existed has
        none: the first call recounts them from the hourly documents and answers from those.
        """
        if not self.totals_ready():
            self.rebuild_totals()
        rows = self.db.rollups.find(
            {"kind": "total", "of": "ingest"}, {"_id": 0, "source": 1, "n": 1, "first": 1, "last": 1}
        )
        return [
            {
                "source": r["source"],
                "n": int(r.get("n") or 0),
                "first": RT.utc(r.get("first")),
                "last": RT.utc(r.get("last")),
            }
            for r in rows
            if isinstance(r.get("source"), str)
        ]

    def totals_ready(self) -> bool:
        """True when the per-source totals were built or kept by this version's writers."""
        doc = self.db.meta.find_one({"_id": TOTALS_META})
        return bool(doc and doc.get("version") == TOTALS_VERSION)

    def rebuild_totals(self) -> int:
        """Recount the per-source totals from the hourly ingest documents (the migration).

        Exact even while posts arrive: on a replica set (SecantusDB is one) the read and
        the writes share one transaction, so a writer's commit in between makes this
        one conflict and retry (``TransientTransactionError``) instead of being lost.
        Without transactions (a standalone MongoDB) run it with the importers stopped.
        Returns how many sources were written.
        """

        def run(session: Any) -> int:
            hourly = self.db.rollups.find(
                {"kind": "ingest"}, {"_id": 0, "hour": 1, "source": 1, "n": 1}, session=session
            )
            totals = RT.from_hourly(hourly)
            stale = [
                d["_id"]
                for d in self.db.rollups.find({"kind": "total", "of": "ingest"}, {"_id": 1}, session=session)
                if d["_id"] not in totals
            ]
            if stale:
                self.db.rollups.delete_many({"_id": {"$in": stale}}, session=session)
            ops = [UpdateOne({"_id": tid}, {"$set": doc}, upsert=True) for tid, doc in totals.items()]
            if ops:
                self.db.rollups.bulk_write(ops, ordered=False, session=session)
            self.db.meta.update_one(
                {"_id": TOTALS_META},
                {"$set": {"version": TOTALS_VERSION, "built": datetime.now(UTC)}},
                upsert=True,
                session=session,
            )
            return len(totals)

        try:
            if self._supports_transactions():
                with self.db.client.start_session() as session:
                    return int(session.with_transaction(run))
            return run(None)
        except PyMongoError as exc:
            raise StoreError(f"cannot recount the per-source totals: {exc}") from exc

    def values(self, kind: str, field: str) -> list[str]:
        """Distinct values of one rollup key (sources, languages, places) from ``rollups``."""
        return sorted(v for v in self.db.rollups.distinct(field, {"kind": kind}) if isinstance(v, str) and v)

    def docs(
        self, kinds: Sequence[str], since: datetime, until: datetime, match: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Raw rollup documents of some kinds in an hour range (one series' drill-down)."""
        q = {"kind": {"$in": list(kinds)}, "hour": {"$gte": since, "$lt": until}, **(match or {})}
        return list(self.db.rollups.find(q, {"_id": 0}))

    def _supports_transactions(self) -> bool:
        """True on a replica set member or mongos (asked once per store)."""
        if self._txn_ok is None:
            self._txn_ok = supports_transactions(self.db.client)
        return self._txn_ok


def _total_ops(counts: Mapping[tuple[datetime, str], int]) -> list[UpdateOne]:
    """Upserts adding new posts (counted per hour x source) to the per-source totals."""
    return [
        UpdateOne(
            {"_id": tid},
            {"$setOnInsert": c["set"], "$inc": c["inc"], "$min": c["min"], "$max": c["max"]},
            upsert=True,
        )
        for tid, c in RT.contributions(counts).items()
    ]


def _flat(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"n": 3, "sum": {"threat": 0.5}}`` -> ``{"n": 3, "sum.threat": 0.5}`` (``$inc`` paths)."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _by_hour(d: Mapping[str, Any]) -> datetime:
    return d["hour"]
