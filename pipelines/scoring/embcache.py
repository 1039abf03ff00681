"""A disk cache of sentence embeddings keyed by text, for training and evaluation runs.

Embedding the ~60k labelled tweets takes minutes on two cores; ``train-heads`` and
``eval-scorer`` embed the same texts, so both read and extend one ``.npz`` file
(``.cache/vigil/embeddings-<model>.npz``, git-ignored). Scoring posts never uses it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipelines.core.config import REPO_ROOT

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "vigil"


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


class EmbeddingCache:
    """``texts -> vectors`` with a persistent map from sha1(text) to vector."""

    def __init__(self, path: Path, embed: Callable[[Sequence[str]], np.ndarray], dim: int = 384) -> None:
        self.path = path
        self._embed = embed
        self.dim = dim
        self._index: dict[str, int] = {}
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        if path.is_file():
            with np.load(path) as z:
                keys, self._vectors = z["keys"], z["vectors"].astype(np.float32)
            self._index = {str(k): i for i, k in enumerate(keys)}

    def get(self, texts: Sequence[str], chunk: int = 2000) -> np.ndarray:
        """Vectors for ``texts``, embedding (and saving, every ``chunk`` texts) the missing ones."""
        keys = [text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._index and k not in missing:
                missing[k] = t
        todo = list(missing.items())
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            vecs = self._embed([t for _, t in part]).astype(np.float32)
            base = len(self._vectors)
            self._vectors = np.concatenate([self._vectors, vecs])
            for j, (k, _) in enumerate(part):
                self._index[k] = base + j
            self.save()
            log.info("embedded %d/%d new texts", min(start + chunk, len(todo)), len(todo))
        return self._vectors[[self._index[k] for k in keys]] if keys else np.zeros((0, self.dim), np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.empty(len(self._index), dtype="<U40")
        for k, i in self._index.items():
            keys[i] = k
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=self._vectors)
        tmp.replace(self.path)
