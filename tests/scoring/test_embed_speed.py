"""The int8-compute MiniLM (issue 14 speed work): built offline and deterministically,
vectors that depend on the text alone (not on its batch, not on the memo), close to the
float32 model's, and a damaged derived file named in the error."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipelines.scoring.embed import REMEMBER, EmbedderError, MiniLMEmbedder, _model_path, quantized_model
from tests.scoring.conftest import TEXTS

ROOT = Path(__file__).resolve().parents[2]
EXTRA = ["", "🔥🔥🔥", "<b>flood</b> &amp; rain", "الفيضانات في المدينة", "word " * 8000]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def quantized(cpu_scorer) -> MiniLMEmbedder:
    emb = cpu_scorer.fx.embedder
    assert emb.quantized and emb.model_id.endswith("-dq8pc")  # the scorer's default
    return emb


def test_vector_depends_on_the_text_alone(quantized: MiniLMEmbedder) -> None:
    texts = TEXTS + EXTRA
    quantized.forget()
    together = quantized.embed(texts)
    quantized.forget()
    alone = np.vstack([quantized.embed([t]) for t in texts])
    quantized.forget()
    reversed_ = quantized.embed(texts[::-1])[::-1]
    remembered = quantized.embed(texts)  # every text now comes from the memo
    assert np.array_equal(together, alone) and np.array_equal(together, reversed_)
    assert np.array_equal(together, remembered)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    dup = quantized.embed([TEXTS[0], TEXTS[1], TEXTS[0]])
    assert np.array_equal(dup[0], dup[2]) and not np.array_equal(dup[0], dup[1])


def test_memo_is_bounded(quantized: MiniLMEmbedder) -> None:
    quantized.forget()
    quantized.embed([f"post number {i}" for i in range(20)])
    assert len(quantized._memo) == 20
    quantized._memo.update({f"x{i}": np.zeros(384, np.float32) for i in range(REMEMBER)})
    quantized.embed(["one more text"])
    assert len(quantized._memo) == REMEMBER and "one more text" in quantized._memo
    quantized.forget()
    assert not quantized._memo


def test_close_to_the_float32_model(quantized: MiniLMEmbedder) -> None:
    f32 = MiniLMEmbedder(threads=1, quantized=False)
    assert f32.model_id == "all-MiniLM-L6-v2-onnx-int8"
    cos = (quantized.embed(TEXTS) * f32.embed(TEXTS)).sum(axis=1)
    assert cos.min() > 0.95, cos  # measured 0.97-1.00 on 640 tweets; quality: eval-scorer


def test_build_is_deterministic_and_cached(tmp_path: Path, quantized: MiniLMEmbedder) -> None:
    src, _ = _model_path()
    a = quantized_model(src, tmp_path / "a")
    b = quantized_model(src, tmp_path / "b")
    assert a.name == b.name and "dq8pc" in a.name and _sha(a) == _sha(b)
    mtime = a.stat().st_mtime_ns
    assert quantized_model(src, tmp_path / "a") == a and a.stat().st_mtime_ns == mtime  # reused
    assert not [p for p in (tmp_path / "a").iterdir() if p != a]  # no temporary left behind


def test_damaged_derived_model_is_named(tmp_path: Path, quantized: MiniLMEmbedder) -> None:
    src, _ = _model_path()
    built = quantized_model(src, tmp_path)
    built.write_bytes(b"not an onnx file")
    with pytest.raises(EmbedderError, match=f"cannot load the MiniLM model {built}.*delete it to rebuild"):
        MiniLMEmbedder(threads=1, cache_dir=tmp_path)


def test_built_and_run_with_no_network(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import socket
        def refuse(*a, **k):
            raise RuntimeError("network touched")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from pathlib import Path
        from pipelines.scoring.embed import MiniLMEmbedder
        emb = MiniLMEmbedder(threads=1, cache_dir=Path({str(tmp_path)!r}))
        print(emb.model_id, emb.embed(["flood in town"]).shape)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "dq8pc (1, 384)" in out.stdout
    assert list(tmp_path.glob("minilm-*-dq8pc-*.onnx"))


def test_scores_do_not_depend_on_the_batch(cpu_scorer) -> None:
    texts = TEXTS + EXTRA
    cpu_scorer.fx.embedder.forget()
    together = cpu_scorer.score_texts(texts)
    cpu_scorer.fx.embedder.forget()
    alone = [cpu_scorer.score_texts([t])[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        da, db = a.model_dump(), b.model_dump()
        nums = ("sentiment", "threat", "hate", "toxicity")
        # the vectors are identical; the heads' float32 products round differently by batch shape
        assert {k: da[k] for k in nums} == pytest.approx({k: db[k] for k in nums}, abs=1e-6)
        assert {k: v for k, v in da.items() if k not in nums} == {
            k: v for k, v in db.items() if k not in nums
        }
