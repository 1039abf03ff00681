"""Fixtures for the scoring tests: one CPU scorer per session, Ollama stand-ins per test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.core.post import build_post
from pipelines.scoring.cpu import CpuScorer
from tests.scoring.ollama_standin import OllamaStandIn


@pytest.fixture(scope="session")
def cpu_scorer() -> CpuScorer:
    """The real offline scorer with the committed heads (ONNX loaded once per session)."""
    return CpuScorer(threads=1)


@pytest.fixture()
def standin(cpu_scorer: CpuScorer) -> Iterator[OllamaStandIn]:
    s = OllamaStandIn(cpu_scorer).up()
    yield s
    s.down()


TEXTS = [
    "Massive flooding in Calgary this morning, residents evacuated from downtown #yycflood",
    "I love this new phone, the camera is amazing!",
    "The senate votes on the budget bill tomorrow",
    "You are a worthless idiot and everyone hates you",
    "I will find you and kill you, watch your back",
    "Great win for the team tonight, what a goal",
    "Terremoto de magnitud 7 sacude Costa Rica, hay daños en San José",
    "Earthquake felt in Manila Philippines, no damage reported yet",
]


def make_posts(n: int, source: str = "test", start: datetime | None = None) -> list[dict]:
    """``n`` valid post documents cycling through :data:`TEXTS`, spread over three hours."""
    start = start or datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    now = datetime.now(UTC)
    docs = []
    for i in range(n):
        p = build_post(
            source=source if i % 3 else source + "-b",
            native_id=f"n{i}",
            ts=start + timedelta(minutes=7 * i),
            text=f"{TEXTS[i % len(TEXTS)]} ({i})",
            now=now,
        )
        docs.append(p.to_doc())
    return docs
