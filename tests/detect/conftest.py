"""Shared helpers for the detector tests: synthetic hourly series and a one-time STUMPY warm-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def hourly_times(n: int, start: datetime = T0) -> np.ndarray:
    """``n`` hourly bucket starts as naive-UTC ``datetime64[s]``."""
    base = np.datetime64(start.replace(tzinfo=None), "s")
    return base + np.arange(n) * np.timedelta64(3600, "s")


def seasonal_counts(days: int, seed: int = 0, level: float = 40.0) -> np.ndarray:
    """Poisson counts with a daily cycle (busy afternoons, quiet nights)."""
    hours = np.arange(days * 24)
    rate = level * (1.0 + 0.6 * np.sin(2 * np.pi * (hours % 24 - 9) / 24))
    return np.random.default_rng(seed).poisson(rate).astype(float)


def hours_after(n: int, start: datetime = T0) -> datetime:
    return start + timedelta(hours=n)


@pytest.fixture(scope="session", autouse=True)
def stumpy_ready() -> None:
    """STUMPY's kernels compiled (or loaded from NUMBA_CACHE_DIR) once per test session."""
    from pipelines.detect.matrix_profile import warm_up

    warm_up()
