"""Build time only: compile pyspellchecker's lists and the food words into ``{lang}.vocab``.

Run through ``scripts/build_food_vocabulary.py`` (the one source of truth for the shipped
vocabularies); the engine never imports this module. The output is deterministic (sorted
words, fixed compression level), so a test can rebuild it and compare bytes.

File format: one JSON header line (format, lang, alphabet, bucket -> [offset, length], and
``targets``: the sorted typo targets, every known word that is trusted or common, which the
engine indexes to skip the typo search where no target is near), then
the buckets, each zlib-compressed: the words of the bucket as six NUL-separated sections of
newline-separated lines: known words, join targets, trusted targets, common food words,
foreign words, and
``unaccented<TAB>accented`` pairs.
"""

from __future__ import annotations

import gzip
import json
import unicodedata
import zlib
from collections import defaultdict
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from offbatch.engines.spellcheck.vocabulary import (
    COMPILED_FORMAT,
    SUPPORTED_LANGUAGES,
    WORD,
    bucket_of,
    compiled_path,
    lookup_key,
)
from offbatch.errors import EngineError

# A general-dictionary word is a join target only above pyspellchecker's frequency floor (50):
# half of each list sits on the floor, and that half holds most of the junk.
JOIN_MIN_GENERAL_FREQUENCY = 100
# Words this frequent in another supported language are "foreign", never typo-corrected
# ("fleur" in "fleur de sel" must not become "flour").
FOREIGN_MIN_FREQUENCY = 100
ZLIB_LEVEL = 9
# A counted food word seen in this many distinct texts (or a seed word) is a *common* food word:
# a typo with several known candidates may still go to the one common food word among them.
COMMON_MIN_TEXTS = 5


@dataclass(frozen=True)
class FoodWords:
    """The shipped food vocabulary of one language: word -> number of texts it was seen in."""

    counts: dict[str, int]
    seed: frozenset[str]


def food_words_path(vocabulary_dir: Path, lang: str) -> Path:
    return vocabulary_dir / f"food_words_{lang}.txt"


def read_food_words(path: Path) -> FoodWords:
    """Parse ``word<TAB>texts<TAB>source`` lines (``#`` starts a comment)."""
    counts: dict[str, int] = {}
    seed: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise EngineError(f"cannot read the food vocabulary {path}: {e.strerror or e}") from e
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[1].isdigit() or fields[2] not in ("seed", "counted"):
            raise EngineError(f"{path}:{number}: expected 'word<TAB>texts<TAB>seed|counted'")
        word = lookup_key(fields[0])
        counts[word] = int(fields[1])
        if fields[2] == "seed":
            seed.add(word)
    return FoodWords(counts=counts, seed=frozenset(seed))


def read_general_words(lang: str) -> dict[str, int]:
    """pyspellchecker's word-frequency list for ``lang``: pure-letter words only (no other
    token is ever looked up), under their lookup key, highest frequency kept."""
    resource = resources.files("spellchecker") / "resources" / f"{lang}.json.gz"
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        words = json.load(f)
    general: dict[str, int] = {}
    for word, freq in words.items():
        key = lookup_key(word)
        if WORD.fullmatch(key):
            general[key] = max(general.get(key, 0), int(freq))
    return general


def strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


@dataclass(frozen=True)
class Classes:
    known: frozenset[str]
    join: frozenset[str]
    trusted: frozenset[str]
    common: frozenset[str]
    foreign: frozenset[str]
    accents: dict[str, str]
    alphabet: str


def classify(lang: str, *, general: dict[str, dict[str, int]], food: FoodWords) -> Classes:
    """The word classes of ``lang``; ``general`` holds the lists of every supported language."""
    own = general[lang]
    known = frozenset(own) | frozenset(food.counts)
    join = frozenset(food.counts) | frozenset(w for w, f in own.items() if f >= JOIN_MIN_GENERAL_FREQUENCY)
    trusted = food.seed | frozenset(w for w in food.counts if w in own)
    common = frozenset(w for w in trusted if w in food.seed or food.counts[w] >= COMMON_MIN_TEXTS)
    foreign = frozenset(
        w for other, words in general.items() if other != lang
        for w, f in words.items() if f >= FOREIGN_MIN_FREQUENCY and w not in known
    )
    variants: dict[str, set[str]] = defaultdict(set)
    for word in known:
        bare = strip_accents(word)
        if bare != word and bare not in known:
            variants[bare].add(word)
    # Only where exactly one known word has that bare form, and it is a join target (frequent
    # or food): "creme" -> "crème" in French, never a guess between two accented words.
    accents = {bare: next(iter(forms)) for bare, forms in variants.items()
               if len(forms) == 1 and next(iter(forms)) in join}
    frequent = [w for w, f in own.items() if f >= JOIN_MIN_GENERAL_FREQUENCY]
    letters = set("".join(food.counts)) | set("".join(frequent))
    alphabet = "".join(sorted(c for c in letters if WORD.fullmatch(c)))
    return Classes(known, join, trusted, common, foreign, accents, alphabet)


def compile_language(lang: str, classes: Classes) -> bytes:
    buckets: dict[str, list[list[str]]] = defaultdict(lambda: [[], [], [], [], [], []])
    sets = (classes.known, classes.join, classes.trusted, classes.common, classes.foreign)
    for section, words in enumerate(sets):
        for word in words:
            buckets[bucket_of(word)][section].append(word)
    for bare, accented in classes.accents.items():
        buckets[bucket_of(bare)][5].append(f"{bare}\t{accented}")
    blobs, index, offset = [], {}, 0
    for bucket in sorted(buckets):
        text = "\0".join("\n".join(sorted(section)) for section in buckets[bucket])
        blob = zlib.compress(text.encode(), ZLIB_LEVEL)
        index[bucket] = [offset, len(blob)]
        blobs.append(blob)
        offset += len(blob)
    header = {"format": COMPILED_FORMAT, "lang": lang, "alphabet": classes.alphabet,
              "source": f"pyspellchecker {metadata.version('pyspellchecker')} + food_words_{lang}.txt",
              "buckets": index,
              "targets": sorted((classes.trusted | classes.common) & classes.known)}
    return json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n" + b"".join(blobs)


def compile_all(vocabulary_dir: Path, output_dir: Path | None = None,
                languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> dict[str, int]:
    """Compile every language from ``vocabulary_dir``'s food words into ``output_dir``
    (default: the same folder); return the size of each file."""
    output_dir = output_dir or vocabulary_dir
    general = {lang: read_general_words(lang) for lang in SUPPORTED_LANGUAGES}
    sizes = {}
    for lang in languages:
        food = read_food_words(food_words_path(vocabulary_dir, lang))
        data = compile_language(lang, classify(lang, general=general, food=food))
        path = compiled_path(output_dir, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        sizes[lang] = len(data)
    return sizes
