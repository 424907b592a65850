"""The engine's fast path: the rules of repair.py with per-word work done once per word.

Ingredient texts repeat the same few thousand words; everything about a word that does not
depend on its neighbours (its lookup key, whether it is known, its out-of-context fix) is
computed once and cached per language. Only the context checks (split gaps, addresses) run per
occurrence, and only for the rare words that could be edited. The results are those of
``repair.find_edits`` (a test compares the two on the sample and on a 100k-row dump).
"""

from __future__ import annotations

import re
from itertools import accumulate

from offbatch.engines.spellcheck.repair import (
    TOKEN,
    Edit,
    in_address,
    join_fix,
    token_fix,
)
from offbatch.engines.spellcheck.vocabulary import WORD, Vocabulary, lookup_key

_SPLIT = re.compile(r"(\w+)")
_SPACED_HYPHEN = re.compile(r"\s[-\u2010\u2011]|[-\u2010\u2011]\s")
# Cached words per language before the cache is emptied (bounds memory on garbage-heavy data).
MAX_CACHED_WORDS = 300_000

# Per token: (is a pure-letter word, is an unknown piece for a join, its fix or None).
_WordInfo = tuple[bool, bool, tuple[str, str] | None]


class FastRepairer:
    def __init__(self, vocabulary: Vocabulary, *, fix_typos: bool) -> None:
        self._vocabulary = vocabulary
        self._fix_typos = fix_typos
        self._words: dict[str, _WordInfo] = {}
        # Tokens that can take part in no edit: no fix of their own, and (being known words or
        # not words at all) never a piece a join needs. A text made only of these is unchanged
        # if it has no spaced hyphen (those join known pieces too: "vine - gar", "Weizen - mehl").
        self._inert: set[str] = set()
        self._joins: dict[tuple[str, str, str], tuple[str, str] | None] = {}

    def _info(self, word: str) -> _WordInfo:
        if len(self._words) >= MAX_CACHED_WORDS:
            self._words.clear()
            self._inert.clear()
        vocabulary = self._vocabulary
        fix = token_fix(word, vocabulary, fix_typos=self._fix_typos)
        if WORD.fullmatch(word) is None:
            info = (False, False, fix)
        else:
            key = lookup_key(word)
            info = (True, len(key) == 1 or not vocabulary.is_known(key), fix)
        self._words[word] = info
        if fix is None and not info[1]:
            self._inert.add(word)
        return info

    def _join(self, first: str, gap: str, second: str) -> tuple[str, str] | None:
        key = (first, gap, second)
        if key in self._joins:
            return self._joins[key]
        if len(self._joins) >= MAX_CACHED_WORDS:
            self._joins.clear()
        fix = self._joins[key] = join_fix(first, gap, second, self._vocabulary)
        return fix

    def edits(self, text: str) -> list[Edit]:
        inert = self._inert
        # Most texts hold only inert tokens: one regex pass and one set operation, both in C.
        if inert.issuperset(TOKEN.findall(text)) and _SPACED_HYPHEN.search(text) is None:
            return []
        # [gap, token, gap, token, ..., gap], split in C; offsets only where an edit is made.
        parts = _SPLIT.split(text)
        tokens = parts[1::2]
        n = len(tokens)
        # Only a non-inert token can change or be part of a join, as the piece on its left or
        # its right, and only a spaced hyphen joins two known pieces: the other positions are
        # skipped, with the same result as visiting them.
        live = [k for k, w in enumerate(tokens) if w not in inert]
        visit = {p for k in live for p in (k - 1, k) if p >= 0}
        if "-" in text or "\u2010" in text or "\u2011" in text:
            # parts[2 * k + 2] is the gap after token k; a bare "-" is a compound, never joined.
            visit.update(k for k, gap in enumerate(parts[2:-1:2])
                         if len(gap) > 1 and ("-" in gap or "\u2010" in gap or "\u2011" in gap))
        positions = sorted(visit)
        words = self._words
        found: list[tuple[int, int, str, str]] = []  # (first token, last token, replacement, kind)
        free = 0  # the first token not consumed by a join
        for i in positions:
            if i < free:
                continue
            w1 = tokens[i]
            is_word, unknown, fix = words.get(w1) or self._info(w1)
            if is_word and i + 1 < n:
                w2 = tokens[i + 1]
                next_is_word, next_unknown, _ = words.get(w2) or self._info(w2)
                gap = parts[2 * i + 2]
                # join_fix refuses unless a piece is unknown or the gap has a hyphen; check that
                # first, it is cached or cheap.
                if next_is_word and (unknown or next_unknown or "-" in gap or "\u2010" in gap
                                     or "\u2011" in gap):
                    joined = self._join(w1, gap, w2)
                    if joined is not None:
                        found.append((i, i + 1, joined[0], joined[1]))
                        free = i + 2  # a joined piece never starts another join
                        continue
            if fix is not None:
                found.append((i, i, fix[0], fix[1]))
            free = i + 1
        if not found:
            return []
        offsets = list(accumulate(map(len, parts)))  # offsets[j]: where part j + 1 starts
        edits = []
        for first, last, replacement, kind in found:
            start, end = offsets[2 * first], offsets[2 * last + 1]
            if first == last and in_address(text, start, end):
                continue
            edits.append(Edit(start, end, replacement, kind))
        return edits
