"""Bad input in, no crash and no anomaly out: every series is checked before it is scored.

A detector cycle reads hundreds of series that nobody looked at; one of them will have
a NaN, a clock that jumped backwards, a counter that overflowed. The rule: such a
series raises nothing it cannot justify, and the log says why. :func:`check` returns
the cleaned series and the reasons; :func:`pipelines.detect.detector.score_series`
calls it first and logs every reason once per call.

What is done
------------
* times that go backwards or repeat (clock jump, replayed bucket): the points stamped at
  or before a time already seen are dropped (order is never guessed);
* NaN, infinite values, values beyond :data:`MAX_ABS` (an overflowed or corrupt
  counter) and negative counts: treated as missing (never as a spike);
* fewer than two points, nothing finite, all zeros or a constant: not scored
  (``skip``): there is nothing to be anomalous against;
* gaps in time need nothing: every statistic is over past *points*, and a missing
  stretch is neither a spike nor a drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_ABS = 1e12
"""Values beyond this are corrupt (no social series counts a trillion posts an hour)."""


@dataclass
class Checked:
    """A series after :func:`check`: what to score and why anything was changed."""

    times_s: np.ndarray
    values: np.ndarray
    order: np.ndarray | None = None
    """Input positions of the kept points when times had to be reordered (else ``None``)."""
    reasons: list[str] = field(default_factory=list)
    skip: bool = False


def check(times_s: np.ndarray, values: np.ndarray, counts: bool) -> Checked:
    """Clean one series (epoch seconds, values); see the module docstring.

    Raises
    ------
    ValueError
        When times and values differ in length (a programming error, not bad data).
    """
    t = np.asarray(times_s, dtype=np.int64)
    v = np.asarray(values, dtype=float).copy()
    if len(t) != len(v):
        raise ValueError(f"{len(t)} times but {len(v)} values: lengths must match")
    out = Checked(t, v)
    if len(t) >= 2 and not np.all(np.diff(t) > 0):
        # Keep only points that move the clock forward: after a jump back, the points
        # stamped at or before the latest time already seen are dropped (stale or replayed).
        ahead = np.r_[True, t[1:] > np.maximum.accumulate(t)[:-1]]
        out.order = np.flatnonzero(ahead)
        out.times_s, out.values = t[out.order], v[out.order]
        out.reasons.append(
            f"times not increasing (clock went back): {int((~ahead).sum())} point(s) at or before "
            "an earlier time dropped"
        )
    v = out.values
    bad = ~np.isfinite(v)
    if bad.any():
        out.reasons.append(f"{int(bad.sum())} NaN/infinite value(s) treated as missing")
    huge = np.isfinite(v) & (np.abs(v) > MAX_ABS)
    if huge.any():
        out.reasons.append(f"{int(huge.sum())} value(s) beyond {MAX_ABS:g} treated as missing (corrupt)")
    negative = np.isfinite(v) & (v < 0) if counts else np.zeros(len(v), dtype=bool)
    if negative.any():
        out.reasons.append(f"{int(negative.sum())} negative count(s) treated as missing")
    v[bad | huge | negative] = np.nan
    out.values = v
    finite = v[np.isfinite(v)]
    if len(v) < 2:
        out.skip = True
        out.reasons.append(f"{len(v)} point(s): too short to score")
    elif len(finite) == 0:
        out.skip = True
        out.reasons.append("no finite value: not scored")
    elif np.all(finite == 0):
        out.skip = True
        out.reasons.append("all zeros: not scored")
    elif np.all(finite == finite[0]):
        out.skip = True
        out.reasons.append(f"constant ({finite[0]:g}): not scored")
    return out
