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


SURGE_SHARE = 0.10
"""The surge starts in the first hour holding this share of the event's busiest hour..."""

SURGE_MIN = 10
"""...and at least this many tweets (a quiet collection's noise is not a surge)."""

TOLERANCE_S = 3600
"""A detection up to an hour before the surge hour is not a false alarm: the rise began."""


@dataclass(frozen=True)
class Onset:
    """One event's result (times UTC; delays in hours, None when nothing was detected).

    ``surge_start`` is the first tweet of the surge (see :func:`surge_start`);
    ``delay_from_surge_h`` runs from it to the end of the first bucket at or above the
    threshold (negative: the detector saw the rise before the surge hour);
    ``false_alarms_before`` counts anomalies triggered more than :data:`TOLERANCE_S`
    before the surge (and, with padding, in the padded days).
    """

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
    surge_start: datetime | None = None
    delay_from_surge_h: float | None = None
    step_s: int = 3600


def surge_start(times: np.ndarray) -> int:
    """Epoch seconds of the first tweet of the surge: the first tweet of the first hour
    (counted from the first tweet) holding :data:`SURGE_SHARE` of the busiest hour and at
    least :data:`SURGE_MIN` tweets. A reference made with hindsight, for evaluation only.
    """
    t = np.asarray(times).astype("datetime64[s]").astype(np.int64)
    hours = (t - t[0]) // 3600
    counts = np.bincount(hours)
    need = max(SURGE_MIN, SURGE_SHARE * counts.max())
    first_hour = int(np.flatnonzero(counts >= need)[0]) if (counts >= need).any() else int(counts.argmax())
    return int(t[np.searchsorted(hours, first_hour)])


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


def auto_step(times: np.ndarray) -> int:
    """5-minute buckets when the collection averages at least one tweet an hour, else hourly."""
    t = np.asarray(times).astype("datetime64[s]").astype(np.int64)
    hours = max(1.0, (t[-1] - t[0]) / 3600)
    return 300 if len(t) / hours >= 1.0 else 3600


def event_onset(folder: Path, config: DetectConfig, step_s: int = 0, pad_days: float = 0.0) -> Onset:
    """Score one event folder; see the module docstring for what is measured (``step_s`` 0: auto)."""
    desc = json.loads((folder / "event_description.json").read_text(encoding="utf-8"))
    start_text = str((desc.get("time") or {}).get("start_day") or "")
    start = parse_start_day(start_text)
    times = read_times(folder / "tweetids_entire_period.csv")
    if len(times) == 0:
        raise ValueError(f"{folder}: no tweets in tweetids_entire_period.csv")
    step_s = step_s or auto_step(times)
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
    surge = surge_start(times)
    triggers = np.flatnonzero(sev >= config.threshold)
    ends = t_s[triggers] + step_s
    early = ends < surge - TOLERANCE_S
    fired = triggers[~early]
    first_tweet = datetime.fromtimestamp(int(times[0].astype(np.int64)), tz=UTC)
    last_tweet = datetime.fromtimestamp(int(times[-1].astype(np.int64)), tz=UTC)
    note = ""
    if not (first_tweet - timedelta(days=2) <= start <= last_tweet):
        note = f"start_day {start_text} lies outside the collection ({first_tweet:%Y-%m-%d}..{last_tweet:%Y-%m-%d})"
    detection = None
    delay = delay_first = delay_surge = None
    if len(fired):
        detection = datetime.fromtimestamp(int(t_s[fired[0]] + step_s), tz=UTC)
        delay = (detection - start).total_seconds() / 3600
        delay_first = (detection - first_tweet).total_seconds() / 3600
        delay_surge = (detection.timestamp() - surge) / 3600
    # False alarms: anomaly windows whose triggers all lie well before the surge.
    before = len(
        {int(np.searchsorted([w.end.timestamp() for w in windows], e, side="left")) for e in ends[early]}
    )
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
        surge_start=datetime.fromtimestamp(surge, tz=UTC),
        delay_from_surge_h=round(delay_surge, 2) if delay_surge is not None else None,
        step_s=step_s,
    )


def evaluate(
    data_dir: str | Path, config: DetectConfig | None = None, step_s: int = 0, pad_days: float = 0.0
) -> list[Onset]:
    """:func:`event_onset` for every event folder (one holding ``event_description.json``)."""
    folders = event_folders(data_dir)
    from pipelines.detect.matrix_profile import warm_up

    config = config or DetectConfig()
    if config.method in ("stumpy", "combined", "ensemble"):
        warm_up()
    return [event_onset(f, config, step_s, pad_days) for f in folders]


