"""The scorer's job queue on ``posts``, and the score rollups written with it.

new -> claimed (lease_until, worker, claim token) -> scored, or back to new after a
failure, or failed after ``max_attempts`` failures. Every write after the claim is
conditional on the claim token, so a worker whose lease expired (and whose posts were
reclaimed by another) cannot overwrite anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from pipelines.store.common import Repository, utcnow
from pipelines.store.feed import ChangeFeed
from pipelines.store.rollups import Rollups


class ScoreQueue(Repository):
    """Claims with leases, score writes, failures and rescoring (issue 4)."""

    def __init__(self, db: Database, feed: ChangeFeed, rollups: Rollups) -> None:
        super().__init__(db)
        self._feed = feed
        self._rollups = rollups

    def claim(
        self, worker: str, limit: int, lease_s: float, *, max_claims: int = 6
    ) -> tuple[str, list[dict[str, Any]]]:
        """Atomically lease up to ``limit`` posts that are new or whose lease expired.

        Returns ``(claim token, claimed post documents)``. Race-safe across processes:
        candidate ids are read, then one ``update_many`` re-checks eligibility per
        document (each document update is atomic), and only documents carrying this
        call's fresh token are returned. A post leased ``max_claims`` times without
        finishing (it keeps killing workers) is left for :meth:`fail_stuck`.
        """

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

    def complete(self, token: str, scored: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Write scores for posts still held under ``token``; return the posts that moved.

        Each post is written with a conditional update (status claimed AND this claim),
        so a post is scored at most once whatever the workers do. The returned posts
        carry ``rollup_pending = token``: :meth:`apply_rollups` counts exactly those
        into the rollups, then clears the mark.
        """
        now = utcnow()
        first = self._feed.next_seq(len(scored)) if scored else 0
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

    def apply_rollups(self, token: str, contrib: Mapping[str, Mapping[str, Any]]) -> int:
        """Add one batch's rollup contributions exactly once, then clear its posts' mark.

        Every ``$inc`` upsert is filtered on ``applied != token`` and pushes the token
        (the last 500 are kept), so re-applying a batch after a crash adds nothing twice:
        an already-applied document does not match and its upsert hits the duplicate
        ``_id`` (E11000), which is the expected "done already".
        """
        self._rollups.inc_once(contrib, token, keep=500, what="rollup")
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

    def fail(self, token: str, failures: Sequence[tuple[str, str]], max_attempts: int) -> dict[str, int]:
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

    def release(self, token: str) -> int:
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

    def fail_stuck(self, max_claims: int) -> int:
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

    def status_counts(self) -> dict[str, int]:
        """Posts per status (new, claimed, scored, failed) for ``score --once`` reports."""
        rows = self.db.posts.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        return {str(r["_id"]): int(r["n"]) for r in rows}

    def requeue(self, query: Mapping[str, Any]) -> int:
        """Put scored or failed posts matching a Vigil-built filter back to ``new`` (rescore).

        Their old contributions stay in the rollups: run :meth:`pipelines.store.rollups.Rollups.replace_score`
        with a recount afterwards (``score --rebuild-rollups``).
        """
        res = self.db.posts.update_many(
            {**query, "status": {"$in": ["scored", "failed"]}},
            {"$set": {"status": "new", "attempts": 0, "claims": 0}, "$unset": {"error": "", "claim": ""}},
        )
        return res.modified_count

    def iter_scored(self, batch_size: int = 2000) -> Iterator[dict[str, Any]]:
        """Every scored post's ``ts``, ``source`` and ``scores`` (for rollup recounts)."""
        yield from self.db.posts.find(
            {"status": "scored"}, {"_id": 1, "ts": 1, "source": 1, "scores": 1}
        ).batch_size(batch_size)
