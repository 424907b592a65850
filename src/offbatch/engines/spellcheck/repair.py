"""The text repairs: find conservative edits in one ingredient text and apply them.

This is the reference implementation: plain, one token at a time. The engine runs a faster
path with the same results (engines/cpu.py; a test compares them). Kinds of edit, each checked
against the vocabulary of the text's language (docs/engines.md has the full rules):

- ``hyphen-split``: ``léci - thine`` -> ``lécithine`` (a hyphen with whitespace beside it, as
  OCR leaves at line ends). Joined when the joined word is a join target (or, in German and
  Dutch, a compound of two join targets; or a known word of 6+ letters) and at least one piece
  is unknown on its own; or, with both pieces known, when the joined word is a food word
  (``vine - gar``) or, in German and Dutch, ``Weizen - mehl`` (a capitalised piece, then a
  lowercase one).
- ``space-split``: ``émul sifiant`` -> ``émulsifiant``. Stricter: both pieces unknown, or one
  unknown and either the joined word a food word (``oni on`` -> ``onion``) or the unknown piece
  a fragment of 3+ letters (``lentill es``; not the stray letter of ``extrait e``).
- ``case``: ``suGar`` -> ``sugar``: one stray capital (not the first letter; the second only in
  a food word, ``gLuten``) inside a lowercase word that is a join target.
- ``accent``: ``creme`` -> ``crème``: an unknown word of 4+ letters whose only known accented
  form is a join target; never an accent on a capital letter (``Epices``, ``CELERI`` stay).
- ``typo``: one word of at least 4 letters (3 for a common food word one misread letter or
  swap away: ``Eua`` -> ``Eau``), unknown in its language and not a frequent word of another
  supported language. Candidates are the known words at edit distance 1 (``typo_candidates``)
  and, failing those, one two-letter OCR confusion away (``skirn`` -> ``skim``). One is chosen
  only when it is the single acceptable one (``typo_target``: a trusted food word; from 5
  letters a frequent word reached by a likely slip; never a rare word), preferring an undone
  doubled letter, then the one common food word, then the one trusted food word, then the one
  frequent word reached by a likely slip (``gvar`` -> ``guar``). Capitalised and UPPERCASE words are looked up
  case-folded and the result re-cased. Off with ``fix_typos=False``.

A word marked as an allergen (``_gulten_``) is fixed inside its marks. An edit only removes the
gap of a split word or swaps one word: everything else (punctuation, ``_`` marks, numbers,
E-numbers, spacing) is copied byte for byte.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from offbatch.engines.spellcheck.vocabulary import JOIN_TARGET as JOIN_TARGET_FLAG
from offbatch.engines.spellcheck.vocabulary import TRUSTED as TRUSTED_FLAG
from offbatch.engines.spellcheck.vocabulary import WORD, Vocabulary, lookup_key

HYPHEN_SPLIT = "hyphen-split"
SPACE_SPLIT = "space-split"
CASE = "case"
ACCENT = "accent"
TYPO = "typo"
EDIT_KINDS = (HYPHEN_SPLIT, SPACE_SPLIT, CASE, ACCENT, TYPO)

MIN_JOINED_LENGTH = 5
MIN_FRAGMENT = 3
# A known word this long joined across a spaced hyphen need not be frequent ("natriumbicarbonaat").
MIN_RARE_JOIN_LENGTH = 6
MIN_CASE_LENGTH = 4
MIN_ACCENT_LENGTH = 4
MIN_TYPO_LENGTH = 4
# 3-letter words: only to a common food word, by a similar-shape letter or a swap ("Eua").
MIN_SHORT_TYPO_LENGTH = 3
# Longer runs are glued words or garbage; candidates would cost O(length * alphabet).
MAX_TYPO_LENGTH = 30
# From this length a typo may go to any frequent word of its language, not only a food word
# (by a likely slip), and a unique trusted food word wins among several candidates.
MIN_GENERAL_TYPO_LENGTH = 5
# From this length, the one frequent word a likely slip reaches wins among several candidates.
MIN_LIKELY_CHOICE_LENGTH = 5
# Letters of similar shape that OCR reads one for the other (unordered pairs).
SIMILAR_LETTERS = frozenset(frozenset(pair) for pair in (
    "ec", "il", "oa", "uv", "nu", "hb", "tf", "ae", "oc", "lt", "ij", "rn", "ou", "eo"))
_SIMILAR_TO = {letter: "".join(sorted(other for pair in SIMILAR_LETTERS if letter in pair for other in pair - {letter}))
               for letter in sorted(set().union(*SIMILAR_LETTERS))}
# Two-letter shapes OCR reads as one letter, and the reverse.
OCR_CONFUSIONS = (("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("ri", "n"), ("n", "ri"),
                  ("vv", "w"), ("w", "vv"))
# Languages whose words are glued into compounds ("Weizenmehl" = "Weizen" + "mehl").
COMPOUND_LANGUAGES = frozenset({"de", "nl"})
MIN_COMPOUND_PART = 4

# Any \w run is a token; only pure-letter tokens (WORD) are ever edited, so digits, E-numbers
# ("E322", "e-162" is "e" + "162") and underscore-marked allergens ("_lait_") stay as they are.
TOKEN = re.compile(r"\w+")
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
    for match in TOKEN.finditer(text):
        word = match.group()
        yield _Token(match.start(), match.end(), word, WORD.fullmatch(word) is not None)


def gap_kind(gap: str) -> str | None:
    if _SPACE_GAP.fullmatch(gap):
        return SPACE_SPLIT
    # A hyphen with no whitespace is a compound ("Soja-Protein", "extra-vierge"): left alone.
    if _HYPHEN_GAP.fullmatch(gap) and len(gap) > 1:
        return HYPHEN_SPLIT
    return None


def _case_compatible(first: str, second: str) -> bool:
    # "Léci - thine" and "LÉCI - THINE" are split words; "Sucre - Gingembre" is a list.
    return second.islower() or (first.isupper() and second.isupper())


def is_compound(key: str, vocabulary: Vocabulary) -> bool:
    """``key`` is two join targets of >= 4 letters glued, with or without a linking "s"."""
    if vocabulary.lang not in COMPOUND_LANGUAGES:
        return False
    for i in range(MIN_COMPOUND_PART, len(key) - MIN_COMPOUND_PART + 1):
        if vocabulary.is_join_target(key[:i]):
            rest = key[i:]
            if vocabulary.is_join_target(rest):
                return True
            if rest[0] == "s" and len(rest) > MIN_COMPOUND_PART and vocabulary.is_join_target(rest[1:]):
                return True
    return False


def _is_unknown_piece(key: str, vocabulary: Vocabulary) -> bool:
    return len(key) == 1 or not vocabulary.is_known(key)


def join_fix(first: str, gap: str, second: str, vocabulary: Vocabulary) -> tuple[str, str] | None:
    """(joined word, kind) when ``first`` + ``gap`` + ``second`` is one word split by OCR;
    both pieces are pure-letter words. Depends on nothing else, so it may be cached."""
    kind = gap_kind(gap)
    if kind is None or not _case_compatible(first, second):
        return None
    a, b = lookup_key(first), lookup_key(second)
    joined = a + b
    if len(joined) < MIN_JOINED_LENGTH:
        return None
    unknown_a = _is_unknown_piece(a, vocabulary)
    unknown_b = _is_unknown_piece(b, vocabulary)
    if not vocabulary.is_join_target(joined) and not (kind == HYPHEN_SPLIT and (
            is_compound(joined, vocabulary)
            # A spaced hyphen is strong evidence: a rare known word will do if a piece is unknown.
            or (len(joined) >= MIN_RARE_JOIN_LENGTH and (unknown_a or unknown_b) and vocabulary.is_known(joined)))):
        return None
    # A food word (a trusted target: seed, or counted in ingredient texts and in the dictionary)
    # is what the lists are made of: "vine - gar", "oni on" are split, "porte - feuille" and
    # "extrait e" are not.
    food = vocabulary.is_trusted_target(joined)
    if kind == HYPHEN_SPLIT:
        # German and Dutch nouns are glued: "Weizen - mehl" (a capitalised noun, then a spaced
        # hyphen and a lowercase piece) is a split compound even though both pieces are words.
        glued = vocabulary.lang in COMPOUND_LANGUAGES and not first.islower() and second.islower()
        plausible = unknown_a or unknown_b or glued or food
    else:
        # One unknown piece: into a food word, or into any join target when the unknown piece
        # is a fragment of 3+ letters ("lentill es"), not a stray letter ("extrait e").
        fragment = (unknown_a and len(a) >= MIN_FRAGMENT) or (unknown_b and len(b) >= MIN_FRAGMENT)
        plausible = (unknown_a and unknown_b) or ((unknown_a or unknown_b) and (food or fragment))
    return (first + second, kind) if plausible else None


def join_edit(text: str, first: _Token, second: _Token, vocabulary: Vocabulary) -> Edit | None:
    if not (first.is_word and second.is_word):
        return None
    fix = join_fix(first.text, text[first.end : second.start], second.text, vocabulary)
    return None if fix is None else Edit(first.start, second.end, fix[0], fix[1])


def in_address(text: str, start: int, end: int) -> bool:
    """URLs, e-mails and domain names ("www.example.com") are not ingredient words."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    after_next = text[end + 1] if end + 1 < len(text) else ""
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


