"""The fast path's typo searches (the target index, ``known_within_1``) never change a typo decision
of the full search."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offbatch.engines.spellcheck.fast import known_within_1
from offbatch.engines.spellcheck.repair import edits1, is_edit1, typo_target
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


@given(word=st.text(alphabet="abcdeéß", min_size=0, max_size=7), other=st.text(alphabet="abcdeéß", max_size=8),
       alphabet=st.sampled_from(("abcde", "abcdeé", "abcdeéß")))
@settings(max_examples=500, deadline=None)
def test_is_edit1_says_whether_a_string_is_among_edits1(word, other, alphabet):
    assert is_edit1(word, other, alphabet) == (other in edits1(word, alphabet))


@given(data=st.data(), lang=st.sampled_from(SUPPORTED_LANGUAGES))
@settings(max_examples=300, deadline=None)
def test_index_finds_every_target_one_edit_away(data, lang):
    vocabulary = VOCABULARIES[lang]
    target = data.draw(st.sampled_from(vocabulary.typo_targets))
    key = _noised(random.Random(data.draw(st.integers(0, 2**32))), vocabulary, target)
    near = vocabulary.typo_targets_near(key)
    within = {t for t in vocabulary.known_of(edits1(key, vocabulary.alphabet)) if t in vocabulary.typo_targets}
    assert within <= near


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
    found = known_within_1(key, vocabulary)
    assert len(found) == len(set(found))
    assert set(found) == set(vocabulary.known_of(edits1(key, vocabulary.alphabet)))
