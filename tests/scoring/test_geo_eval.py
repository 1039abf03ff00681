"""The place-extraction evaluation: matching rules, the annotated set, the command."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import load_commands
from pipelines.scoring.gazetteer_eval import GoldTweet, load_gold, norm, score


def _tweet(text: str, *places: tuple[str, str]) -> GoldTweet:
    gold = tuple((frozenset(norm(n) for n in name.split("/")), cc) for name, cc in places)
    return GoldTweet("1", "ev", "test", text, gold)


def test_matching_counts_hits_misses_and_false_places() -> None:
    tweets = [
        _tweet("a", ("New York City/New York", "US"), ("Bogota", "CO")),
        _tweet("b", ("Calgary", "CA")),
        _tweet("c"),
    ]
    answers = {
        "a": [("New York", "US"), ("Bogotá", "CO"), ("York", "GB")],  # accents ignored; York is false
        "b": [("Calgary", "US")],  # right name, wrong country: a false place and a miss
        "c": [],
    }
    res = score(tweets, lambda text: answers[text])
    assert (res.tp, res.fp, res.fn, res.tweets) == (2, 2, 1, 3)
    assert res.precision == 0.5 and round(res.recall, 4) == round(2 / 3, 4)
    assert [w for w, _ in res.false_pos] == ["York|GB", "Calgary|US"]
    assert [w for w, _ in res.missed] == ["calgary|CA"]


def test_a_gold_place_is_matched_once() -> None:
    res = score([_tweet("x", ("Manila", "PH"))], lambda _t: [("Manila", "PH"), ("Manila", "PH")])
    assert (res.tp, res.fp, res.fn) == (1, 1, 0)


def test_annotated_set_loads_with_texts(shared_dir: Path) -> None:
    gold = load_gold(shared_dir / "data")
    assert len(gold) == 360 and len({t.event for t in gold}) == 18
    assert {t.split for t in gold} == {"tune", "test"}
    assert all(t.text for t in gold)
    assert sum(len(t.places) for t in gold) > 300


def test_eval_places_command(shared_dir: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(load_commands(), ["eval-places", "--data-dir", str(shared_dir / "data")])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["split", "tweets", "gold", "pred", "P", "R", "F1"]
    assert [ln.split()[0] for ln in lines[1:4]] == ["tune", "test", "all"]
    assert lines[3].split()[1] == "360"


def test_eval_places_bad_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(load_commands(), ["eval-places", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2
    assert "CrisisLexT26 file not found" in res.output and str(tmp_path) in res.output
