"""Every default of the detector in one place (the STUMPY habit: defaults live in one module).

Durations are given in time (hours, days), never in points, so the same configuration
works on hourly rollups and on 5-minute NAB files: :func:`DetectConfig.points` turns a
duration into a number of buckets for a given bucket width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Method = Literal["prophet", "stumpy", "combined", "robust", "ensemble", "context", "robust+context"]
Transform = Literal["log1p", "sqrt", "none"]
Direction = Literal["up", "both"]

METHODS: tuple[str, ...] = (
    "prophet",
    "stumpy",
    "combined",
    "robust",
    "ensemble",
    "context",
    "robust+context",
)

CONTEXT_METHODS: tuple[str, ...] = ("context", "robust+context")
"""Methods that score sequence novelty (:mod:`pipelines.detect.context`); ``robust+context``
takes the larger of the robust severity and ``context_weight`` x the novelty."""

ROBUST_METHODS: tuple[str, ...] = ("robust", "ensemble", *CONTEXT_METHODS)
"""Methods whose baseline is the online robust statistics of :mod:`pipelines.detect.online`."""


@dataclass(frozen=True)
class DetectConfig:
    """How a series is scored. Frozen so it can key caches; change with :meth:`with_`.

    Attributes
    ----------
    method:
        ``prophet`` (baseline only), ``stumpy`` (matrix profile only) or ``combined``.
    transform:
        ``log1p`` for counts (spikes are multiplicative), ``none`` for mean scores.
    direction:
        ``up`` scores only values above the baseline (volume spikes); ``both`` also drops.
    min_history_hours:
        A chunk is scored only once this much history precedes it (no daily profile
        before a day; the first hours' noisy scores would also inflate the records).
    min_prophet_days:
        Training history needed before Prophet is used; shorter series get the robust
        median/MAD baseline (flagged ``robust`` in the anomaly's methods).
    train_days:
        Trailing history each baseline fit sees.
    refit_hours:
        Baselines are refitted on this schedule (chunks aligned to the epoch), so a fit is
        shared by every detector cycle within one chunk and results do not depend on when
        a cycle ran.
    max_fit_points:
        Prophet fits on at most this many points: longer training windows are averaged
        into coarser buckets first (daily/weekly seasonality survives; the fit is ~10x faster).
    changepoint_range, changepoint_prior, daily_order:
        Prophet's ``changepoint_range``, ``changepoint_prior_scale`` and the Fourier order
        of its daily seasonality.
    robust_days:
        Days of same-time-of-day history the robust baseline takes its median from.
    mp_window_hours:
        Matrix-profile subsequence length ``m`` (in time; at least 4 points).
    mp_weight:
        In ``combined``, how much a new shape (matrix profile at its record) raises the
        baseline's score.
    mp_min_record:
        Floor of the matrix profile's record, in RMS robust sigmas.
    record_days:
        Scores are relative to the largest score of the series over this trailing
        period: a value must beat the recent record of its own series to rank high,
        which makes one threshold fit quiet and noisy series alike.
    min_record:
        Floor of that record, in robust z units (a quiet week does not make any blip an
        anomaly).
    quiet_hours:
        After a high score, later points in this period only score if they beat it: one
        event raises one alarm, not one per bucket.
    threshold:
        Severity (0..1) at or above which an anomaly is raised in production. 0.34 sits
        on the plateau just below the best NAB threshold of the ``robust`` defaults on
        the six realTweets series (0.345, standard profile; 0.3475 falls off a cliff);
        their leave-one-file-out score is in docs/detection.md.
    level_hours:
        ``robust``: the trailing window of the level median and spread (interquartile
        range) a point is compared with.
    season_days:
        ``robust``: same-time-of-day values over this many past days give the seasonal
        median; a point must stand out from both the level and the season.
    rel_floor:
        ``robust``: the spread is at least this share of the level (a flat series does
        not make every wobble infinite).
    level_spread:
        ``robust``: ``iqr`` = the interquartile range of the trailing window (level, and
        residuals from the season); ``lower`` = twice the distance from its median down to
        its first quartile, the lower half alone (a surge in the window inflates the upper
        quartile, not the lower one: on the sample, Bohol's busy hours two days before
        the NSW fires). Measured in docs/detection.md; ``iqr`` in production.
    cold_start_hours:
        ``robust``/``ensemble``: scores start after this much history (``min_history_hours``
        is the Prophet methods' warm-up). The level statistics need only a few points, and
        a new series must be able to alarm in its first hours (onsets, issue 12).
    min_excess:
        Counts only: a bucket raises nothing unless it holds at least this many posts
        more than expected (a burst of six posts on a silent keyword is rare, but it is
        not news). 0 = off; ``eval-onsets --loeo`` chooses it on the other events.
    min_hour_excess:
        Counts only: a point raises nothing unless the posts of its trailing hour exceed
        the baseline's expectation for that hour by at least this many
        (:mod:`pipelines.detect.gates`; on hourly rollups, the bucket's excess). 20: what
        the joint rule of :mod:`pipelines.detect.joint_gate` chooses from 0/5/10/20 on NAB
        Twitter and the 18 CrisisLexT26 onsets together (rank sum of NAB's standard score
        and the onsets' misses + false alarms; the rule written before the held-out
        figures). It removes the near-silent bursts of 8-9 tweets an hour that alarmed a
        day before two events (docs/detection.md).
    small_beat_days:
        Counts only: a point below ``min_hour_excess`` still passes when its hour holds
        more posts than any hour of the previous ``small_beat_days`` days (a quiet place
        or source that has never been this busy: on the sample, Yolanda's 12-17 posts an
        hour on ``place:Philippines``). 0 = a small hour never passes.
    gate_ratio:
        Counts only: the surge gate's excess must also reach this multiple of the
        baseline's expectation (bucket and hour each against their own); 0 = off
        (:mod:`pipelines.detect.gates`, scale-relative forms). Off: the joint rule's
        candidate set v2 (0.5 and 1 with a minimum of 10 or 20) measured no change on
        NAB Twitter or the onsets, and chose the plain minimum.
    gate_alpha:
        Counts only: the bucket's or hour's count must also have a Poisson tail
        probability at most this under the expectation as mean; 0 = off (v2 tried
        1e-3 and 1e-6: no change, as ``gate_ratio``).
    record_kind:
        ``max``: a score is relative to the largest of the record period (above);
        ``likelihood``: to the mean + 4 standard deviations of the period's scores
        (Numenta's anomaly likelihood idea: one past outlier does not blind the series
        for the whole period).
    smooth_points:
        Scores are averaged over this many points (the current one and those before
        it) before the record: a sustained change outranks a one-bucket blip.
    context_bins, context_orders, context_levels, context_min_seen:
        ``context`` methods (:mod:`pipelines.detect.context`): bins over the warm-up range,
        longest context in points, resolutions (each halves the bins), and how often a
        context must have been seen before it predicts. Chosen by ``eval-nab --lofo``.
    context_warm_hours:
        ``context`` methods: the first this-many hours of the series scored set the bins and
        are learned, not scored (NAB files: their probationary period instead). 7 days: a
        weekly cycle seen once.
    context_weight:
        ``robust+context``: severity = max(robust severity, ``context_weight`` x novelty);
        0 = robust alone. Chosen on the training files by ``eval-nab --lofo``.
    context_trim:
        ``context`` methods: the bins cover the warm-up's ``context_trim`` to
        ``1 - context_trim`` quantiles instead of its whole range (0 = minimum to maximum).
    context_soft:
        ``context`` methods: a surprise counts the share of a context's past continuations that
        differ from the current symbol, not only never-seen ones (:func:`pipelines.detect.context.novelty`).
    context_edges:
        ``context`` methods: ``width`` bins of equal width over the warm-up range, ``quantile``
        bins holding equal shares of the warm-up (:func:`pipelines.detect.context.symbols`),
        ``both`` the mean of the two novelties.
    context_refresh:
        ``context`` methods: 0 = bins and memory from the whole series; ``k`` = every ``k``
        warm-up lengths the bins are recomputed from, and the memory rebuilt on, the last
        warm-up length of points (:func:`pipelines.detect.context.novelty`).
    likelihood_avg_hours, likelihood_days:
        ``context`` methods: when ``likelihood_avg_hours`` > 0 the novelty is replaced by
        its anomaly likelihood (:mod:`pipelines.detect.likelihood`, Ahmad et al. 2017): its
        mean over this many hours judged against the mean and spread of that average over
        the past ``likelihood_days``. 0 = the raw novelty. Chosen by ``eval-nab --lofo``.
    extend_ratio:
        An anomaly window spans the triggering points and their neighbours whose
        baseline z is at least ``extend_ratio`` times the trigger's z.
    """

    method: Method = "robust"
    transform: Transform = "sqrt"
    direction: Direction = "up"
    min_history_hours: float = 24.0
    min_prophet_days: float = 14.0
    train_days: float = 28.0
    refit_hours: float = 24.0
    max_fit_points: int = 1500
    changepoint_range: float = 0.95
    changepoint_prior: float = 0.05
    daily_order: int = 4
    robust_days: int = 14
    mp_window_hours: float = 2.0
    mp_weight: float = 0.1
    mp_min_record: float = 0.5
    record_days: float = 14.0
    min_record: float = 8.0
    quiet_hours: float = 24.0
    threshold: float = 0.34
    extend_ratio: float = 0.5
    level_hours: float = 168.0
    season_days: float = 14.0
    rel_floor: float = 0.01
    level_spread: Literal["iqr", "lower"] = "iqr"
    record_kind: Literal["max", "likelihood"] = "max"
    cold_start_hours: float = 1.0
    min_excess: float = 0.0
    min_hour_excess: float = 20.0
    small_beat_days: float = 7.0
    gate_ratio: float = 0.0
    gate_alpha: float = 0.0
    smooth_points: int = 1
    context_bins: int = 8
    context_orders: int = 4
    context_levels: int = 3
    context_min_seen: int = 3
    context_warm_hours: float = 168.0
    context_weight: float = 1.0
    context_trim: float = 0.0
    context_soft: bool = False
    context_edges: Literal["width", "quantile", "both"] = "width"
    context_refresh: int = 0
    likelihood_avg_hours: float = 0.0
    likelihood_days: float = 30.0

    def __post_init__(self) -> None:
        """Reject gate settings that would silently mean something else (a negative ratio, a
        tail probability outside [0, 1))."""
        if not self.gate_ratio >= 0:
            raise ValueError(f"gate_ratio {self.gate_ratio!r}: must be 0 (off) or positive")
        if not 0 <= self.gate_alpha < 1:
            raise ValueError(f"gate_alpha {self.gate_alpha!r}: must be 0 (off) or a probability below 1")

    def with_(self, **changes: object) -> DetectConfig:
        """A copy with some fields changed (``ValueError`` on an unknown field)."""
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown detector setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)  # type: ignore[arg-type]

    @staticmethod
    def points(hours: float, step_s: float, minimum: int = 1) -> int:
        """Number of buckets of ``step_s`` seconds in ``hours`` hours (at least ``minimum``)."""
        return max(minimum, round(hours * 3600.0 / step_s))


COUNT_CONFIG = DetectConfig()
"""Volume series (post counts): robust online statistics on the square-root scale, spikes up.

Chosen by ``eval-nab --lofo`` (issue 12): on the six Twitter series, the robust method on
the square-root scale held out 67.9 / 62.4 / 73.2 (standard / low FP / low FN) against
the combined Prophet + STUMPY detector's figures in docs/detection.md, and it costs
milliseconds a series instead of a Prophet fit a day. record 14 days, quiet 24 h, record
floor 8 and the threshold are what the same procedure picks on all six files."""

CONTEXT_CONFIG = DetectConfig(
    method="robust+context",
    threshold=0.475,
    min_record=3.0,
    context_min_seen=10,
    context_weight=0.8,
)
"""Volume series, robust statistics + sequence novelty (``VIGIL_DETECT_METHOD=robust+context``).

What ``eval-nab --lofo``'s procedure picks on all six Twitter files (in-sample, as for
:data:`COUNT_CONFIG`): held out it scores 74.3 / 60.8 / 79.5 there (robust 72.9 / 72.3 / 76.8)
and 56.1 / 42.8 / 60.7 on NAB's 37 other series (robust 32.1 / 28.8 / 35.5); not the default
because it costs 11.5 points of Twitter low FP for a standard gain inside the noise
(docs/detection.md, "Sequence novelty")."""

PRODUCTION_CONFIGS: dict[str, DetectConfig] = {"robust": COUNT_CONFIG, "robust+context": CONTEXT_CONFIG}
"""The methods ``VIGIL_DETECT_METHOD`` may name, with their settings."""


def production_config(method: str = "robust", threshold: float | None = None) -> DetectConfig:
    """The detector process's configuration for ``VIGIL_DETECT_METHOD`` and ``VIGIL_DETECT_THRESHOLD``.

    Raises
    ------
    ValueError
        A method production does not offer.
    """
    if method not in PRODUCTION_CONFIGS:
        raise ValueError(f"detector method {method!r}: use one of {', '.join(PRODUCTION_CONFIGS)}")
    config = PRODUCTION_CONFIGS[method]
    return config if threshold is None else config.with_(threshold=threshold)


MEAN_CONFIG = DetectConfig(transform="none", direction="both")
"""Mean-score series (sentiment, threat...): raw scale, both directions."""

PROPHET_CONFIG = DetectConfig(
    method="combined",
    transform="log1p",
    record_days=7.0,
    min_record=3.0,
    threshold=0.46,
    level_hours=24.0,
    season_days=7.0,
)
"""The previous production default (Prophet + STUMPY, tuned in-sample on realTweets), kept
for ``eval-nab --method combined`` comparisons."""

EVIDENCE_POSTS = 5
"""Top posts kept as evidence on an anomaly."""

EVIDENCE_TERMS = 10
"""Top terms (by lift) kept as evidence on an anomaly."""

EVIDENCE_PLACES = 5
"""Top places kept as evidence on an anomaly."""

TERM_SAMPLE = 500
"""Posts sampled (each for the window and for the baseline period) to compute term lift."""
