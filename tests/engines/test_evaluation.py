"""The evaluation: the token metric, the noise, the dev/test sets and `offbatch eval`."""

from __future__ import annotations

import random

import pytest

from offbatch.cli import main
from offbatch.engines.evaluation import dataset
from offbatch.engines.evaluation.metric import (
    ACCENT,
    CASE,
    SEPARATOR,
    SHORT_WORD,
    SPLIT,
    WORD,
    align,
    score_text,
    tokenize,
)
from offbatch.engines.evaluation.noise import add_noise


def test_an_unchanged_prediction_has_no_recall_and_no_wrong_change():
    score = score_text("sucre, sel", "sucre, sel", "sucre, sel").total
    assert (score.predicted, score.reference) == (0, 0)
    score = score_text("sucer, sel", "sucre, sel", "sucer, sel").total
    assert (score.precision, score.recall, score.reference) == (1.0, 0.0, 1)


def test_the_exact_fix_scores_one_and_a_partial_fix_scores_zero():
    exact = score_text("léci - thine, sucer", "lécithine, sucre", "lécithine, sucre").total
    assert (exact.precision, exact.recall) == (1.0, 1.0)
    assert exact.reference == 3 + 1  # the join weighs its three source tokens
    partial = score_text("léci - thine", "lécithine", "léci thine").total
    assert (partial.precision, partial.recall) == (0.0, 0.0)


def test_a_change_the_reference_does_not_have_costs_precision_only():
    score = score_text("sucre, farine", "sucre, farine", "sucre, farines")
    assert (score.total.precision, score.total.recall) == (0.0, 0.0)
    assert score.total.predicted == 1 and score.total.reference == 0


@pytest.mark.parametrize(
    ("source", "reference", "kind"),
    [
        ("sucre sel", "sucre, sel", SEPARATOR),
        ("sucre. sel", "sucre, sel", SEPARATOR),
        ("léci - thine", "lécithine", SPLIT),
        ("SUCRE", "sucre", CASE),
        ("creme", "crème", ACCENT),
        ("dc", "de", SHORT_WORD),
        ("sucer", "sucre", WORD),
    ],
)
def test_edits_get_their_kind_from_their_two_sides(source, reference, kind):
    [edit] = align(tokenize(source), tokenize(reference))
    assert edit.kind == kind


def test_noise_is_reproducible_and_never_returns_the_text_unchanged():
    text = "Farine de blé, sucre, beurre, œufs, sel, levure, lécithine de tournesol."
    first = add_noise(text, random.Random(1), edits=3)
    assert first == add_noise(text, random.Random(1), edits=3)
    for seed in range(50):
        noisy, kinds = add_noise(text, random.Random(seed), edits=2)
        assert 1 <= len(kinds) <= 2 and noisy != text


def test_frozen_test_split_is_disjoint_from_dev_and_has_clean_texts_and_languages():
    test = dataset.load("test")
    dev = dataset.load("dev")
    assert {i.reference for i in test}.isdisjoint({i.reference for i in dev})
    assert sum(1 for i in test if not i.noise) >= 50
    assert {"en", "fr", "de"} <= {i.lang for i in test}
    assert len({i.id for i in test}) == len(test)


def test_eval_command_prints_the_tables(capsys):
    assert main(["eval", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "| **all** |" in out and "| separator |" in out and "on the test split" in out


def test_eval_command_rejects_an_unknown_engine(capsys):
    assert main(["eval", "--engine", "nope"]) == 2
    assert "error: unknown engine 'nope'" in capsys.readouterr().err


def test_the_hold_out_script_scores_each_dev_item_in_the_half_its_text_was_not_counted_in():
    # scripts/eval_holdout.py counts the texts whose half differs from the item's: the item's
    # half (from its id) must be its text's half (from the text), on every dev item.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "eval_holdout.py"
    spec = importlib.util.spec_from_file_location("eval_holdout", path)
    holdout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(holdout)
    texts = {text for _, text in dataset.sample_texts()}
    checked = 0
    for item in dataset.load("dev"):
        # The reference is the text with its REFERENCE_FIXES; the source of a clean item is the text.
        text = item.source if not item.noise else item.reference
        if text not in texts:
            continue
        assert holdout.half_of_item(item) == holdout.half_of_text(text), item.id
        checked += 1
    halves = {holdout.half_of_item(item) for item in dataset.load("dev")}
    assert checked > 100 and halves == {0, 1}
