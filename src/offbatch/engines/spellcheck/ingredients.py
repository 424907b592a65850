"""The ingredient lexicon: names (segments between separators) of real ingredient texts per
language, with the number of distinct texts each is in; its compiled file and its loading.

Counted at build time by scripts/build_food_vocabulary.py (never from the evaluation's test
split, plus hand-checked seed names), compiled into ``data/vocabulary/{lang}.ingredients``;
the separator stage (spellcheck/separators.py) restores commas with it.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from offbatch.engines.spellcheck.vocabulary import lookup_key
from offbatch.errors import EngineError

INGREDIENTS_FORMAT = "offbatch-ingredients/1"
MAX_SEGMENT_WORDS = 6

# HTML the export leaves in some texts (<span class="allergen">milk</span>).
MARKUP = re.compile(r"<[^<>]*>")
# What separates two ingredients (or opens/closes a sub-list) in a list.
SEPARATOR_CHARS = re.compile(r"[,;.:()\[\]{}]")
# A segment the lexicon holds: 1-6 words of letters, digits, apostrophes, hyphens, "&" (the
# first a letter), once normalised (see segment_key).
_SEGMENT_SHAPE = re.compile(r"[^\W\d_][\w'’\-&]*(?: [\w'’\-&]+){0,5}")
_SPACES = re.compile(r"\s+")
MARKS = re.compile(r"[_*]")


def segment_key(raw: str) -> str | None:
    """The lexicon key of one segment (``" Cocoa  Butter* "`` -> ``"cocoa butter"``), or None
    when it is not shaped like an ingredient name (digits first, markup, over 6 words...)."""
    if "<" in raw:
        raw = MARKUP.sub("", raw)
    key = _SPACES.sub(" ", MARKS.sub("", lookup_key(raw))).strip(" -'’")
    return key if _SEGMENT_SHAPE.fullmatch(key) else None


def text_segments(text: str) -> set[str]:
    """The distinct lexicon keys of one ingredient text (what the build script counts)."""
    keys = (segment_key(s) for s in SEPARATOR_CHARS.split(MARKUP.sub("", text)))
    return {key for key in keys if key}


def ingredients_path(vocabulary_dir: Path, lang: str) -> Path:
    return vocabulary_dir / "vocabulary" / f"{lang}.ingredients"


def compile_ingredients(lang: str, counts: dict[str, int], *, source: str) -> bytes:
    """The compiled lexicon: a JSON header line, then zlib of sorted ``key<TAB>texts`` lines."""
    body = "".join(f"{key}\t{counts[key]}\n" for key in sorted(counts)).encode()
    header = {"format": INGREDIENTS_FORMAT, "lang": lang, "segments": len(counts), "source": source}
    return (json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
            + b"\n" + zlib.compress(body, 9))


@dataclass(frozen=True)
class Lexicon:
    """Known ingredient names of one language (key -> distinct texts), and the word pairs seen
    side by side inside one (a cut there would split a known name)."""

    lang: str
    counts: dict[str, int]
    inner_pairs: frozenset[tuple[str, str]]
    # word -> (texts where it is a name's first word, its last word, anywhere in a name)
    positions: dict[str, tuple[int, int, int]]

    @classmethod
    def from_counts(cls, lang: str, counts: dict[str, int]) -> Lexicon:
        pairs = set()
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        anywhere: dict[str, int] = {}
        for key, n in counts.items():
            words = key.split(" ")
            pairs.update(pairwise(words))
            first[words[0]] = first.get(words[0], 0) + n
            last[words[-1]] = last.get(words[-1], 0) + n
            for word in set(words):
                anywhere[word] = anywhere.get(word, 0) + n
        positions = {w: (first.get(w, 0), last.get(w, 0), n) for w, n in anywhere.items()}
        return cls(lang, counts, frozenset(pairs), positions)

    def count(self, key: str | None) -> int:
        return self.counts.get(key, 0) if key else 0

    def starts(self, word: str) -> float:
        """The share of the names holding ``word`` that start with it."""
        first, _, anywhere = self.positions.get(word, (0, 0, 0))
        return first / anywhere if anywhere else 0.0

    def ends(self, word: str) -> float:
        _, last, anywhere = self.positions.get(word, (0, 0, 0))
        return last / anywhere if anywhere else 0.0


def load_lexicon(lang: str, *, vocabulary_dir: Path) -> Lexicon:
    path = ingredients_path(vocabulary_dir, lang)
    hint = "rebuild it with: python scripts/build_food_vocabulary.py --compile-only"
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EngineError(f"cannot read the ingredient lexicon {path}: {e.strerror or e}", hint=hint) from e
    end = data.find(b"\n")
    try:
        header = json.loads(data[: max(end, 0)])
        if not isinstance(header, dict) or header.get("format") != INGREDIENTS_FORMAT or header.get("lang") != lang:
            raise ValueError("wrong header")
        lines = zlib.decompress(data[end + 1 :]).decode().splitlines()
        counts = {key: int(n) for key, n in (line.split("\t") for line in lines)}
    except (ValueError, zlib.error, UnicodeDecodeError) as e:
        raise EngineError(f"{path}: expected a {INGREDIENTS_FORMAT} file for {lang!r} ({e})", hint=hint) from e
    return Lexicon.from_counts(lang, counts)