def recase(target: str, like: str) -> str:
    """``target`` in the case of ``like``: UPPER, Capitalised or as is."""
    if like.isupper() and len(like) > 1:
        return target.upper()
    if like[0].isupper():
        return target[0].upper() + target[1:]
    return target


def word_fix(word: str, vocabulary: Vocabulary, *, fix_typos: bool,
             candidates_of: CandidateFinder | None = None) -> tuple[str, str] | None:
    """The (replacement, kind) for one pure-letter word out of context, or None.

    Depends only on the word and the vocabulary, so the engine may cache it per word.
    ``candidates_of`` finds a typo's candidates (default ``typo_candidates``; the fast path
    passes a faster search with the same results).
    """
    key = lookup_key(word)
    lower, upper, title = word.islower(), word.isupper(), word.istitle()
    if not (lower or upper or title):
        # One stray capital inside a lowercase word ("suGar"). Names are mixed case on purpose
        # ("McCain", "iPhone", "pH"): a capital first letter is never touched, a second one
        # only in a food word.
        capitals = [i for i, c in enumerate(word) if c.isupper()]
        if (len(word) >= MIN_CASE_LENGTH and len(capitals) == 1 and key == word.lower()
                and vocabulary.is_join_target(key)
                and (capitals[0] >= 2 or (capitals[0] == 1 and vocabulary.is_trusted_target(key)))):
            return key, CASE
        return None
    if vocabulary.flags(key) or is_compound(key, vocabulary):
        return None  # known, or frequent in another language, or a compound of known parts
    # Capitals often go without accents in French and Spanish print ("CELERI", "Epices"): an
    # accent is never put on a capital letter. Short words are left alone ("cle": "clé" or a
    # misread "de").
    accented = None if upper or len(key) < MIN_ACCENT_LENGTH else vocabulary.accent_target(key)
    if accented is not None:
        fixed = recase(accented, word)
        if not _accents_a_capital(word, fixed):
            return fixed, ACCENT
    if not fix_typos or key != word.lower() or len(key) > MAX_TYPO_LENGTH:
        return None
    if len(key) < MIN_TYPO_LENGTH:
        choice = short_typo_target(key, vocabulary) if len(key) >= MIN_SHORT_TYPO_LENGTH else None
    else:
        choice = typo_target(key, vocabulary, candidates_of=candidates_of or typo_candidates)
    if choice is None:
        return None
    fixed = recase(choice, word)
    return None if _accents_a_capital(word, fixed) else (fixed, TYPO)


