"""OCR-style noise for clean ingredient texts, to build evaluation sets with known answers.

Noise is drawn from what OCR and hurried typing do to printed lists, not from what the engine's
rules can undo: accents dropped on any word (also where the bare form is a word too), letters
confused in shapes OCR mixes up (``rn``/``m``, ``cl``/``d``, ``e``/``c``...) or dropped, doubled,
swapped, words split at any inner position by `` - ``, ``- `` or a space (also where both
halves are words), separators lost or replaced, stray capitals inside a word, and all of these
on short words and on Capitalised or UPPERCASE words too. Many of these cannot be undone
safely; they are in the set so that recall is measured against everything, not only the fixable.
"""

from __future__ import annotations

import random
import re
import unicodedata

# Pairs OCR engines confuse on printed labels, both directions used.
_CONFUSIONS = (("rn", "m"), ("cl", "d"), ("e", "c"), ("i", "l"), ("o", "a"), ("u", "v"),
               ("n", "u"), ("h", "b"), ("t", "f"), ("ri", "n"), ("vv", "w"), ("a", "e"))
_WORD = re.compile(r"[^\W\d_]+")
_SEPARATOR = re.compile(r", (?=[^\W\d_])")
# HTML the export leaves in some texts (<span class="allergen">): markup, never OCR'd text.
_MARKUP = re.compile(r"<[^<>]*>")

KINDS = ("accent", "letters", "short-word", "capitals", "split", "separator", "case")
# Roughly the share of each kind among the misses of a real benchmark (see docs/engines.md).
WEIGHTS = (18, 30, 8, 5, 13, 23, 3)


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _letters(rng: random.Random, word: str) -> str | None:
    lower = word.lower()
    options = []
    for a, b in _CONFUSIONS:
        for source, target in ((a, b), (b, a)):
            start = lower.find(source)
            if start >= 0:
                options.append((start, len(source), target))
    op = rng.random()
    if options and op < 0.5:
        start, length, target = rng.choice(options)
        if word[start:start + length].isupper():
            target = target.upper()
        return word[:start] + target + word[start + length:]
    i = rng.randrange(len(word))
    if op < 0.7:  # drop a letter
        return word[:i] + word[i + 1:] if len(word) > 3 else None
    if op < 0.85 and i + 1 < len(word) and word[i] != word[i + 1]:  # swap two letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i] + word[i:]  # double a letter


def _split(rng: random.Random, word: str) -> str | None:
    if len(word) < 5:
        return None
    at = rng.randrange(2, len(word) - 1)
    gap = rng.choice((" - ", " - ", "- ", " "))
    return word[:at] + gap + word[at:]


def _case(rng: random.Random, word: str) -> str | None:
    if not word.islower() or len(word) < 4:
        return None
    i = rng.randrange(1, len(word))
    return word[:i] + word[i].upper() + word[i + 1:]


def _word_noise(rng: random.Random, kind: str, word: str) -> str | None:
    if kind == "accent":
        bare = _strip_accents(word)
        return bare if bare != word else None
    if kind == "short-word":
        if len(word) > 3:
            return None
        bare = _strip_accents(word)
        return bare if bare != word else _letters(rng, word)
    if kind == "capitals":
        if len(word) < 4 or not (word.isupper() or word.istitle()):
            return None
        return _letters(rng, word)
    if kind == "letters":
        return _letters(rng, word) if len(word) >= 4 else None
    if kind == "split":
        return _split(rng, word)
    if kind == "case":
        return _case(rng, word)
    raise ValueError(kind)


def add_noise(text: str, rng: random.Random, *, edits: int) -> tuple[str, list[str]]:
    """``text`` with up to ``edits`` non-overlapping noise edits; returns it and their kinds."""
    markup = {i for m in _MARKUP.finditer(text) for i in range(m.start(), m.end())}
    words = [(m.start(), m.end()) for m in _WORD.finditer(text) if m.start() not in markup]
    separators = [(m.start(), m.end()) for m in _SEPARATOR.finditer(text)]
    changes: list[tuple[int, int, str, str]] = []
    used: set[int] = set()
    for _ in range(edits * 10):
        if len(changes) >= edits:
            break
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == "separator":
            if not separators:
                continue
            start, end = rng.choice(separators)
            replacement = rng.choice((" ", " ", ". ", "; ", " . "))
        else:
            if not words:
                continue
            start, end = rng.choice(words)
            replacement = _word_noise(rng, kind, text[start:end])
        if replacement is None or replacement == text[start:end]:
            continue
        if any(i in used for i in range(start - 1, end + 1)):
            continue
        used.update(range(start, end))
        changes.append((start, end, replacement, kind))
    noisy = text
    for start, end, replacement, _ in sorted(changes, reverse=True):
        noisy = noisy[:start] + replacement + noisy[end:]
    return noisy, [kind for *_, kind in changes]
