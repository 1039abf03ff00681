"""``eval-onsets``: how soon after a crisis starts does the detector notice it (CrisisLexT26)?

For each event folder, the volume series is built from ``tweetids_entire_period.csv``
(the creation time of every tweet collected for the event), bucketed like production
rollups (hourly by default), and scored by the production detector
(:func:`pipelines.detect.detector.score_series` with the production defaults). Reported
per event: the delay from the start of the event's ``start_day`` (UTC midnight) to the
end of the first bucket at or above the threshold (when the detector could have said
so), and the anomalies raised before ``start_day`` (false alarms).

Most collections start on the event's day, so the series has no quiet history
before the onset and the delay mostly measures the detector's warm-up (a day of history
before a baseline, a day of scores before a record). ``pad_days`` prepends that many
days of empty buckets (the keyword was not collected, so nothing is known, and zero is
the assumption) to measure instead how fast the detector reacts to the first burst
against a quiet baseline; both are reported, never mixed.
"""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from pipelines.detect.defaults import DetectConfig
from pipelines.detect.detector import Caches, find_anomalies, score_series
from pipelines.detect.series import regularize

TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"


@dataclass(frozen=True)
class Onset:
    """One event's result (times UTC; delays in hours, None when nothing was detected)."""

    event: str
    start_day: str
    first_tweet: datetime
    last_tweet: datetime
    tweets: int
    first_detection: datetime | None
    delay_h: float | None
    delay_from_first_tweet_h: float | None
    false_alarms_before: int
    anomalies: int
    note: str = ""


def read_times(path: Path) -> np.ndarray:
    """Tweet creation times of ``tweetids_entire_period.csv`` as ``datetime64[s]`` (UTC), sorted.

    Raises
    ------
    ValueError
        Naming the file and line of a timestamp that does not parse.
    """
    out: list[int] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                out.append(int(datetime.strptime(row[0].strip(), TIME_FORMAT).timestamp()))
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: bad timestamp {row[0]!r} ({exc})") from exc
    return np.sort(np.asarray(out, dtype=np.int64)).astype("datetime64[s]")


def parse_start_day(text: str) -> datetime:
    """``2013-10-14`` or ``17/06/2013`` (both occur in the dataset) -> UTC midnight."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"start_day {text!r} is neither YYYY-MM-DD nor DD/MM/YYYY")


def event_onset(folder: Path, config: DetectConfig, step_s: int = 3600, pad_days: float = 0.0) -> Onset:
    """Score one event folder; see the module docstring for what is measured."""
    desc = json.loads((folder / "event_description.json").read_text(encoding="utf-8"))
    start_text = str((desc.get("time") or {}).get("start_day") or "")
    start = parse_start_day(start_text)
    times = read_times(folder / "tweetids_entire_period.csv")
    if len(times) == 0:
        raise ValueError(f"{folder}: no tweets in tweetids_entire_period.csv")
    series = regularize(times, np.ones(len(times)), step_s, fill=0.0)
    t = series["time"].dt.replace_time_zone(None).to_numpy()
    values = series["value"].to_numpy()
    pad = int(round(pad_days * 86_400 / step_s))
    if pad:
        t = np.concatenate([t[0] - np.arange(pad, 0, -1) * np.timedelta64(step_s, "s"), t])
        values = np.concatenate([np.zeros(pad), values])
    scores = score_series(t, values, config, caches=Caches(), series=folder.name)
    windows = find_anomalies(scores, config)
    sev = scores["severity"].fill_null(0.0).to_numpy()
    t_s = t.astype("datetime64[s]").astype(np.int64)
    start_s = int(start.timestamp())
    fired = np.flatnonzero((sev >= config.threshold) & (t_s >= start_s))
    first_tweet = datetime.fromtimestamp(int(times[0].astype(np.int64)), tz=UTC)
    last_tweet = datetime.fromtimestamp(int(times[-1].astype(np.int64)), tz=UTC)
    note = ""
    if not (first_tweet - timedelta(days=2) <= start <= last_tweet):
        note = f"start_day {start_text} lies outside the collection ({first_tweet:%Y-%m-%d}..{last_tweet:%Y-%m-%d})"
    detection = None
    delay = delay_first = None
    if len(fired):
        detection = datetime.fromtimestamp(int(t_s[fired[0]] + step_s), tz=UTC)
        delay = (detection - start).total_seconds() / 3600
        delay_first = (detection - first_tweet).total_seconds() / 3600
    before = sum(1 for w in windows if w.start < start)
    return Onset(
        event=folder.name,
        start_day=start.date().isoformat(),
        first_tweet=first_tweet,
        last_tweet=last_tweet,
        tweets=len(times),
        first_detection=detection,
        delay_h=round(delay, 1) if delay is not None else None,
        delay_from_first_tweet_h=round(delay_first, 1) if delay_first is not None else None,
        false_alarms_before=before,
        anomalies=len(windows),
        note=note,
    )


def evaluate(
    data_dir: str | Path, config: DetectConfig | None = None, step_s: int = 3600, pad_days: float = 0.0
) -> list[Onset]:
    """:func:`event_onset` for every event folder (one holding ``event_description.json``)."""
    root = Path(data_dir)
    folders = sorted(p.parent for p in root.glob("*/event_description.json"))
    if not folders:
        raise ValueError(f"{root}: no event folders (each needs event_description.json)")
    from pipelines.detect.matrix_profile import warm_up

    warm_up()
    config = config or DetectConfig()
    return [event_onset(f, config, step_s, pad_days) for f in folders]


def format_table(rows: list[Onset]) -> str:
    """One line per event, then the median delay over events with a usable start day."""
    lines = [
        f"{'event':<30} {'start':<10} {'tweets':>6} {'first detection (UTC)':<17} {'delay h':>7} {'FA before':>9}"
    ]
    for r in rows:
        det = r.first_detection.strftime("%Y-%m-%d %H:%M") if r.first_detection else "-"
        delay = f"{r.delay_h:.1f}" if r.delay_h is not None else "-"
        lines.append(
            f"{r.event:<30} {r.start_day:<10} {r.tweets:>6} {det:<17} {delay:>7} {r.false_alarms_before:>9}"
            + (f"  ({r.note})" if r.note else "")
        )
    usable = [r.delay_h for r in rows if r.delay_h is not None and not r.note]
    if usable:
        lines.append(
            f"median delay {statistics.median(usable):.1f} h over {len(usable)} events; "
            f"detected {sum(r.first_detection is not None for r in rows)}/{len(rows)}; "
            f"false alarms before start {sum(r.false_alarms_before for r in rows if not r.note)}"
        )
    return "\n".join(lines)


def as_json(rows: list[Onset]) -> str:
    return json.dumps([asdict(r) for r in rows], default=str, indent=2)
