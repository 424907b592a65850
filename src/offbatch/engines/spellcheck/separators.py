"""The separator stage: put back the commas an ingredient list lost or had misread.

It runs after the word edits (engines/cpu.py), on the word-fixed text, and only ever inserts a
comma or turns a ``.``/``;`` into one: words are never changed. Its knowledge is the list's
own structure and an *ingredient lexicon* per language (spellcheck/ingredients.py: segment ->
number of distinct texts, counted from real ingredient texts plus seed names).

Rules (docs/engines.md, "Separators", has what each never touches):

- ``misread-comma`` (always on): `` . ``, ``. `` or ``; `` between two items of a list -> ``, ``.
  Inside a comma-separated list (a comma before the previous item or after the next one, the
  other side a comma, the list's bracket, the text's start or end) the list's structure vouches
  for both items: the next is shaped like a name or an E-number, the previous ends in a word
  (not a connector or an abbreviation), a bracket, ``%``, ``*``, markup or an E-number/colour
  number. Elsewhere the lexicon must know them. Never before a heading (``pasta:``), a sentence
  (``May contain ...``), a number, a word whose case fits neither the list nor the item before,
  a product's next part with its own list (``. milk chocolate (sugar, ...)``); nor in a list
  that uses ``;`` or ``. `` itself, nor where a ``;`` or a capital closes a ``heading: ...`` part.
- ``lost-comma``: a segment that is not a known name but reads in exactly one way as the fewest
  (2 or 3) known names, cut only between words that end and start names and were never seen
  side by side inside one: ``sugar cocoa butter`` -> ``sugar, cocoa butter``. By default only
  between *frequent* names (each part in >= 5% as many texts as the lexicon's commonest name);
  with ``lost_commas=True`` between any known names, and also right after a closing bracket,
  percentage or markup (``(emulsifier) salt`` -> ``(emulsifier), salt``). The full rule is
  opt-in: the commas it adds are mostly right, but many are commas the sample's real lists
  lack too, which the evaluation counts as wrong (docs/engines.md).

Every rule refuses when in doubt: a wrong comma splits one ingredient into two.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import TypeVar

from offbatch.engines.spellcheck.ingredients import (
    MARKS,
    MAX_SEGMENT_WORDS,
    SEPARATOR_CHARS,
    Lexicon,
    segment_key,
)
from offbatch.engines.spellcheck.repair import Edit
from offbatch.engines.spellcheck.vocabulary import lookup_key

LOST_COMMA = "lost-comma"
MISREAD_COMMA = "misread-comma"

# A run the lost-comma rule may cut: words and single spaces only (no digits-with-%, markup...).
_CUTTABLE = re.compile(r"[\w'’\-&* \t]+")
_WORDS = re.compile(r"\S+")
# ". " then a lowercase word: how some lists separate their parts.
_SENTENCE_BREAK = re.compile(r"\. (?=[^\W\d_])")
# The word (or number) that ends just before a mark.
_LAST_WORD = re.compile(r"[\w'’\-]+$")
# The last word of letters before a mark, numbers and closing marks after it skipped.
_LAST_LETTERS = re.compile(r"([^\W\d_]{2,})[\W\d_]*$")
# A number that ends an item: an E-number (E450, e 330a) or a colour's (FD&C Blue 1, yellow 5).
_COLOUR_NUMBER = re.compile(r"(?:\b[Ee] ?\d{3,4}[a-z]?|[^\W\d_]{3,} \d{1,2})$")
_E_NUMBER = re.compile(r"[Ee] ?\d{3}")
# Characters that end a number-like item (not accepted without the list's structure).
_NUMERIC_END = frozenset("0123456789%")
# Around a misread mark inside a list: a comma on one side; on the other a comma, the list's
# own bracket (the mark between the first or last two items of a bracketed sub-list), the
# text's start or end, or a final "."; or a class heading's lone E-number before the mark
# (``poudre à lever : E450. bicarbonate, E503``).
_LIST_BEFORE = frozenset(",([")
_LIST_AFTER = frozenset(",)]")
_LONE_E_NUMBER = re.compile(r" *[Ee] ?\d{3,4}[a-z]? *")
# Separators and brackets, as the list-structure scans step over them (a "." only before a
# space or at the end: not the one of "0.5").
_STRUCTURE = re.compile(r"[,;:()\[\]{}]|\.(?= |$)")
_BRACKETS = re.compile(r"[()\[\]{}]")
# A share after an item's name (``raisins secs 13 %``), left out when judging its shape.
_PERCENT_TAIL = re.compile(r"\s*\d+(?:[.,]\d+)?\s*%\s*$")
# Right after a closing bracket, a word with no separator between them.
_AFTER_BRACKET = re.compile(r"(?:[)\]%*]|</\w+>)( +)(?=[^\W\d_])")

# A segment looked back at is at most this long (a name is far shorter; bounds the scans).
MAX_SEGMENT_CHARS = 200
# Words that start a sentence (allergen notes, origin, storage), not an ingredient.
SENTENCE_STARTS = frozenset({
    "may", "contain", "contains", "sweetened", "made", "produced", "manufactured", "packed", "packaged",
    "allergy", "allergen", "allergens", "store", "keep", "best", "for", "suitable", "not", "see",
    "including", "ingredients", "peut", "contient", "traces", "fabriqué", "fabriqués", "élaboré",
    "conditionné", "origine", "produit", "provenance", "pour", "sans", "voir", "conserver", "à",
    "dont", "ingrédients", "kann", "enthält", "spuren", "hergestellt", "verpackt", "ohne",
    "zutaten", "puede", "contiene", "trazas", "elaborado", "ingredientes", "può", "tracce",
    "prodotto", "ingredienti", "kan", "bevat", "sporen", "gemaakt", "ingrediënten", "pode",
    "contém"
})
# What follows a name that announces its own parts.
HEADS = frozenset(":([{")
# Words that join two ingredients or a name's parts: never next to a restored comma.
CONNECTORS = frozenset({
    "and", "&", "or", "with", "of", "from", "in", "as", "et", "ou", "avec", "de", "du", "des", "à",
    "au", "aux", "en", "und", "oder", "mit", "aus", "von", "y", "o", "con", "del", "e", "ed", "di",
    "della", "met", "van"
})
# Abbreviations that end with a period inside a name (``conc. orange juice``, ``vit. C``).
ABBREVIATIONS = frozenset({
    "conc", "vit", "approx", "aprox", "env", "ca", "incl", "min", "max", "st", "dr", "var", "sp",
    "spp", "ssp", "subsp", "no", "nr", "n°", "ex", "etc", "cf", "eg", "ie", "fl", "oz", "lb",
    "lbs", "g", "kg", "mg", "mcg", "ml", "cl", "l", "gr", "mat", "pct", "bzw", "ggf", "evtl",
    "zb", "inkl", "mind", "ua", "usw", "cc", "co", "inc", "ltd", "corp", "p", "pp"
})
# Cached segments and decisions per language before the cache is emptied.
MAX_CACHED = 300_000
T = TypeVar("T")


def _case_of(word: str) -> str:
    """"lower", "upper" (two capitals: ``SUGAR``) or "title" (``Sugar``, ``E``), from the first
    two characters."""
    if not word[:1].isupper():
        return "lower"
    return "upper" if word[1:2].isupper() else "title"


def _case_before(text: str, start: int) -> str | None:
    """How the last word before ``start`` is written (``BLUE 1;`` -> "upper")."""
    word = _LAST_LETTERS.search(text, max(0, start - 40), start)
    return _case_of(word.group(1)) if word else None


def _list_case(text: str) -> str | None:
    """How the words after ", " are written in this list (None: no clear habit)."""
    cases = [_case_of(part[:2]) for part in text.split(", ")[1:] if part[:1].isalpha()]
    if not cases:
        return None
    best = max(("lower", "title", "upper"), key=cases.count)
    return best if cases.count(best) * 3 >= len(cases) * 2 else None


class SeparatorRepairer:
    """Finds the separator edits of one language's texts; decisions about a segment are cached.

    ``lost_commas=False`` (the engine's default) restores lost commas between frequent names
    only; ``True`` runs the full lost-comma rule (see the module docstring and docs/engines.md).

    Thresholds are the rules' knobs (tuned on the dev split only, see docs/engines.md).
    """

    # A list: at least this many ", " in the text.
    MIN_LIST_COMMAS = 2
    # A name counts as a known ingredient from this many distinct texts.
    MIN_KNOWN = 1
    # A segment seen as one name in this many texts is never cut; seen in fewer (once: maybe a
    # list that lost its comma there too), it is cut only if each part is seen this often.
    MIN_BLOCKING = 2
    MIN_OVERRULING = 5
    # At most this many names read in one segment (two lost commas).
    MAX_PARTS = 3
    # A list with more ". word" than this uses periods between its parts: they stay.
    MAX_PERIODS = 2
    # A list with more ";" than this uses them between its parts: they stay.
    MAX_SEMICOLONS = 1
    # The word before a lost comma ends, and the word after starts, at least this share of the
    # known names holding it ("cheese powder": "powder" mostly ends names, no cut before it).
    MIN_END_SHARE = 0.5
    MIN_START_SHARE = 0.5
    # Without ``lost_commas`` a lost comma is still restored between frequent names only: each
    # part seen in at least this share of the texts the lexicon's commonest name is in (a share,
    # so that a lexicon counted from more texts asks for as much evidence), and in at least
    # MIN_FREQUENT texts. Seed names (2 texts) are never frequent: they only block cuts.
    FREQUENT_SHARE = 0.05
    MIN_FREQUENT = 3

    def __init__(self, lexicon: Lexicon, *, lost_commas: bool = True) -> None:
        self._lexicon = lexicon
        self._lost_commas = lost_commas
        top = max(lexicon.counts.values(), default=0)
        self._min_part = self.MIN_KNOWN if lost_commas else max(
            self.MIN_FREQUENT, math.ceil(top * self.FREQUENT_SHARE))
        self._cuts_possible = top >= self._min_part
        self._cuts: dict[str, tuple[int, ...]] = {}  # segment as written -> comma offsets
        # Segments (as split, spaces kept) that never take a comma: a text made of them only,
        # with no "." / ";" / bracket before a word, is answered without a Python loop.
        self._inert: set[str] = set()
        self._inert_items: set[str] = set()  # the same for ", "-separated items
        self._starts: dict[str, bool] = {}
        self._ends: dict[str, bool] = {}
        self._items: dict[str, bool] = {}

    def _known(self, key: str | None) -> bool:
        return self._lexicon.count(key) >= self.MIN_KNOWN

    def _cut(self, segment: str) -> tuple[int, ...]:
        """Where to put commas in ``segment`` (offsets into it; none: no change)."""
        return _cached(self._cuts, segment, self._find_cut)

    def _find_cut(self, segment: str) -> tuple[int, ...]:
        if " " not in segment or not _CUTTABLE.fullmatch(segment):
            return ()
        words = list(_WORDS.finditer(segment))
        if not 2 <= len(words) <= 2 * MAX_SEGMENT_WORDS:
            return ()
        keys = [MARKS.sub("", lookup_key(m.group())) for m in words]
        # Every cut must fall between two words that may take one (checked again below): where
        # no two neighbours may, no reading can be kept, and the spans need not be counted.
        if not any(self._may_cut(a, b) for a, b in pairwise(keys)):
            return ()
        whole = self._lexicon.count(segment_key(segment))
        if whole >= self.MIN_BLOCKING:
            return ()
        n = len(words)
        # known[i][j]: texts holding words i..j-1 as one name
        count = self._lexicon.count
        known = {(i, j): count(segment_key(segment[words[i].start() : words[j - 1].end()]))
                 for i in range(n) for j in range(i + 1, n + 1) if j - i <= MAX_SEGMENT_WORDS}
        readings = [cuts for cuts in self._readings(known, 0, n, self.MAX_PARTS) if cuts]
        # The fewest names that make the segment, and only one way to make it with that many
        # ("corn syrup sugar" is corn syrup + sugar; that corn + syrup + sugar reads too is moot).
        fewest = min((len(cuts) for cuts in readings), default=0)
        readings = [cuts for cuts in readings if len(cuts) == fewest]
        if len(readings) != 1:
            return ()
        cuts = readings[0]
        bounds = (0, *cuts, n)
        weakest = min(known[(i, j)] for i, j in pairwise(bounds))
        if weakest < self._min_part or (whole and weakest < self.MIN_OVERRULING):
            return ()  # the whole is a name once; its parts are not common enough to doubt it
        if not all(self._may_cut(keys[k - 1], keys[k]) for k in cuts):
            return ()
        return tuple(words[k - 1].end() for k in cuts)

    def _may_cut(self, a: str, b: str) -> bool:
        """Whether a comma may go between the words ``a`` and ``b`` (lexicon keys): never inside
        a known name, before a sentence, next to a connector, nor where ``a`` seldom ends a name
        or ``b`` seldom starts one."""
        lexicon = self._lexicon
        if (a, b) in lexicon.inner_pairs or b in SENTENCE_STARTS or a in CONNECTORS or b in CONNECTORS:
            return False
        return lexicon.ends(a) >= self.MIN_END_SHARE and lexicon.starts(b) >= self.MIN_START_SHARE

    def _readings(self, known: dict[tuple[int, int], int], start: int, end: int, parts: int) -> list[tuple[int, ...]]:
        """Every way to read words start..end-1 as at most ``parts`` known names: the cut
        positions of each (``()`` is the whole span read as one name)."""
        found = []
        if known.get((start, end), 0) >= self.MIN_KNOWN:
            found.append(())
        if parts > 1:
            for k in range(start + 1, end):
                if known.get((start, k), 0) >= self.MIN_KNOWN:
                    found += [(k, *rest) for rest in self._readings(known, k, end, parts - 1)]
        return found

    def edits(self, text: str) -> list[Edit]:
        """The separator edits of ``text`` (sorted, not overlapping); ``[]`` for most texts."""
        misread = ". " in text or "; " in text  # plain string searches: the cheapest test first
        if text.count(", ") < self.MIN_LIST_COMMAS:
            return []
        if not self._cuts_possible or (not self._lost_commas and self._no_cut(text)):
            return self._misread(text) if misread else []
        parts = SEPARATOR_CHARS.split(text)
        # Fast path (most texts): every segment already known to need no comma, and no "." /
        # ";" / bracket followed by a word; one split, one set test and two searches, all in C.
        if self._inert.issuperset(parts) and not misread and not (
            self._lost_commas and _AFTER_BRACKET.search(text)
        ):
            return []
        edits: list[Edit] = []
        start = 0
        for part in parts:
            end = start + len(part)
            if part not in self._inert:
                cuts = self._cut(part.strip())
                if not cuts:
                    if len(self._inert) >= MAX_CACHED:
                        self._inert.clear()
                    self._inert.add(part)
                elif text[end : end + 1] not in HEADS:  # "Caramel corn (", "pasta:": no guess
                    lead = start + len(part) - len(part.lstrip())
                    edits += [Edit(lead + cut, lead + cut, ",", LOST_COMMA) for cut in cuts]
            start = end + 1  # every separator is one character
        if misread:
            edits += self._misread(text)
        if self._lost_commas:
            cut_at = {e.start for e in edits if e.kind == LOST_COMMA}
            # A cut of "gar* glucose syrup" and the comma after its "*" are one comma: once.
            edits += [e for e in self._after_brackets(text) if e.start not in cut_at]
        edits.sort(key=lambda e: (e.start, e.end))
        return edits

    def _no_cut(self, text: str) -> bool:
        """No segment of ``text`` takes a cut: its ", "-separated items (a plain string split,
        several times cheaper than the segment regex) are all known to hold none (cached)."""
        items = text.split(", ")
        if self._inert_items.issuperset(items):
            return True
        inert = True
        for item in items:
            if item in self._inert_items:
                continue
            if any(self._cut(part.strip()) for part in SEPARATOR_CHARS.split(item)):
                inert = False
            else:
                if len(self._inert_items) >= MAX_CACHED:
                    self._inert_items.clear()
                self._inert_items.add(item)
        return inert

    def _next_segment(self, text: str, start: int) -> tuple[str, str]:
        """The segment starting at ``start`` and the separator that ends it ("" at the end)."""
        m = SEPARATOR_CHARS.search(text, start)
        return (text[start : m.start()], m.group()) if m else (text[start:], "")

    def _previous_segment(self, text: str, end: int) -> str:
        window = max(0, end - MAX_SEGMENT_CHARS)
        start = max(text.rfind(c, window, end) for c in ",;.:([{")
        return text[max(start + 1, window) : end]

    def _starts_name(self, segment: str) -> bool:
        """``segment`` is a known name, or its first word mostly starts known names (cached)."""
        return _cached(self._starts, segment, self._find_starts_name)

    def _ends_name(self, segment: str) -> bool:
        """``segment`` is a known name, or its last word mostly ends known names (cached)."""
        return _cached(self._ends, segment, self._find_ends_name)

    def _find_starts_name(self, segment: str) -> bool:
        key = segment_key(segment)
        if not key:
            return False
        word = key.split(" ", 1)[0]
        if word in SENTENCE_STARTS or word in CONNECTORS:
            return False
        return self._known(key) or self._lexicon.starts(word) >= self.MIN_START_SHARE

    def _find_ends_name(self, segment: str) -> bool:
        key = segment_key(segment)
        if not key:
            return False
        word = key.rsplit(" ", 1)[-1]
        if word in CONNECTORS:
            return False
        return self._known(key) or self._lexicon.ends(word) >= self.MIN_END_SHARE

    def _misread(self, text: str) -> list[Edit]:
        found = []
        list_case = None
        periods = None
        # Checks in order of cost: the next segment's (cached) verdict rejects most candidates
        # (sentences, headings); the whole-text ones run only for what is left.
        for start, end, space, mark in _marks(text):
            if mark == ";" and (space or text.count(";") - text.count(" ;") > self.MAX_SEMICOLONS):
                continue  # French typography (" ; "), or a list that uses ";" itself
            nxt, closer = self._next_segment(text, end)
            if closer == ":":
                continue
            # Inside a comma-separated list (_listed) the list's own structure vouches for both
            # items; elsewhere the lexicon must.
            if not self._item_shaped(nxt):
                continue  # a sentence ("May contain"), a connector, a number: never an item
            listed = self._listed(text, start, end)
            if listed:
                if not self._ends_item(text, start):
                    continue
                if closer == "(" and not space and "," in _group(text, end + len(nxt)):
                    continue  # ". milk chocolate (sugar, cocoa butter)": the next part of a product
            else:
                if text[start - 1] in _NUMERIC_END:
                    continue
                if (closer == "(" and not space) or not self._starts_name(nxt):
                    continue
                if not (space or text[start - 1] in ")]") and not self._ends_name(
                    self._previous_segment(text, start)
                ):
                    continue
            continues = space or (listed and nxt[:1].islower())  # ". whey" inside a heading's list
            if (mark == ";" or not continues) and self._closes_heading(text, start):
                continue  # closing a part opened by "heading:" ("poudres à lever : ...; ail")
            if mark == "." and not space:
                if periods is None:
                    periods = len(_SENTENCE_BREAK.findall(text))
                if periods > self.MAX_PERIODS:
                    continue  # the list itself uses ". " between parts
            case = _case_of(nxt.lstrip())
            if case != "lower" and not _E_NUMBER.match(nxt.lstrip()):
                if list_case is None:
                    list_case = _list_case(text) or "?"
                if case != list_case and not (listed and case == _case_before(text, start)):
                    continue  # a capital after ". " in a lowercase list starts a sentence
            found.append(Edit(start, end, ", ", MISREAD_COMMA))
        found.sort(key=lambda e: e.start)  # _marks gives the periods first, then the semicolons
        return found

    def _listed(self, text: str, start: int, end: int) -> bool:
        """The mark at ``start:end`` sits between two items of one comma-separated list."""
        before = _separator_before(text, start)
        after = _separator_after(text, end)
        if before == ",":
            return after in _LIST_AFTER or after in "."  # "." or "": the list's last item
        if before == ":":  # "poudre à lever : E450. bicarbonate, E503": a class, then its codes
            colon = text.rfind(":", 0, start)
            return after == "," and _LONE_E_NUMBER.fullmatch(text, colon + 1, start) is not None
        return after == "," and (before in _LIST_BEFORE or not before)

    def _item_shaped(self, segment: str) -> bool:
        """``segment`` can be a list item: a name (or E-number), not a sentence or a connector
        (cached)."""
        return _cached(self._items, segment, self._find_item_shaped)

    def _find_item_shaped(self, segment: str) -> bool:
        key = segment_key(_PERCENT_TAIL.sub("", segment))
        if not key:
            return False
        word = key.split(" ", 1)[0]
        return word not in SENTENCE_STARTS and word not in CONNECTORS

    def _ends_item(self, text: str, start: int) -> bool:
        """What precedes the mark ends an item: a bracket, a percentage, a star, markup, an
        E-number or colour number, or a word that is neither a connector nor an abbreviation."""
        if text[start - 1] in ")]*%>_":
            return True
        word = _LAST_WORD.search(text, max(0, start - 40), start)
        if not word:
            return False
        key = word.group().lower()
        if key[:1].isdigit():
            return bool(_COLOUR_NUMBER.search(text, max(0, start - 40), start))
        return key not in CONNECTORS and key not in ABBREVIATIONS and (len(key) > 1 or key in "ck")

    def _closes_heading(self, text: str, start: int) -> bool:
        """The mark ends a part opened by ``heading:`` at the mark's bracket level (``poudres à
        lever : bicarbonate, pyrophosphate; ail``, ``vanillin: an artificial flavor. dry
        coconut``): what follows is the next part. A colon inside brackets that closed before
        the mark (``chocolate (..., vanillin: a flavor), sugar. palm oil``) or before the bracket
        the mark is in (``Filling: pumpkin, ricotta (whey; whole milk``) opens no such part."""
        depth = 0
        for m in _structure_back(text, max(0, start - 4 * MAX_SEGMENT_CHARS), start):
            c = m.group()
            if c in ")]}":
                depth += 1
            elif c in "([{":
                if depth == 0:
                    return False
                depth -= 1
            elif depth == 0 and c != ",":
                return c == ":" and not _LONE_E_NUMBER.fullmatch(text, m.end(), start)
        return False

    def _after_brackets(self, text: str) -> list[Edit]:
        found = []
        for m in _AFTER_BRACKET.finditer(text):
            closing = text[m.start() : m.start(1)]
            if closing in ("%", "*") and closing + ", " not in text:
                continue  # the list does not put commas after its percentages (or stars)
            nxt, closer = self._next_segment(text, m.end())
            key = segment_key(nxt)
            if closer in (":", "(") or not key or key.split(" ", 1)[0] in SENTENCE_STARTS | CONNECTORS:
                continue
            if self._known(key) or self._cut(nxt.strip()):
                found.append(Edit(m.start(1), m.start(1), ",", LOST_COMMA))
        return found


def _cached(cache: dict[str, T], key: str, find: Callable[[str], T]) -> T:
    """``find(key)``, remembered in ``cache`` (emptied once it holds ``MAX_CACHED`` entries)."""
    value = cache.get(key)
    if value is None:
        if len(cache) >= MAX_CACHED:
            cache.clear()
        value = cache[key] = find(key)
    return value


def _group(text: str, start: int) -> str:
    """The bracketed group opened at ``start`` (up to its closing bracket, or the rest of the
    text when it is not closed)."""
    depth = 0
    for m in _BRACKETS.finditer(text, start):
        depth += 1 if m.group() in "([{" else -1
        if depth == 0:
            return text[start : m.end()]
    return text[start:]


def _structure_back(text: str, stop: int, pos: int) -> Iterator[re.Match[str]]:
    """The separators and brackets of ``text[stop:pos]``, last first; scanned a short window at
    a time, as the answer is mostly a few characters back."""
    while pos > stop:
        window = max(stop, pos - 64)
        yield from reversed(list(_STRUCTURE.finditer(text, window, pos)))
        pos = window


def _separator_before(text: str, pos: int) -> str:
    """The separator that opens the item ending at ``pos``, bracketed groups inside it skipped:
    ``""`` at the text's start, ``"?"`` when none is found within the window looked at."""
    stop = max(0, pos - 4 * MAX_SEGMENT_CHARS)
    depth = 0
    for m in _structure_back(text, stop, pos):
        c = m.group()
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                return c
            depth -= 1
        elif depth == 0:
            return c
    return "?" if stop else ""


def _separator_after(text: str, pos: int) -> str:
    """The separator that closes the item starting at ``pos``, bracketed groups skipped
    (``""`` at the text's end)."""
    depth = 0
    for m in _STRUCTURE.finditer(text, pos):
        c = m.group()
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                return c
            depth -= 1
        elif depth == 0:
            return c
    return ""


def _marks(text: str) -> Iterator[tuple[int, int, bool, str]]:
    """Each "." or ";" (one space before it at most) after a letter, digit, closing bracket,
    ``%``, ``*``, ``_`` or markup, then spaces, then a letter: (start, end, space before, mark).
    Plain string searches, as most texts hold none and a regex scan of every text cost more
    than the rest of the stage."""
    for mark in ".;":
        at = text.find(mark + " ")
        while at >= 0:
            end = at + 2
            while end < len(text) and text[end] == " ":
                end += 1
            space = text[at - 1] == " "
            start = at - 1 if space else at
            if end < len(text) and start > 0 and text[end].isalpha() and (
                text[start - 1].isalnum() or text[start - 1] in ")]*>%_"
            ):
                yield start, end, space, mark
            at = text.find(mark + " ", at + 1)
