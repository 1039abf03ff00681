"""Why the detector reads day-packed rollups: the server's cost is per document scanned.

Usage (repository root)::

    python bench/rollup_read.py [--series 100] [--days 28]

Fills a fresh embedded SecantusDB with ``--series`` sources x ``--days`` days of hourly
ingest rollups (as ``bench/detect.py`` does, through ``store.rollups.insert``, which also
writes the day documents), then times, one after the other: the detector's read of the
hourly documents (the previous code path), the same with a projection, a server-side
``$group`` of them by source and day, a bare ``count_documents``, and the detector's
read of the day documents (``store.rollups.for_detector``). Prints seconds and documents.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from detect import _free_port, rollups  # noqa: E402

from pipelines.store import EmbeddedServer, Store  # noqa: E402
from pipelines.store.rollups import DETECTOR_ROLLUP_KINDS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--days", type=int, default=28)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db", _free_port())
        server.ensure_running()
        store = Store(server.uri, "bench")
        try:
            store.schema.ensure()
            docs = rollups(args.series, range(args.days * 24), rng)
            store.rollups.insert(docs)
            coll = store.db.rollups
            steps = {
                "hourly documents, the previous detector read": lambda: store.rollups._hourly(
                    DETECTOR_ROLLUP_KINDS, None
                ),
                "hourly documents, projected to hour/source/n": lambda: list(
                    coll.find({"kind": "ingest"}, {"_id": 0, "hour": 1, "source": 1, "n": 1})
                ),
                "server-side $group by source and day": lambda: list(
                    coll.aggregate(
                        [
                            {"$match": {"kind": "ingest"}},
                            {
                                "$group": {
                                    "_id": {
                                        "s": "$source",
                                        "d": {"$dateTrunc": {"date": "$hour", "unit": "day"}},
                                    },
                                    "n": {"$push": "$n"},
                                }
                            },
                        ]
                    )
                ),
                "count_documents (scan only)": lambda: [None] * coll.count_documents({"kind": "ingest"}),
                "day documents (for_detector), expanded to hours": lambda: store.rollups.for_detector(),
            }
            print(f"{len(docs)} hourly documents, {coll.count_documents({'kind': 'day'})} day documents")
            for label, fn in steps.items():
                started = time.perf_counter()
                out = fn()
                print(f"  {label}: {time.perf_counter() - started:.2f} s ({len(out)} rows)")
        finally:
            store.client.close()
            server.stop()


if __name__ == "__main__":
    main()
