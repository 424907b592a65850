"""The text repairs: find conservative edits in one ingredient text and apply them.

Three kinds of edit, each checked against the vocabulary of the text's language:

- ``hyphen-split``: ``léci - thine`` -> ``lécithine`` (a hyphen with whitespace beside it, as
  OCR leaves at line ends). Joined only when the joined word is a join target and at least one
  piece is unknown on its own (a lone letter counts as unknown).
- ``space-split``: ``émul sifiant`` -> ``émulsifiant`` (a stray space or line break inside a
  word). Stricter: *both* pieces must be unknown, since two unknown neighbours are rare in a
  clean list while "known + unknown" is often a word followed by a rare one.
- ``typo``: one lowercase word of at least 5 letters, unknown in its language and not a frequent
  word of another supported language, with exactly one known word at edit distance 1, which is
  a trusted target. Off with ``fix_typos=False``.

An edit only removes the gap of a split word or swaps one word: everything else (case,
punctuation, ``_allergen_`` markers, numbers, E-numbers, spacing) is copied byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from offbatch.engines.spellcheck.vocabulary import WORD, Vocabulary, lookup_key

HYPHEN_SPLIT = "hyphen-split"
SPACE_SPLIT = "space-split"
TYPO = "typo"
EDIT_KINDS = (HYPHEN_SPLIT, SPACE_SPLIT, TYPO)

MIN_JOINED_LENGTH = 5
MIN_TYPO_LENGTH = 5
# Longer runs are glued words or garbage; candidates would cost O(length * alphabet).
MAX_TYPO_LENGTH = 30

# Any \w run is a token; only pure-letter tokens (WORD) are ever edited, so digits, E-numbers
# ("E322", "e-162" is "e" + "162") and underscore-marked allergens ("_lait_") stay as they are.
_TOKEN = re.compile(r"\w+")
# A hyphen split: one hyphen (ASCII, Unicode hyphen, non-breaking hyphen) with horizontal
# whitespace and at most one line break around it; the whitespace is checked separately.
_HYPHEN_GAP = re.compile(r"[^\S\n]*\n?[^\S\n]*[-\u2010\u2011][^\S\n]*\n?[^\S\n]*")
_SPACE_GAP = re.compile(r"[^\S\n]|\n|\r\n")
_ADDRESS_CHARS = "@/\\:"


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` by ``replacement``; ``kind`` is one of EDIT_KINDS."""

    start: int
    end: int
    replacement: str
    kind: str


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str
    is_word: bool


def _tokens(text: str) -> Iterator[_Token]:
    for match in _TOKEN.finditer(text):
        word = match.group()
        yield _Token(match.start(), match.end(), word, WORD.fullmatch(word) is not None)


def _gap_kind(gap: str) -> str | None:
    if _SPACE_GAP.fullmatch(gap):
        return SPACE_SPLIT
    # A hyphen with no whitespace is a compound ("Soja-Protein", "extra-vierge"): left alone.
    if _HYPHEN_GAP.fullmatch(gap) and len(gap) > 1:
        return HYPHEN_SPLIT
    return None


def _case_compatible(first: str, second: str) -> bool:
    # "Léci - thine" and "LÉCI - THINE" are split words; "Sucre - Gingembre" is a list.
    return second.islower() or (first.isupper() and second.isupper())


def _is_unknown_piece(key: str, vocabulary: Vocabulary) -> bool:
    return len(key) == 1 or not vocabulary.is_known(key)


def _join_edit(text: str, first: _Token, second: _Token, vocabulary: Vocabulary) -> Edit | None:
    if not (first.is_word and second.is_word):
        return None
    kind = _gap_kind(text[first.end : second.start])
    if kind is None or not _case_compatible(first.text, second.text):
        return None
    a, b = lookup_key(first.text), lookup_key(second.text)
    joined = a + b
    if len(joined) < MIN_JOINED_LENGTH or not vocabulary.is_join_target(joined):
        return None
    unknown_a = _is_unknown_piece(a, vocabulary)
    unknown_b = _is_unknown_piece(b, vocabulary)
    plausible = (unknown_a or unknown_b) if kind == HYPHEN_SPLIT else (unknown_a and unknown_b)
    if not plausible:
        return None
    return Edit(first.start, second.end, first.text + second.text, kind)


