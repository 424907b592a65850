"""Per-language vocabularies, loaded from the compiled files the build script ships.

``scripts/build_food_vocabulary.py`` (through ``compiler.py``) turns pyspellchecker's word lists
and the shipped food words (``data/food_words_{lang}.txt``) into one compiled file per language,
``data/vocabulary/{lang}.vocab``. At run time only that file is read, and only the parts a text
needs: words are grouped into buckets by their first two letters, each bucket compressed on its
own and decompressed the first time a word of it is looked up. So the first correction costs a
few milliseconds, not the seconds pyspellchecker's JSON lists take to parse.

Each word carries its classes (see docs/engines.md, "Vocabulary rule"):

- **known**: a general or food word; never changed.
- **join target**: what a split word may be joined into (food, or general with frequency >= 100).
- **trusted**: what a typo may be corrected to (a seed word, or a counted food word the general
  dictionary also knows).
- **common**: a trusted target that is a seed word or seen in >= 5 distinct texts.
- **foreign**: unknown here but frequent (>= 100) in another supported language; never "fixed".
- **accent target**: the only known accented form of an unaccented word that is not known itself.

The typo targets (known words that are trusted or common: 400-1,200 food words per
language) are also listed in the header (``typo_targets``; the tests noise them). All the known
words can be gathered into one set (``known_words``) for the fast path's typo searches (see
docs/engines.md, "Speed").
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable
from pathlib import Path

from offbatch.errors import EngineError

SUPPORTED_LANGUAGES: tuple[str, ...] = ("de", "en", "es", "fr", "it", "nl", "pt")
DEFAULT_VOCABULARY_DIR = Path(__file__).resolve().parent.parent / "data"
COMPILED_FORMAT = "offbatch-vocabulary/2"

# A word is a maximal run of letters; digits and "_" (allergen markers) are never part of one.
WORD = re.compile(r"[^\W\d_]+")

KNOWN, JOIN_TARGET, TRUSTED, COMMON, FOREIGN = 1, 2, 4, 8, 16
# Section order inside a bucket (the compiler writes them in this order, NUL-separated).
SECTIONS = ("known", "join", "trusted", "common", "foreign", "accents")


def lookup_key(word: str) -> str:
    """The form a word is looked up under: NFKC (folds ligatures such as "ﬁ"), lowercase."""
    return unicodedata.normalize("NFKC", word).lower()


def bucket_of(key: str) -> str:
    return key[:2]


def compiled_path(vocabulary_dir: Path, lang: str) -> Path:
    return vocabulary_dir / "vocabulary" / f"{lang}.vocab"


class Vocabulary:
    """The compiled vocabulary of one language; buckets load on first use (thread-safe enough:
    two threads loading one bucket build equal dicts, and the last assignment wins)."""

    def __init__(self, lang: str, data: bytes, *, path: Path) -> None:
        header_end = data.find(b"\n")
        try:
            header = json.loads(data[: max(header_end, 0)])
        except ValueError:
            header = None
        if (not isinstance(header, dict) or header.get("format") != COMPILED_FORMAT or header.get("lang") != lang
                or not isinstance(header.get("targets"), list)
                or not all(isinstance(t, str) and t for t in header["targets"])
                or not isinstance(header.get("contexts"), dict)
                or not all(isinstance(v, str) and len(k) == 2 for k, v in header["contexts"].items())):
            raise EngineError(
                f"{path}: expected a {COMPILED_FORMAT} file for {lang!r} (with its typo targets "
                "and letter contexts)",
                hint="rebuild it with: python scripts/build_food_vocabulary.py --compile-only",
            )
        self.lang = lang
        self.alphabet: str = header["alphabet"]
        self._data = memoryview(data)[header_end + 1 :]
        self._index: dict[str, tuple[int, int]] = {k: (o, n) for k, (o, n) in header["buckets"].items()}
        self._flags: dict[str, dict[str, int]] = {}
        self._accents: dict[str, dict[str, str]] = {}
        # Per bucket, its foreign words as "\nword\n...\nword\n": as many words as the known
        # ones, but only asked about for unknown words, so searched as text rather than made into
        # a dict (that halves the cost of loading a bucket).
        self._foreign: dict[str, str] = {}
        self._targets: list[str] = header["targets"]
        # Two characters -> the letters found between them in a known word (compiler.py).
        self.letter_contexts: dict[str, str] = header["contexts"]
        self._known_words: frozenset[str] | None = None
        self._sorted_known_words: list[str] | None = None

    def _sections(self, bucket: str) -> list[str]:
        """The text sections (SECTIONS) of a bucket in the index, decompressed."""
        offset, length = self._index[bucket]
        try:
            sections = zlib.decompress(self._data[offset : offset + length]).decode().split("\0")
        except (zlib.error, UnicodeDecodeError) as e:
            raise EngineError(
                f"the compiled {self.lang!r} vocabulary is damaged (bucket {bucket!r}: {e})",
                hint="rebuild it with: python scripts/build_food_vocabulary.py --compile-only",
            ) from e
        if len(sections) != len(SECTIONS):
            raise EngineError(
                f"the compiled {self.lang!r} vocabulary is damaged (bucket {bucket!r}: "
                f"{len(sections)} sections, not {len(SECTIONS)})",
                hint="rebuild it with: python scripts/build_food_vocabulary.py --compile-only",
            )
        return sections

    def _load(self, bucket: str) -> dict[str, int]:
        span = self._index.get(bucket)
        flags: dict[str, int] = {}
        accents: dict[str, str] = {}
        foreign = "\n"
        if span is not None:
            sections = self._sections(bucket)
            foreign = f"\n{sections[4]}\n"
            known, join, trusted, common, accent_lines = (
                s.split("\n") if s else [] for s in sections[:4] + sections[5:]
            )
            flags = dict.fromkeys(known, KNOWN)
            size = len(flags)
            # Join targets are known words (tens of thousands: one update in C, not a loop).
            flags.update(dict.fromkeys(join, KNOWN | JOIN_TARGET))
            if len(flags) != size:
                raise EngineError(
                    f"the compiled {self.lang!r} vocabulary is damaged (bucket {bucket!r}: a join "
                    "target that is not a known word)",
                    hint="rebuild it with: python scripts/build_food_vocabulary.py --compile-only",
                )
            for word in trusted:
                flags[word] |= TRUSTED
            for word in common:
                flags[word] |= COMMON
            accents = dict(line.split("\t", 1) for line in accent_lines)
        self._accents[bucket] = accents
        self._foreign[bucket] = foreign
        self._flags[bucket] = flags
        return flags

    def flags(self, key: str) -> int:
        found = self._known_flags(key)
        if found:
            return found
        # Foreign words are never known ones (and are not in the bucket's dict, which holds
        # only known words): searched only for a word not found above.
        return FOREIGN if key and "\n" not in key and f"\n{key}\n" in self._foreign[key[:2]] else 0

    def _known_flags(self, key: str) -> int:
        """``flags`` of a known word, 0 for any other (no search of the foreign words)."""
        bucket = key[:2]
        flags = self._flags.get(bucket)
        if flags is None:
            flags = self._load(bucket)
        return flags.get(key, 0)

    def known_of(self, candidates: Iterable[str]) -> list[str]:
        """The known words among ``candidates`` (typo candidates: hundreds per unknown word,
        so the bucket lookups are inlined here)."""
        loaded, load = self._flags, self._load
        known = []
        for candidate in candidates:
            bucket = candidate[:2]
            flags = loaded.get(bucket)
            if flags is None:
                flags = load(bucket)
            if flags.get(candidate, 0) & KNOWN:
                known.append(candidate)
        return known

    @property
    def typo_targets(self) -> tuple[str, ...]:
        """Every known word a typo may be corrected to (trusted or common), sorted."""
        return tuple(self._targets)

    def known_in_bucket(self, bucket: str, candidates: set[str]) -> set[str]:
        """The known words among ``candidates``, which all start with ``bucket``: one set
        operation in C (every word in a bucket's dict is a known word)."""
        flags = self._flags.get(bucket)
        if flags is None:
            flags = self._load(bucket)
        return candidates & flags.keys()

    @property
    def compressed_size(self) -> int:
        """Bytes of compressed buckets (what ``known_words`` decompresses)."""
        return len(self._data)

    def known_words(self) -> frozenset[str]:
        """Every known word of the language, in one set: a typo's candidates are then one
        intersection in C (``fast.TypoSearch``) instead of hundreds of bucket lookups.

        Built on first use from every bucket's known section, without loading the buckets:
        ~0.04 s and ~14 MB for English (128k words), ~0.13 s and 43-50 MB for German, Dutch and
        Portuguese (330k-420k), so the fast path asks for it only once a language has done many
        searches.
        """
        if self._known_words is None:
            self._gather()
        return self._known_words

    def sorted_known_words(self) -> list[str]:
        """The words of ``known_words``, sorted (the same string objects: ~8 bytes a word), for
        prefix searches with ``bisect``."""
        if self._sorted_known_words is None:
            self._gather()
        return self._sorted_known_words

    def _gather(self) -> None:
        # Buckets are the words' first two letters, and the header lists them sorted, each
        # section sorted: read in that order, the words come out sorted (the compiler's test
        # checks it), so no sort is needed.
        # One bucket at a time: joining all the sections first peaks ~10 MB higher in German.
        words: list[str] = []
        for bucket in sorted(self._index):
            section = self._sections(bucket)[0]
            if section:
                words.extend(section.split("\n"))
        self._known_words = frozenset(words)
        self._sorted_known_words = words

    def is_known(self, key: str) -> bool:
        return self._known_flags(key) & KNOWN != 0

    def is_join_target(self, key: str) -> bool:
        return self._known_flags(key) & JOIN_TARGET != 0

    def is_trusted_target(self, key: str) -> bool:
        return self._known_flags(key) & TRUSTED != 0

    def is_common(self, key: str) -> bool:
        return self._known_flags(key) & COMMON != 0

    def is_foreign(self, key: str) -> bool:
        return self.flags(key) & FOREIGN != 0

    def accent_target(self, key: str) -> str | None:
        """The one known accented form of an unknown unaccented ``key``, if there is one."""
        bucket = key[:2]
        if bucket not in self._accents:
            self._load(bucket)
        return self._accents[bucket].get(key)


def load_vocabulary(lang: str, *, vocabulary_dir: Path) -> Vocabulary:
    path = compiled_path(vocabulary_dir, lang)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EngineError(
            f"cannot read the compiled vocabulary {path}: {e.strerror or e}",
            hint="rebuild it with: python scripts/build_food_vocabulary.py --compile-only",
        ) from e
    return Vocabulary(lang, data, path=path)


# vocabulary_digest's results, by folder and the identity of each file (see there).
_DIGESTS: dict[tuple[str, tuple[tuple[int, int, int] | None, ...]], str] = {}


def vocabulary_digest(vocabulary_dir: Path) -> str:
    """A short hash of everything the corrections depend on: the compiled files (the word
    vocabularies, then the ingredient lexicons of the separator stage).

    Hashing them (~7 MB) costs ~50 ms, paid by the launch and by every task, so the result is
    kept per process while each file keeps its inode, size and modification time: a warm
    process (the local supervisor, whose forked tasks inherit it) hashes them once.
    """
    paths = [compiled_path(vocabulary_dir, lang) for lang in SUPPORTED_LANGUAGES]
    lexicons = [vocabulary_dir / "vocabulary" / f"{lang}.ingredients" for lang in SUPPORTED_LANGUAGES]
    key = (str(vocabulary_dir), tuple(_identity(path) for path in paths + lexicons))
    if key in _DIGESTS:
        return _DIGESTS[key]
    digest = hashlib.sha256()
    for lang, path in zip(SUPPORTED_LANGUAGES, paths, strict=True):
        digest.update(lang.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"<missing>")
    for path in lexicons:
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"<missing>")
    _DIGESTS[key] = result = digest.hexdigest()[:10]
    return result


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
