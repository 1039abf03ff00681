"""Rebuild Vigil's bundled sample from CrisisLexT26 (how ``data/sample/`` was made).

Usage, from the repository root with ``../shared`` beside it::

    python data/sample/build_sample.py [--shared ../shared]

It copies six events of autumn 2013 as CrisisLexT26 event folders: each
``tweets_labeled.csv`` gzip-compressed byte for byte (no row added, dropped or
changed; gzip header time fixed at 0 so rebuilding gives identical files) next to
its ``event_description.json``, plus the dataset's MIT ``LICENSE``. The importer
reads the folder as it is (``python -m pipelines import data/sample``).

Why these events: they overlap in time (12 Sep to 31 Dec 2013), so the Overview shows
one continuous timeline with several distinct spikes: the Colorado floods, the New
South Wales bushfires, the Bohol earthquake's one-day burst, typhoon Yolanda's
week, the Sardinia floods and the New York train crash.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVENTS = (
    "2013_Colorado_floods",
    "2013_Australia_bushfire",
    "2013_Bohol_earthquake",
    "2013_Typhoon_Yolanda",
    "2013_Sardinia_floods",
    "2013_NY_train_crash",
)
MAX_TOTAL_BYTES = 5 * 1024 * 1024


def build(shared: Path, out: Path = HERE) -> int:
    """Write the sample into ``out``; returns its total size in bytes."""
    src_root = shared / "data" / "crisislex_t26"
    if not src_root.is_dir():
        raise SystemExit(f"CrisisLexT26 not found at {src_root}; pass --shared PATH")
    shutil.copyfile(src_root / "LICENSE", out / "LICENSE")
    for event in EVENTS:
        src, dst = src_root / event, out / event
        dst.mkdir(exist_ok=True)
        shutil.copyfile(src / "event_description.json", dst / "event_description.json")
        data = (src / "tweets_labeled.csv").read_bytes()
        with open(dst / "tweets_labeled.csv.gz", "wb") as fh, gzip.GzipFile(
            filename="tweets_labeled.csv", mode="wb", fileobj=fh, compresslevel=9, mtime=0
        ) as gz:
            gz.write(data)
        rows = data.count(b"\n") - 1
        digest = hashlib.sha256(data).hexdigest()[:16]
        print(f"{event}: {rows} labelled tweets, csv sha256 {digest}...")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"sample size: {total:,} bytes")
    if total > MAX_TOTAL_BYTES:
        raise SystemExit(f"sample is {total:,} bytes, over the {MAX_TOTAL_BYTES:,}-byte budget")
    return total


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent.parent / "shared")
    build(parser.parse_args().shared)