def _in_address(text: str, token: _Token) -> bool:
    """URLs, e-mails and domain names ("www.example.com") are not ingredient words."""
    before = text[token.start - 1] if token.start > 0 else ""
    after = text[token.end] if token.end < len(text) else ""
    after_next = text[token.end + 1] if token.end + 1 < len(text) else ""
    return (
        (before != "" and (before in _ADDRESS_CHARS or before == "."))
        or (after != "" and after in _ADDRESS_CHARS and after_next.isalnum())
        or (after == "." and after_next.isalnum())
    )


def edits1(word: str, alphabet: str) -> set[str]:
    """Every string at Damerau-Levenshtein distance 1 (delete, transpose, replace, insert)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {left + right[1:] for left, right in splits if right}
    transposes = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    replaces = {left + c + right[1:] for left, right in splits if right for c in alphabet}
    inserts = {left + c + right for left, right in splits for c in alphabet}
    return (deletes | transposes | replaces | inserts) - {word}


def _typo_edit(
    text: str, token: _Token, vocabulary: Vocabulary, is_foreign: Callable[[str], bool]
) -> Edit | None:
    word = token.text
    # Lowercase only: capitalised tokens are often brands or names, uppercase ones allergens.
    if not token.is_word or not MIN_TYPO_LENGTH <= len(word) <= MAX_TYPO_LENGTH:
        return None
    if not word.islower():
        return None
    if lookup_key(word) != word or vocabulary.is_known(word) or is_foreign(word):
        return None
    if _in_address(text, token):
        return None
    candidates = [c for c in edits1(word, vocabulary.alphabet) if vocabulary.is_known(c)]
    if len(candidates) != 1 or not vocabulary.is_trusted_target(candidates[0]):
        return None
    if _is_inflection(word, candidates[0]) or _is_spelling_variant(word, candidates[0]):
        return None
    return Edit(token.start, token.end, candidates[0], TYPO)


# Unknown plurals and feminine forms of known words are words, not typos ("humectants",
# "sésames"): an edit that only adds or drops one of these endings is refused.
_INFLECTION_ENDINGS = ("s", "x", "e")
# Regional spellings one edit apart ("flavoured"/"flavored", "caramelise"/"caramelize",
# "centre"/"center", "travelled"/"traveled") are both right: refused when the pair is equal
# after this rewrite.
_VARIANT_REWRITES = (("our", "or"), ("ise", "ize"), ("isa", "iza"), ("yse", "yze"),
                     ("tre", "ter"), ("ll", "l"), ("ae", "e"), ("oe", "e"))


def _is_inflection(word: str, candidate: str) -> bool:
    longer, shorter = (word, candidate) if len(word) > len(candidate) else (candidate, word)
    return longer[:-1] == shorter and longer[-1] in _INFLECTION_ENDINGS


def _is_spelling_variant(word: str, candidate: str) -> bool:
    def rewrite(w: str) -> str:
        for old, new in _VARIANT_REWRITES:
            w = w.replace(old, new)
        return w

    return rewrite(word) == rewrite(candidate)


def find_edits(
    text: str,
    vocabulary: Vocabulary,
    *,
    is_foreign: Callable[[str], bool] | None = None,
) -> list[Edit]:
    """The edits for ``text``, sorted and non-overlapping. ``is_foreign`` enables typo fixes."""
    edits: list[Edit] = []
    tokens = list(_tokens(text))
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens):
            joined = _join_edit(text, tokens[i], tokens[i + 1], vocabulary)
            if joined is not None:
                edits.append(joined)
                i += 2  # a joined piece never starts another join: no three-way guesses
                continue
        if is_foreign is not None:
            typo = _typo_edit(text, tokens[i], vocabulary, is_foreign)
            if typo is not None:
                edits.append(typo)
        i += 1
    return edits


def apply_edits(text: str, edits: list[Edit]) -> str:
    parts: list[str] = []
    position = 0
    for edit in edits:
        parts.append(text[position : edit.start])
        parts.append(edit.replacement)
        position = edit.end
    parts.append(text[position:])
    return "".join(parts)
