"""The engine's fast path: the rules of repair.py with per-word work done once per word.

Ingredient texts repeat the same few thousand words; everything about a word that does not
depend on its neighbours (its lookup key, whether it is known, its out-of-context fix) is
computed once and cached per language. Only the context checks (split gaps, addresses) run per
occurrence, and only for the rare words that could be edited. A new unknown word's typo
candidates are found by ``TypoSearch`` (one set operation against the word's bucket, then,
once the language has many new words, against all its known words) rather than by looking up
every string at edit distance 1 one by one. The results are those of
``repair.find_edits`` (tests compare the two on the sample, the evaluation texts and noised
words; bench/engine_throughput.py on every row of its shapes).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from itertools import accumulate, compress

from offbatch.engines.spellcheck.repair import (
    Edit,
    edits1,
    gap_kind,
    in_address,
    join_fix,
    token_fix,
)
from offbatch.engines.spellcheck.vocabulary import WORD, Vocabulary, lookup_key

_SPLIT = re.compile(r"(\w+)")
_SPACED_HYPHEN = re.compile(r"\s[-\u2010\u2011]|[-\u2010\u2011]\s")
# Cached words per language before the cache is emptied (bounds memory on garbage-heavy data).
MAX_CACHED_WORDS = 300_000
_MINUS_ONE = -1

# Per token: (is a pure-letter word, is an unknown piece for a join, its fix or None).
_WordInfo = tuple[bool, bool, tuple[str, str] | None]


def _edits_between(key: str, contexts: dict[str, str], first: int, last: int) -> list[str]:
    """The strings of ``repair.edits1(key, alphabet)`` made at positions ``first``..``last``
    (an insertion before ``key[i]``, or a replacement, deletion or swap of ``key[i]``), with
    repeats and ``key`` itself, that can be known words: an inserted or replaced letter only
    where ``contexts`` (``Vocabulary.letter_contexts``) has found it between the same two
    neighbours in a known word. Every known word one insertion or replacement away has that
    letter there, so none is lost; about a third of the alphabet is left to try.
    """
    padded = f"^{key}$"
    get = contexts.get
    n = len(key)
    inserts = [(key[:i], key[i:], get(padded[i : i + 2], "")) for i in range(first, min(last, n) + 1)]
    # f-strings: one allocation per edit, not two (~30% faster than left + c + right).
    edits = [f"{left}{c}{right}" for left, right, letters in inserts for c in letters]
    replaces = [(key[:i], key[i + 1 :], get(padded[i] + padded[i + 2], "")) for i in range(first, min(last + 1, n))]
    edits += [f"{left}{c}{right}" for left, right, letters in replaces for c in letters]
    edits += [left + right for left, right, _ in replaces]  # deletes
    edits += [key[:i] + key[i + 1] + key[i] + key[i + 2 :] for i in range(first, min(last + 1, n - 1))]  # swaps
    return edits


def known_within_1(key: str, vocabulary: Vocabulary) -> list[str]:
    """The words of ``vocabulary.known_of(edits1(key, alphabet))``, in another order.

    Edits after the first two letters keep ``key``'s bucket: they are matched against it in
    one set operation; only the edits of the first two letters are looked up one by one (so
    only the buckets those can be words of are loaded).
    """
    if len(key) < 2:
        return vocabulary.known_of(edits1(key, vocabulary.alphabet))
    contexts = vocabulary.letter_contexts
    same_bucket = set(_edits_between(key, contexts, 2, len(key)))
    same_bucket.discard(key)
    head_edits = set(_edits_between(key, contexts, 0, 1))
    head_edits.discard(key)
    return [*vocabulary.known_in_bucket(key[:2], same_bucket), *vocabulary.known_of(head_edits - same_bucket)]


def _longest_known_prefix(key: str, words: list[str]) -> int:
    """The length of the longest start of ``key`` that starts a word of ``words`` (sorted)."""
    low, high = 0, len(key)
    while low < high:
        middle = (low + high + 1) // 2
        prefix = key[:middle]
        i = bisect_left(words, prefix)
        if i < len(words) and words[i].startswith(prefix):
            low = middle
        else:
            high = middle - 1
    return low


# A language's known words are gathered into one set (``Vocabulary.known_words``) once it has
# done one typo search by bucket lookups (``known_within_1``) per this many bytes of its compiled
# buckets: gathering costs about as much as ~200 such searches in English (850 kB: 0.04 s) or
# ~300 in German (1.5 MB: 0.13 s), so small jobs never pay for it. No result depends on it.
BYTES_PER_SEARCH_BEFORE_KNOWN_SET = 5000


class TypoSearch:
    """The fast path's typo candidate finder (a ``repair.CandidateFinder``) for one vocabulary:
    every known word one edit away, as ``repair.typo_candidates`` finds them.

    A language's first searches use ``known_within_1`` (lookups in the buckets the edits fall
    in, each loaded on first use); after ``known_set_after`` searches (by default one per
    ``BYTES_PER_SEARCH_BEFORE_KNOWN_SET`` bytes of compiled buckets), the known words are
    gathered into one set and one sorted list (``Vocabulary.known_words``). Then a search
    finds how far ``key``'s start is the start of a known word (a few ``bisect`` calls on the
    list): a known word one edit away keeps ``key`` up to the edit, so only edits at or
    before that position are made, and they are intersected with the set at once. With the
    letter contexts, that is ~1/4 of the strings of ``edits1``.
    """

    def __init__(self, vocabulary: Vocabulary, *, known_set_after: int | None = None) -> None:
        self._vocabulary = vocabulary
        if known_set_after is None:
            known_set_after = vocabulary.compressed_size // BYTES_PER_SEARCH_BEFORE_KNOWN_SET
        self._searches_left = known_set_after
        # (known words, the same sorted), set in one assignment: a thread never sees one
        # without the other.
        self._gathered: tuple[frozenset[str], list[str]] | None = None

    def __call__(self, key: str, vocabulary: Vocabulary) -> list[str]:
        gathered = self._gathered
        if vocabulary is not self._vocabulary:
            pass  # another vocabulary than the one gathered: searched in its buckets
        elif gathered is not None:
            known, words = gathered
            last = _longest_known_prefix(key, words)
            edits = _edits_between(key, vocabulary.letter_contexts, 0, last)
            return [word for word in known.intersection(edits) if word != key]
        else:
            self._searches_left -= 1
            if self._searches_left <= 0:
                self._gathered = (vocabulary.known_words(), vocabulary.sorted_known_words())
        return known_within_1(key, vocabulary)


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
        self._joinable_gaps: dict[str, bool] = {}  # gap -> whether a split word can have it
        self._search = TypoSearch(vocabulary)

    def _info(self, word: str) -> _WordInfo:
        if len(self._words) >= MAX_CACHED_WORDS:
            self._words.clear()
            self._inert.clear()
        vocabulary = self._vocabulary
        fix = token_fix(word, vocabulary, fix_typos=self._fix_typos, candidates_of=self._search)
        if WORD.fullmatch(word) is None:
            info = (False, False, fix)
        else:
            key = lookup_key(word)
            info = (True, len(key) == 1 or not vocabulary.is_known(key), fix)
        self._words[word] = info
        if fix is None and not info[1]:
            self._inert.add(word)
        return info

    def _joinable(self, gap: str) -> bool:
        if len(self._joinable_gaps) >= MAX_CACHED_WORDS:
            self._joinable_gaps.clear()
        can_join = self._joinable_gaps[gap] = gap_kind(gap) is not None
        return can_join

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
        # [gap, token, gap, token, ..., gap], split in C; offsets only where an edit is made.
        # One pass serves both cases: most texts hold only inert tokens (answered by one set
        # operation, in C), and the others need the gaps (a findall first, then a split for
        # those, costs more than the split alone: 16 + 21 against 21 us for a 320-character text).
        parts = _SPLIT.split(text)
        tokens = parts[1::2]
        # A hyphen first, by C string searches (~1.2 against ~5 us for the regex alone on a
        # 320-character text; 70% of shape C's texts have none).
        spaced_hyphen = (("-" in text or "\u2010" in text or "\u2011" in text)
                         and _SPACED_HYPHEN.search(text) is not None)
        if not spaced_hyphen and inert.issuperset(tokens):
            return []
        n = len(tokens)
        # Only a non-inert token can change or be part of a join, as the piece on its left or
        # its right, and only a spaced hyphen joins two known pieces: the other positions are
        # skipped, with the same result as visiting them. The positions of the non-inert tokens
        # are found in C (no Python loop over every token), with the position before each (-1
        # is skipped below: it is < free).
        live = list(compress(range(n), map(set(tokens).difference(inert).__contains__, tokens)))
        visit = set(live).union(map(_MINUS_ONE.__add__, live))
        if spaced_hyphen:
            # parts[2 * k + 2] is the gap after token k; a bare "-" is a compound, never joined.
            visit.update(k for k, gap in enumerate(parts[2:-1:2])
                         if len(gap) > 1 and ("-" in gap or "\u2010" in gap or "\u2011" in gap))
        positions = sorted(visit)
        words = self._words
        joinable = self._joinable_gaps
        found: list[tuple[int, int, str, str]] = []  # (first token, last token, replacement, kind)
        free = 0  # the first token not consumed by a join
        for i in positions:
            if i < free:
                continue
            w1 = tokens[i]
            is_word, unknown, fix = words.get(w1) or self._info(w1)
            if is_word and i + 1 < n:
                gap = parts[2 * i + 2]
                can_join = joinable.get(gap)
                if can_join is None:
                    can_join = self._joinable(gap)
                # join_fix refuses unless the gap is a split's (most are ", " or "'": the next
                # token is not even looked at) and a piece is unknown or the gap has a hyphen;
                # check that first, it is cached or cheap.
                if can_join:
                    w2 = tokens[i + 1]
                    next_is_word, next_unknown, _ = words.get(w2) or self._info(w2)
                    if next_is_word and (unknown or next_unknown or "-" in gap
                                         or "\u2010" in gap or "\u2011" in gap):
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