def event_folders(data_dir: str | Path) -> list[Path]:
    root = Path(data_dir)
    folders = sorted(p.parent for p in root.glob("*/event_description.json"))
    if not folders:
        raise ValueError(f"{root}: no event folders (each needs event_description.json)")
    return folders


def loss(rows: list[Onset]) -> tuple[int, float]:
    """What leave-one-event-out minimises: misses + false alarms, then the median delay."""
    misses = sum(r.delay_from_surge_h is None for r in rows)
    alarms = sum(r.false_alarms_before for r in rows)
    delays = [r.delay_from_surge_h for r in rows if r.delay_from_surge_h is not None]
    return misses + alarms, statistics.median(delays) if delays else float("inf")


LOEO_EXCESS = (0.0, 10.0, 20.0, 30.0)
"""Minimum excess of posts in the trailing hour (:mod:`pipelines.detect.gates`) ``--loeo`` tries."""


def loeo_grid(base: DetectConfig) -> list[DetectConfig]:
    """Settings ``--loeo`` chooses from: the minimum excess of posts in the hour and the warm-up."""
    return [base.with_(min_hour_excess=e, cold_start_hours=h) for e in LOEO_EXCESS for h in (1.0, 6.0)]


def choose(
    data_dir: str | Path, configs: list[DetectConfig], step_s: int = 0, pads: tuple[float, ...] = (0.0, 7.0)
) -> list[tuple[DetectConfig, tuple[int, float]]]:
    """Every setting's :func:`loss` on all events, as collected and padded together (best first).

    How the production default of the gate was chosen: one value must serve both
    conditions, so losses are summed over ``pads`` (misses + alarms; then the mean of
    the median delays). The figures to report come from :func:`leave_one_event_out`.
    """
    folders = event_folders(data_dir)
    out = []
    for c in configs:
        losses = [loss([event_onset(f, c, step_s, p) for f in folders]) for p in pads]
        out.append((c, (sum(n for n, _ in losses), sum(m for _, m in losses) / len(losses))))
    return sorted(out, key=lambda pair: pair[1])


def leave_one_event_out(
    data_dir: str | Path, configs: list[DetectConfig], step_s: int = 0, pad_days: float = 0.0
) -> list[tuple[Onset, DetectConfig]]:
    """Each event scored with the setting that did best (:func:`loss`) on the other events."""
    folders = event_folders(data_dir)
    table = [[event_onset(f, c, step_s, pad_days) for f in folders] for c in configs]
    out = []
    for i in range(len(folders)):
        best = min(range(len(configs)), key=lambda k: loss([r for j, r in enumerate(table[k]) if j != i]))
        out.append((table[best][i], configs[best]))
    return out


def format_table(rows: list[Onset]) -> str:
    """One line per event, then detections, median delay from the surge and false alarms."""
    lines = [
        f"{'event':<30} {'step':>5} {'tweets':>6} {'surge start (UTC)':<17} {'detected (UTC)':<17} "
        f"{'delay h':>7} {'FA':>3}"
    ]
    for r in rows:
        det = r.first_detection.strftime("%Y-%m-%d %H:%M") if r.first_detection else "-"
        surge = r.surge_start.strftime("%Y-%m-%d %H:%M") if r.surge_start else "-"
        delay = f"{r.delay_from_surge_h:.2f}" if r.delay_from_surge_h is not None else "-"
        lines.append(
            f"{r.event:<30} {r.step_s:>5} {r.tweets:>6} {surge:<17} {det:<17} {delay:>7} {r.false_alarms_before:>3}"
        )
    delays = [r.delay_from_surge_h for r in rows if r.delay_from_surge_h is not None]
    if delays:
        lines.append(
            f"detected {len(delays)}/{len(rows)}; median delay from the first tweet of the surge "
            f"{statistics.median(delays):.2f} h (max {max(delays):.2f}); "
            f"false alarms before the surge {sum(r.false_alarms_before for r in rows)}"
        )
    return "\n".join(lines)


def as_json(rows: list[Onset]) -> str:
    return json.dumps([asdict(r) for r in rows], default=str, indent=2)
