"""OllamaScorer over real HTTP: the real ``ollama`` client against the loopback stand-in."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from pipelines.core.scores import DEFAULT_TOPICS
from pipelines.scoring import PostText
from pipelines.scoring.llm import OllamaConfig, OllamaScorer
from tests.scoring.conftest import TEXTS
from tests.scoring.ollama_standin import OllamaStandIn

POSTS = [PostText(f"t:{i}", t) for i, t in enumerate(TEXTS[:5])]


def make(hosts: list[str], cpu_scorer=None, **kw) -> OllamaScorer:
    kw.setdefault("topics", DEFAULT_TOPICS)
    kw.setdefault("backoff_s", 0.01)
    return OllamaScorer(
        OllamaConfig(hosts=hosts, **kw), fallback=(lambda: cpu_scorer) if cpu_scorer else None
    )


def test_scores_through_the_real_client_with_a_schema(standin: OllamaStandIn, cpu_scorer) -> None:
    scorer = make([standin.url], batch_posts=2)
    try:
        outs = scorer.score(POSTS)
    finally:
        scorer.close()
    assert [o.post_id for o in outs] == [p.id for p in POSTS]
    assert all(o.ok and o.scores.model == "ollama:qwen2.5:7b-instruct" for o in outs)
    assert standin.requests["/api/chat"] == 3  # 5 posts, 2 per request
    fmt = standin.formats[0]
    item = fmt["properties"]["results"]["items"]
    assert item["properties"]["topics"]["items"]["enum"] == list(DEFAULT_TOPICS)
    assert fmt["properties"]["results"]["maxItems"] == 2 and "$ref" not in str(fmt)
    # the stand-in's answers are the CPU scorer's numbers, carried through JSON (padding differs: 1e-4)
    direct = cpu_scorer.score_texts([p.text for p in POSTS])
    for o, d in zip(outs, direct, strict=True):
        assert o.scores.sentiment == pytest.approx(d.sentiment, abs=1e-4)
        assert o.scores.toxicity == pytest.approx(d.toxicity, abs=1e-4)
        assert o.scores.rationale == "stand-in: computed by the CPU scorer"
    assert [p.name for p in outs[0].scores.places] == ["Calgary"]


def test_tags_and_embed_endpoints(standin: OllamaStandIn, cpu_scorer) -> None:
    scorer = make([standin.url])
    try:
        runner = asyncio.Runner()
        tags = runner.run(scorer.list_models())
        vecs = runner.run(scorer.embed(["flood in town", "a quiet day"], model="all-minilm"))
        runner.close()
    finally:
        scorer.close()
    assert tags == ["qwen2.5:7b-instruct"]
    assert np.array(vecs).shape == (2, 384)
    np.testing.assert_allclose(
        vecs, cpu_scorer.fx.embedder.embed(["flood in town", "a quiet day"]), atol=1e-6
    )


def test_round_robin_over_hosts(cpu_scorer) -> None:
    a, b = OllamaStandIn(cpu_scorer).up(), OllamaStandIn(cpu_scorer).up()
    scorer = make([a.url, b.url], batch_posts=1, concurrency=1)
    try:
        outs = scorer.score(POSTS[:4])
    finally:
        scorer.close()
        a.down()
        b.down()
    assert all(o.ok for o in outs)
    assert a.requests["/api/chat"] == 2 and b.requests["/api/chat"] == 2


def test_down_falls_back_to_cpu_and_comes_back(standin: OllamaStandIn, cpu_scorer) -> None:
    scorer = make([standin.url], cpu_scorer, breaker_threshold=1, breaker_reset_s=0.5, retries=1)
    try:
        assert scorer.score(POSTS[:1])[0].scores.model.startswith("ollama:")
        standin.down()
        outs = scorer.score(POSTS[:2])
        assert all(o.ok and o.scores.model.startswith("cpu:") for o in outs)
        assert scorer.breakers[standin.url].state == "open"
        standin.up()  # same port
        before = standin.requests["/api/chat"]
        assert scorer.score(POSTS[:1])[0].scores.model.startswith("cpu:")  # still open: no request
        assert standin.requests["/api/chat"] == before
        time.sleep(0.6)  # reset period over: a half-open probe goes through
        outs = scorer.score(POSTS[:2])
        assert all(o.scores.model.startswith("ollama:") for o in outs)
        assert scorer.breakers[standin.url].state == "closed"
    finally:
        scorer.close()


@pytest.mark.parametrize(
    ("mode", "reason"), [("malformed", "not JSON"), ("schema", "does not match the schema")]
)
def test_invalid_answers_are_retried_then_quarantined(
    standin: OllamaStandIn, cpu_scorer, mode, reason
) -> None:
    standin.mode = mode
    scorer = make([standin.url], cpu_scorer, retries=2, batch_posts=4)
    try:
        outs = scorer.score(POSTS[:2])
    finally:
        scorer.close()
    assert standin.requests["/api/chat"] == 3  # first try + 2 retries
    for o, p in zip(outs, POSTS[:2], strict=True):
        assert o.ok and o.scores.model.startswith("cpu:")  # the post still gets scores
        q = o.quarantine
        assert q["kind"] == "score" and reason in q["reason"] and q["raw"]["post_id"] == p.id
        assert q["raw"]["answer"]
    assert scorer.breakers[standin.url].state == "closed"  # it answered: not an outage


def test_invalid_answer_without_fallback_is_an_error(standin: OllamaStandIn) -> None:
    standin.mode = "malformed"
    scorer = make([standin.url], retries=0, invalid_fallback=False)
    try:
        (out,) = scorer.score(POSTS[:1])
    finally:
        scorer.close()
    assert not out.ok and "not JSON" in out.error and out.quarantine is not None


def test_slow_server_times_out(standin: OllamaStandIn, cpu_scorer) -> None:
    standin.delay_s = 2.0
    scorer = make([standin.url], cpu_scorer, timeout_s=0.3, retries=0, breaker_threshold=5)
    t0 = time.monotonic()
    try:
        (out,) = scorer.score(POSTS[:1])
    finally:
        scorer.close()
    assert time.monotonic() - t0 < 1.8  # the timeout cut the request, not the server's answer
    assert scorer.stats["timeouts"] == 1
    assert out.ok and out.scores.model.startswith("cpu:")


def test_missing_model_is_reported(standin: OllamaStandIn) -> None:
    scorer = make([standin.url], model="nope:1b", retries=0)
    try:
        (out,) = scorer.score(POSTS[:1])
    finally:
        scorer.close()
    assert not out.ok and "404" in out.error and "nope:1b" in out.error


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="OLLAMA_HOST"):
        OllamaScorer(OllamaConfig(hosts=[], topics=DEFAULT_TOPICS))


def test_prompt_v2_carries_the_threat_definition_and_answers_validate(standin: OllamaStandIn) -> None:
    from pipelines.scoring.llm import PROMPT_VERSION

    scorer = make([standin.url], batch_posts=4)
    try:
        outs = scorer.score(POSTS)
    finally:
        scorer.close()
    assert PROMPT_VERSION == "score_v2" and scorer.version.endswith("-score_v2")
    assert all(o.ok for o in outs)  # the stand-in validated every answer against the schema
    system = standin.systems[0]
    assert "THREAT means intent to harm a person or group" in system
    assert "Self-harm signals" in system and "Someone should put a bullet in that judge" in system
    assert "Allowed topics:" in system
