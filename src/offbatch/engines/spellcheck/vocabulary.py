"""Per-language vocabularies: pyspellchecker's general word list plus the shipped food words.

A general dictionary knows everyday words but lacks food words ("lécithine") and contains
real-word traps ("sucer"); the food vocabulary (``data/food_words_{lang}.txt``, built by
``scripts/build_food_vocabulary.py``) fills the gap. See docs/engines.md for the rule.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from offbatch.errors import EngineError

SUPPORTED_LANGUAGES: tuple[str, ...] = ("de", "en", "es", "fr", "it", "nl", "pt")
DEFAULT_VOCABULARY_DIR = Path(__file__).resolve().parent.parent / "data"

# A word is a maximal run of letters; digits and "_" (allergen markers) are never part of one.
WORD = re.compile(r"[^\W\d_]+")

# A general-dictionary word is a join target only above pyspellchecker's frequency floor (50):
# half of each list sits on the floor, and that half holds most of the junk.
JOIN_MIN_GENERAL_FREQUENCY = 100
# Words this frequent in another supported language are "foreign", never typo-corrected
# ("fleur" in "fleur de sel" must not become "flour").
FOREIGN_MIN_FREQUENCY = 100


def lookup_key(word: str) -> str:
    """The form a word is looked up under: NFKC (folds ligatures such as "ﬁ"), lowercase."""
    return unicodedata.normalize("NFKC", word).lower()


@dataclass(frozen=True)
class FoodWords:
    """The shipped food vocabulary of one language: word -> number of texts it was seen in."""

    counts: Mapping[str, int]
    seed: frozenset[str]


@dataclass(frozen=True)
class Vocabulary:
    lang: str
    general: Mapping[str, int]
    food: FoodWords
    alphabet: str  # the letters typo candidates are built from

    def is_known(self, key: str) -> bool:
        return key in self.food.counts or key in self.general

    def is_join_target(self, key: str) -> bool:
        return key in self.food.counts or self.general.get(key, 0) >= JOIN_MIN_GENERAL_FREQUENCY

    def is_trusted_target(self, key: str) -> bool:
        """A typo may be corrected to this word: hand-checked, or seen in texts *and* in the
        general dictionary (so a typo repeated across texts is never a target)."""
        return key in self.food.seed or (key in self.food.counts and key in self.general)


def food_words_path(vocabulary_dir: Path, lang: str) -> Path:
    return vocabulary_dir / f"food_words_{lang}.txt"


def read_food_words(path: Path) -> FoodWords:
    """Parse ``word<TAB>texts<TAB>source`` lines (``#`` starts a comment)."""
    counts: dict[str, int] = {}
    seed: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise EngineError(
            f"cannot read the food vocabulary {path}: {e.strerror or e}",
            hint="regenerate it with: python scripts/build_food_vocabulary.py",
        ) from e
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
    """pyspellchecker's word-frequency list for ``lang`` (imported lazily: an optional dep)."""
    try:
        package = resources.files("spellchecker")
    except ModuleNotFoundError as e:
        raise EngineError(
            "the cpu engine needs the missing package 'pyspellchecker'",
            hint="install it with: pip install pyspellchecker",
        ) from e
    resource = package / "resources" / f"{lang}.json.gz"
    try:
        with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
            words = json.load(f)
    except (OSError, ValueError) as e:
        raise EngineError(f"cannot read pyspellchecker's {lang!r} word list: {e}") from e
    return {lookup_key(word): int(freq) for word, freq in words.items()}


def load_vocabulary(lang: str, *, vocabulary_dir: Path) -> Vocabulary:
    general = read_general_words(lang)
    food = read_food_words(food_words_path(vocabulary_dir, lang))
    common = [w for w, freq in general.items() if freq >= JOIN_MIN_GENERAL_FREQUENCY]
    letters = set("".join(food.counts)) | set("".join(common))
    alphabet = "".join(sorted(c for c in letters if WORD.fullmatch(c)))
    return Vocabulary(lang=lang, general=general, food=food, alphabet=alphabet)


def frequent_words(vocabularies: Iterable[Vocabulary]) -> frozenset[str]:
    return frozenset(
        word
        for vocabulary in vocabularies
        for word, freq in vocabulary.general.items()
        if freq >= FOREIGN_MIN_FREQUENCY
    )


def vocabulary_digest(vocabulary_dir: Path) -> str:
    """A short hash of everything the corrections depend on: food files and pyspellchecker."""
    digest = hashlib.sha256()
    for lang in SUPPORTED_LANGUAGES:
        path = food_words_path(vocabulary_dir, lang)
        digest.update(lang.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    try:
        digest.update(metadata.version("pyspellchecker").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"<no pyspellchecker>")
    return digest.hexdigest()[:10]
