"""What the sentiment head's ``layer4`` block costs: MiniLM embedding with and without it.

    python bench/embed_layer.py --posts 640 --rounds 2

Both variants run the same derived int8 model, one text per call, on the same tweets
(TweetEval offensive ``val``), alternating so that load changes on a shared machine hit both
alike; the memo is cleared before each run. Prints process CPU-ms per post (every thread) and
wall seconds. "without" is the session as it was before issue 14's sentiment work (only
``last_hidden_state`` requested and pooled); "with" is the shipped one (the layer-4 output
requested too, and pooled).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _before(emb: object, plain: object):
    """``MiniLMEmbedder._embed_batch`` as it was before: last layer only, one pooling."""

    def run(texts: list[str]) -> np.ndarray:
        enc = emb.tokenizer.encode_batch(texts)  # type: ignore[attr-defined]
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = plain.run(None, feed)[0]  # type: ignore[attr-defined]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return np.stack([pooled, pooled], axis=1)  # same shape as now; no second pooling

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=640)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="embedding runs at once (1: CPU time is clean)")
    args = ap.parse_args()
    import onnxruntime as ort

    from bench.score import _texts
    from pipelines.scoring.embed import MiniLMEmbedder, _model_path, quantized_model

    texts, src = _texts(args.posts)
    emb = MiniLMEmbedder(threads=args.threads)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    plain = ort.InferenceSession(
        str(quantized_model(_model_path()[0])), opts, providers=["CPUExecutionProvider"]
    )
    shipped = emb._embed_batch
    variants = {"without layer4": _before(emb, plain), "with layer4 (shipped)": shipped}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    wall: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, session in variants.items():
            emb._embed_batch = session  # type: ignore[method-assign]
            emb.forget()
            c0, w0 = time.process_time(), time.perf_counter()
            emb.embed_layers(texts)
            cpu[name].append(1000 * (time.process_time() - c0) / len(texts))
            wall[name].append(time.perf_counter() - w0)
    emb._embed_batch = shipped  # type: ignore[method-assign]
    print(f"{len(texts)} tweets ({src}), {args.rounds} alternating rounds, threads={args.threads}")
    for name in variants:
        runs = " / ".join(f"{c:.2f}" for c in cpu[name])
        print(f"  {name:24s} CPU-ms/post {runs}   wall s {' / '.join(f'{w:.1f}' for w in wall[name])}")


if __name__ == "__main__":
    main()
