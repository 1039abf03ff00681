"""Day-packed copies of the hourly rollups, for the detector (pure shapes, no I/O).

Why: the detector's first cycle reads every hourly rollup document, and on SecantusDB
a read costs about 0.1 ms *per document* on the server whatever the query (a
``$group`` scans the same documents). One document per series slice and UTC day
holding its 24 hours cuts a first cycle's read 24x (issue 12's 1,000-series bench:
672,000 hourly documents, 28,000 day documents).

Shape (``kind="day"``; the hourly documents stay as they are, every other reader keeps them)::

    {_id: "day|<of>|<day ISO>|<identity...>", kind: "day", of: "ingest"|"score"|"place",
     hour: <the day's 00:00 UTC>, <identity fields of the hourly document>,
     h: {"13": {n, sum: {...}, high: {...}}, ...}}

``hour`` holds the day's start so the existing ``kind, hour`` index serves the
detector's ``hour >= since`` reads. The per-hour fields are the hourly document's
``n``, ``sum`` and ``high`` (``topics`` and the ``applied`` tokens are left out: the
detector never reads them). Writers add to both with the same increments in the same
order, so :func:`expand` gives back exactly the hourly documents' numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

DAYS_META = "rollup_days"
"""``meta`` document saying the day documents match the hourly ones (set by a fresh store or a repack)."""
DAYS_VERSION = 1
PACKED_KINDS = ("ingest", "score", "place")
"""Hourly kinds that get day documents (``watch`` series come from the search index)."""
IDENTITY = ("source", "lang", "place", "country", "lat", "lon")
"""Fields naming an hourly document's slice, copied to its day document."""
VALUES = ("n", "sum", "high")
"""Per-hour fields the detector reads."""


def day_of(hour: datetime) -> datetime:
    """The UTC day holding ``hour``."""
    if hour.tzinfo is None:
        hour = hour.replace(tzinfo=UTC)
    return hour.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def hourly_id(d: Mapping[str, Any]) -> str:
    """An hourly document's ``_id``, or one built like the writers' (``kind|hour|identity``) without it."""
    if "_id" in d:
        return str(d["_id"])
    ident = "|".join(str(d[k]) for k in IDENTITY if k in d)
    return f"{d.get('kind')}|{d.get('hour')}|{ident}"


def day_id(hourly_id: str, hour: datetime) -> str:
    """``score|2024-01-01T13:00:00+00:00|bbc|en`` -> ``day|score|2024-01-01T00:00:00+00:00|bbc|en``."""
    kind, _, rest = hourly_id.partition("|")
    _, _, identity = rest.partition("|")
    return f"day|{kind}|{day_of(hour).isoformat()}|{identity}"


def _slot(hour: datetime) -> str:
    if hour.tzinfo is not None:
        hour = hour.astimezone(UTC)
    return f"{hour.hour:02d}"


def day_contributions(contrib: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Day-document increments for hourly ``{"set": ..., "inc": ...}`` contributions.

    The hourly increment ``sum.threat`` becomes ``h.<HH>.sum.threat`` on the day
    document; ``topics`` increments are dropped. Contributions of other kinds are
    ignored. Several hours of one day merge into one day contribution.
    """
    out: dict[str, dict[str, Any]] = {}
    for rid, c in contrib.items():
        ident = c["set"]
        kind, hour = ident.get("kind"), ident.get("hour")
        if kind not in PACKED_KINDS or not isinstance(hour, datetime):
            continue
        did = day_id(rid, hour)
        if did not in out:
            fields = {k: ident[k] for k in IDENTITY if k in ident}
            out[did] = {"set": {"kind": "day", "of": kind, "hour": day_of(hour), **fields}, "inc": {}}
        inc = out[did]["inc"]
        slot = _slot(hour)
        for k, v in c["inc"].items():
            if k.split(".", 1)[0] in VALUES:
                inc[f"h.{slot}.{k}"] = inc.get(f"h.{slot}.{k}", 0) + v
    return out


def pack(docs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Whole day documents built from whole hourly documents (migrations and recounts)."""
    out: dict[str, dict[str, Any]] = {}
    for d in docs:
        kind, hour = d.get("kind"), d.get("hour")
        if kind not in PACKED_KINDS or not isinstance(hour, datetime):
            continue
        did = day_id(hourly_id(d), hour)
        day = out.get(did)
        if day is None:
            fields = {k: d[k] for k in IDENTITY if k in d}
            day = out[did] = {"_id": did, "kind": "day", "of": kind, "hour": day_of(hour), **fields, "h": {}}
        day["h"][_slot(hour)] = {k: d[k] for k in VALUES if k in d}
    return out


def expand(days: Iterable[Mapping[str, Any]], since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Hourly documents (``kind``, ``hour``, identity, ``n``/``sum``/``high``) back from day documents.

    Hours before ``since`` are left out (a day document may start before it).
    """
    for d in days:
        start, kind = d.get("hour"), d.get("of")
        if not isinstance(start, datetime) or kind not in PACKED_KINDS:
            continue
        fields = {k: d[k] for k in IDENTITY if k in d}
        for slot, values in (d.get("h") or {}).items():
            hour = start + timedelta(hours=int(slot))
            if since is not None and hour < since:
                continue
            yield {"kind": kind, "hour": hour, **fields, **values}
