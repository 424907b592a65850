"""The fast path's typo searches (``known_within_1``, ``TypoSearch`` before and after it gathers the
known words into one set) never change a typo decision of the full search."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offbatch.engines.spellcheck.fast import TypoSearch, known_within_1
from offbatch.engines.spellcheck.repair import edits1, typo_target
from offbatch.engines.spellcheck.vocabulary import (
    DEFAULT_VOCABULARY_DIR,
    SUPPORTED_LANGUAGES,
    Vocabulary,
    load_vocabulary,
)

VOCABULARIES = {lang: load_vocabulary(lang, vocabulary_dir=DEFAULT_VOCABULARY_DIR) for lang in SUPPORTED_LANGUAGES}
# Letters outside every alphabet too: a replacement or insertion by one is not an edit1.
EXTRA_LETTERS = "qzßøłœ"


def _one_edit(rng: random.Random, word: str, letters: str) -> str:
    i = rng.randrange(len(word) + 1)
    op = rng.choice(("delete", "transpose", "replace", "insert"))
    if op == "delete" and i < len(word):
        return word[:i] + word[i + 1 :]
    if op == "transpose" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "replace" and i < len(word):
        return word[:i] + rng.choice(letters) + word[i + 1 :]
    return word[:i] + rng.choice(letters) + word[i:]


def _noised(rng: random.Random, vocabulary: Vocabulary, word: str) -> str:
    letters = vocabulary.alphabet + EXTRA_LETTERS
    for _ in range(rng.choice((1, 1, 1, 2))):
        word = _one_edit(rng, word, letters) or word
    return word


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_fast_candidates_give_the_full_search_s_answer_on_noised_words(lang):
    # Every typo target noised by one or two random edits (10 draws each), plus common words
    # of the general list noised the same way: the fast search and the full one always agree.
    vocabulary = VOCABULARIES[lang]
    rng = random.Random(lang)
    words = list(vocabulary.typo_targets) * 10
    words += [w for w in ("sugar", "zucker", "azúcar", "sucre", "zucchero", "suiker", "açúcar", "water",
                          "salt", "flour", "milk", "cream", "butter") if vocabulary.is_known(w)] * 20
    outcomes = Counter()
    for word in words:
        key = _noised(rng, vocabulary, word)
        expected = typo_target(key, vocabulary)
        assert typo_target(key, vocabulary, candidates_of=known_within_1) == expected, (lang, word, key)
        outcomes["corrected" if expected else "refused"] += 1
    # The comparison covers both answers, not only refusals.
    assert outcomes["corrected"] >= len(vocabulary.typo_targets) and outcomes["refused"] >= 10, outcomes


@given(data=st.data(), lang=st.sampled_from(SUPPORTED_LANGUAGES))
@settings(max_examples=200, deadline=None)
def test_known_within_1_is_the_known_words_among_edits1(data, lang):
    vocabulary = VOCABULARIES[lang]
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    word = data.draw(st.sampled_from(vocabulary.typo_targets + ("a", "ab", "abc", "eau", "sel", "zz")))
    key = _noised(rng, vocabulary, word) if data.draw(st.booleans()) else word
    expected = set(vocabulary.known_of(edits1(key, vocabulary.alphabet)))
    for found in (known_within_1(key, vocabulary), TypoSearch(vocabulary, known_set_after=0)(key, vocabulary)):
        assert len(found) == len(set(found))
        assert set(found) == expected


def _frequent_general_words(vocabulary: Vocabulary, count: int) -> list[str]:
    """Join targets that are not trusted food words (frequent words of the general list): rev 3
    corrects to these too, by a likely slip."""
    words = sorted(w for w in vocabulary.known_words()
                   if vocabulary.is_join_target(w) and not vocabulary.is_trusted_target(w) and len(w) >= 4)
    return random.Random(count).sample(words, count)


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_typo_search_gives_the_full_search_s_answer_on_noised_food_and_general_words(lang):
    # Typo targets and frequent general words, noised by one or two random edits: the engine's
    # search, from its first call (bucket lookups) through the switch to the one set of known
    # words, always gives typo_target the reference's answer.
    vocabulary = VOCABULARIES[lang]
    rng = random.Random(f"{lang}-search")
    words = list(vocabulary.typo_targets) * 3 + _frequent_general_words(vocabulary, 1500)
    rng.shuffle(words)
    search = TypoSearch(vocabulary, known_set_after=200)
    outcomes = Counter()
    for word in words:
        key = _noised(rng, vocabulary, word)
        expected = typo_target(key, vocabulary)
        assert typo_target(key, vocabulary, candidates_of=search) == expected, (lang, word, key)
        outcomes["general" if expected and not vocabulary.is_trusted_target(expected) else
                 "corrected" if expected else "refused"] += 1
    # Both answers are covered, and corrections to general words among them.
    assert min(outcomes["corrected"], outcomes["refused"], outcomes["general"]) >= 10, outcomes


def test_typo_search_gathers_the_known_words_only_after_its_searches_by_bucket(monkeypatch):
    vocabulary = load_vocabulary("en", vocabulary_dir=DEFAULT_VOCABULARY_DIR)
    gathered = []
    real = vocabulary.known_words
    monkeypatch.setattr(vocabulary, "known_words", lambda: gathered.append(1) or real())
    search = TypoSearch(vocabulary, known_set_after=3)
    for key in ("suger", "flour", "wheet"):
        assert set(search(key, vocabulary)) == set(vocabulary.known_of(edits1(key, vocabulary.alphabet)))
        assert len(gathered) == (key == "wheet")
    assert set(search("salr", vocabulary)) == set(vocabulary.known_of(edits1("salr", vocabulary.alphabet)))
    assert len(gathered) == 1
    # By default, a few hundred searches per language (more for the larger vocabularies).
    assert 100 <= TypoSearch(vocabulary)._searches_left <= TypoSearch(VOCABULARIES["de"])._searches_left <= 400


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_gathered_known_words_come_sorted_for_prefix_search(lang):
    # TypoSearch bisects this list to find how far a key starts a known word: it must be the
    # known words in sorted order (the compiler's bucket order gives it without a sort).
    vocabulary = load_vocabulary(lang, vocabulary_dir=DEFAULT_VOCABULARY_DIR)
    words = vocabulary.sorted_known_words()
    assert words == sorted(vocabulary.known_words())
    assert len(words) == len(vocabulary.known_words()) > 50_000


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_letter_contexts_hold_every_letter_a_known_word_has_between_two_neighbours(lang):
    # The search only inserts or replaces letters found between the same two neighbours in a
    # known word: checked against the known words themselves (a sample of them, and the letter
    # after the start and before the end).
    vocabulary = VOCABULARIES[lang]
    contexts, alphabet = vocabulary.letter_contexts, set(vocabulary.alphabet)
    for word in random.Random(lang).sample(vocabulary.sorted_known_words(), 5000):
        padded = f"^{word}$"
        for i in range(len(padded) - 2):
            letter = padded[i + 1]
            assert (letter in contexts.get(padded[i] + padded[i + 2], "")) == (letter in alphabet), (word, i)