def typo_candidates(key: str, vocabulary: Vocabulary) -> list[str]:
    """The known words at Damerau-Levenshtein distance 1 from ``key`` (an unknown word).

    The one place typo candidates are generated: a faster search may replace it, as long as it
    returns the same words (their order does not matter)."""
    return vocabulary.known_of(edits1(key, vocabulary.alphabet))


def ocr_candidates(key: str, vocabulary: Vocabulary) -> list[str]:
    """The known words one OCR confusion of two letters away (``rn``/``m``, ``cl``/``d``,
    ``ri``/``n``, ``vv``/``w``, both ways): distance 2 for plain edit distance."""
    variants = set()
    for source, target in OCR_CONFUSIONS:
        start = key.find(source)
        while start >= 0:
            variants.add(key[:start] + target + key[start + len(source) :])
            start = key.find(source, start + 1)
    variants.discard(key)
    return vocabulary.known_of(sorted(variants))


# ``typo_candidates`` or a faster function returning the same words (fast.TypoSearch).
CandidateFinder = Callable[[str, Vocabulary], list[str]]


def typo_target(key: str, vocabulary: Vocabulary, *,
                candidates_of: CandidateFinder = typo_candidates) -> str | None:
    """The word an unknown ``key`` is a typo of, or None when in doubt (see the module doc)."""
    candidates = candidates_of(key, vocabulary)
    choice = _choose(key, candidates, vocabulary)
    if choice is None:
        # Two-letter OCR confusions only when no frequent word is one plain edit away, or
        # when they give the one food word ("skirn": "skim", not "skin" or "skirt").
        ocr = [c for c in ocr_candidates(key, vocabulary) if _is_target(key, c, vocabulary, ocr=True)]
        if len(ocr) == 1 and (not any(vocabulary.is_join_target(c) for c in candidates) or (
                vocabulary.is_common(ocr[0]) and not any(vocabulary.is_common(c) for c in candidates))):
            choice = ocr[0]
    if choice is None or _is_inflection(key, choice) or _is_spelling_variant(key, choice):
        return None
    return choice


