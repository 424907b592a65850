"""The engine's fast path: the rules of repair.py with per-word work done once per word.

Ingredient texts repeat the same few thousand words; everything about a word that does not
depend on its neighbours (its lookup key, whether it is known, its out-of-context fix) is
computed once and cached per language. Only the context checks (split gaps, addresses) run per
occurrence, and only for the rare words that could be edited. The results are those of
``repair.find_edits`` (a test compares the two on the sample and on a 100k-row dump).
"""

from __future__ import annotations

from offbatch.engines.spellcheck.repair import (
    COMPOUND_LANGUAGES,
    TOKEN,
    Edit,
    _Token,
    in_address,
    join_edit,
    token_fix,
)
from offbatch.engines.spellcheck.vocabulary import WORD, Vocabulary, lookup_key

# Cached words per language before the cache is emptied (bounds memory on garbage-heavy data).
MAX_CACHED_WORDS = 300_000

# Per token: (is a pure-letter word, is an unknown piece for a join, its fix or None).
_WordInfo = tuple[bool, bool, tuple[str, str] | None]


class FastRepairer:
    def __init__(self, vocabulary: Vocabulary, *, fix_typos: bool) -> None:
        self._vocabulary = vocabulary
        self._fix_typos = fix_typos
        self._words: dict[str, _WordInfo] = {}
        self._compounds = vocabulary.lang in COMPOUND_LANGUAGES

    def _info(self, word: str) -> _WordInfo:
        if len(self._words) >= MAX_CACHED_WORDS:
            self._words.clear()
        vocabulary = self._vocabulary
        fix = token_fix(word, vocabulary, fix_typos=self._fix_typos)
        if WORD.fullmatch(word) is None:
            info = (False, False, fix)
        else:
            key = lookup_key(word)
            info = (True, len(key) == 1 or not vocabulary.is_known(key), fix)
        self._words[word] = info
        return info

    def edits(self, text: str) -> list[Edit]:
        words = self._words
        matches = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(text)]
        infos = [words.get(w) or self._info(w) for _, _, w in matches]
        edits: list[Edit] = []
        n = len(matches)
        i = 0
        while i < n:
            is_word, unknown, fix = infos[i]
            if is_word and i + 1 < n:
                next_is_word, next_unknown = infos[i + 1][0], infos[i + 1][1]
                # join_edit refuses unless a piece is unknown (or, in compound languages, the
                # gap has a hyphen); check that first, it is cached or cheap.
                (s1, e1, w1), (s2, e2, w2) = matches[i], matches[i + 1]
                if next_is_word and (unknown or next_unknown or (self._compounds and "-" in text[e1:s2])):
                    joined = join_edit(text, _Token(s1, e1, w1, True), _Token(s2, e2, w2, True),
                                       self._vocabulary)
                    if joined is not None:
                        edits.append(joined)
                        i += 2
                        continue
            if fix is not None:
                start, end, _ = matches[i]
                if not in_address(text, start, end):
                    edits.append(Edit(start, end, fix[0], fix[1]))
            i += 1
        return edits