def short_typo_target(key: str, vocabulary: Vocabulary) -> str | None:
    """A 3-letter unknown word with a letter misread or two swapped ("Eua": "Eau", "saa":
    "sea"), when exactly one common food word is such a reading of it."""
    # Only these few readings can qualify: generated directly, not filtered out of edits1.
    variants = {key[:i] + key[i + 1] + key[i] + key[i + 2 :] for i in range(len(key) - 1)}
    variants.update(key[:i] + other + key[i + 1 :] for i, letter in enumerate(key)
                    for other in _SIMILAR_TO.get(letter, ""))
    variants.discard(key)
    readings = [c for c in vocabulary.known_of(sorted(variants)) if vocabulary.is_common(c)]
    return readings[0] if len(readings) == 1 else None


def _is_target(key: str, candidate: str, vocabulary: Vocabulary, *, ocr: bool = False) -> bool:
    """``candidate`` may replace ``key``: a trusted food word, or (for a word long enough that
    a unique neighbour is rarely chance) any frequent word of the language reached by a likely
    slip; ``ocr``: ``candidate`` is a two-letter OCR confusion away, a likely slip itself."""
    flags = vocabulary.flags(candidate)
    if flags & TRUSTED_FLAG:
        return True
    if not flags & JOIN_TARGET_FLAG:
        # Never a rare word: it is as often a variant ("Saccharin" is no typo of "Sacharin").
        return False
    if _drops_a_repeated_letter(key, candidate):
        return True  # "ddes" -> "des"
    return len(key) >= MIN_GENERAL_TYPO_LENGTH and (ocr or _is_likely_slip(key, candidate))


def _is_likely_slip(key: str, candidate: str) -> bool:
    """``key`` -> ``candidate`` undoes a slip print and OCR make: a letter dropped or added, two
    swapped, a two-letter OCR confusion, or a letter read as one of similar shape ("e"/"c").
    Any other substitution ("oolong" -> "oblong") is left to food words."""
    if len(key) == len(candidate) + 1:
        # A letter added: a doubled one ("sullfur"), rarely another ("Escallion" is no typo).
        return _drops_a_repeated_letter(key, candidate)
    if len(key) != len(candidate):
        return True
    diffs = [i for i, (a, b) in enumerate(zip(key, candidate, strict=True)) if a != b]
    if len(diffs) == 1:
        i = diffs[0]
        return frozenset((key[i], candidate[i])) in SIMILAR_LETTERS
    return True  # a transposition, or a same-length two-letter OCR confusion ("ri" -> "m"?)


def _choose(key: str, candidates: list[str], vocabulary: Vocabulary) -> str | None:
    if len(candidates) == 1:
        return candidates[0] if _is_target(key, candidates[0], vocabulary) else None
    if not candidates:
        return None
    # Several known words are one edit away ("selt": "salt", "set", "sell"): only a word of
    # the ingredient lists themselves, and only if it is the one such candidate.
    common = [c for c in candidates if vocabulary.is_common(c)]
    # A doubled letter is the commonest slip ("emulsifierr": "emulsifier", not "emulsifiers"),
    # unless a food word is another reading ("whaat": "wheat", not "what").
    undoubled = [c for c in candidates if _drops_a_repeated_letter(key, c)]
    if (len(undoubled) == 1 and _is_target(key, undoubled[0], vocabulary)
            and (not common or undoubled[0] in common)):
        return undoubled[0]
    if len(common) == 1:
        return common[0]
    if not common:
        trusted = [c for c in candidates if vocabulary.is_trusted_target(c)]
        if len(trusted) == 1 and len(key) >= MIN_GENERAL_TYPO_LENGTH:
            return trusted[0]
    if not common and len(key) >= MIN_LIKELY_CHOICE_LENGTH:
        # Only one frequent word is reached by a slip print and OCR make ("gvar": "guar" by
        # u/v, not "gear", "gar" or "var").
        likely = [c for c in candidates if vocabulary.is_join_target(c) and _is_likely_slip(key, c)]
        if len(likely) == 1:
            return likely[0]
    return None


def _drops_a_repeated_letter(key: str, candidate: str) -> bool:
    if len(candidate) != len(key) - 1:
        return False
    return any(key[i] == key[i + 1] and key[:i] + key[i + 1 :] == candidate for i in range(len(key) - 1))


def _accents_a_capital(word: str, fixed: str) -> bool:
    """``fixed`` puts an accent on a capital of ``word`` ("Epices" -> "Épices")."""
    return any(
        a != b and a.isupper() and unicodedata.normalize("NFD", b)[0] == a
        for a, b in zip(word, fixed, strict=False)
    )


# Unknown plurals and feminine forms of known words are words, not typos ("humectants",
# "sésames"): an edit that only adds or drops one of these endings is refused.
_INFLECTION_ENDINGS = ("s", "x", "e")
# Regional spellings one edit apart ("flavoured"/"flavored", "caramelise"/"caramelize",
# "centre"/"center", "travelled"/"traveled") are both right: refused when the pair is equal
# after this rewrite.
_VARIANT_REWRITES = (("our", "or"), ("ise", "ize"), ("isa", "iza"), ("yse", "yze"),
                     ("tre", "ter"), ("lled", "led"), ("lling", "ling"), ("ller", "ler"),
                     ("ae", "e"), ("oe", "e"))


def _is_inflection(word: str, candidate: str) -> bool:
    longer, shorter = (word, candidate) if len(word) > len(candidate) else (candidate, word)
    if longer[:-1] != shorter or longer[-1] not in _INFLECTION_ENDINGS:
        return False
    # "vegetablee" doubles the last letter: a slip, not a feminine form or a plural.
    return not (word == longer and word[-1] == word[-2])


def _is_spelling_variant(word: str, candidate: str) -> bool:
    def rewrite(w: str) -> str:
        for old, new in _VARIANT_REWRITES:
            w = w.replace(old, new)
        return w

    return rewrite(word) == rewrite(candidate)


def token_fix(token: str, vocabulary: Vocabulary, *, fix_typos: bool,
              candidates_of: CandidateFinder | None = None) -> tuple[str, str] | None:
    """``word_fix`` for a token: a pure-letter word, or one marked as an allergen with
    underscores (``_gulten_`` -> ``_gluten_``: the word is fixed, the marks are kept)."""
    if WORD.fullmatch(token):
        return word_fix(token, vocabulary, fix_typos=fix_typos, candidates_of=candidates_of)
    inner = token.strip("_")
    if inner == token or not WORD.fullmatch(inner):
        return None
    fix = word_fix(inner, vocabulary, fix_typos=fix_typos, candidates_of=candidates_of)
    if fix is None:
        return None
    start = token.index(inner)
    return token[:start] + fix[0] + token[start + len(inner) :], fix[1]


def find_edits(text: str, vocabulary: Vocabulary, *, fix_typos: bool = True) -> list[Edit]:
    """The edits for ``text``, sorted and non-overlapping."""
    edits: list[Edit] = []
    tokens = list(_tokens(text))
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens):
            joined = join_edit(text, tokens[i], tokens[i + 1], vocabulary)
            if joined is not None:
                edits.append(joined)
                i += 2  # a joined piece never starts another join: no three-way guesses
                continue
        token = tokens[i]
        if not in_address(text, token.start, token.end):
            fix = token_fix(token.text, vocabulary, fix_typos=fix_typos)
            if fix is not None:
                edits.append(Edit(token.start, token.end, fix[0], fix[1]))
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
