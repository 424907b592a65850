"""The CPU spellcheck engine: conservative, deterministic repairs of ingredient lists.

It repairs words split by OCR (``léci - thine``, ``émul sifiant``) and, optionally, confident
one-letter typos, using pyspellchecker's word lists plus a shipped food vocabulary. A wrong
correction is worse than none: every rule refuses when in doubt (see spellcheck/repair.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from offbatch.engines.base import Correction, Engine, SpellcheckInput
from offbatch.engines.spellcheck.repair import apply_edits, find_edits
from offbatch.engines.spellcheck.vocabulary import (
    DEFAULT_VOCABULARY_DIR,
    FOREIGN_MIN_FREQUENCY,
    SUPPORTED_LANGUAGES,
    Vocabulary,
    load_vocabulary,
    read_general_words,
    vocabulary_digest,
)

ALGORITHM_REVISION = 1


def normalize_lang(lang: object) -> str | None:
    """``"fr"``, ``"FR"``, ``"fr-FR"`` and ``"fr_CA"`` -> ``"fr"``; unsupported -> None."""
    if not isinstance(lang, str):
        return None
    code = lang.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in SUPPORTED_LANGUAGES else None


class CpuSpellcheckEngine(Engine):
    """Vocabularies load lazily, once per language, and stay cached on the instance.

    ``vocabulary_dir`` holds ``food_words_{lang}.txt`` (default: the shipped ones);
    ``fix_typos`` enables the edit-distance-1 typo repair (the split-word repairs always run).
    Thread-safe: loading is guarded by a lock and the loaded data is read-only.
    """

    name: ClassVar[str] = "cpu"

    def __init__(self, *, vocabulary_dir: str | Path | None = None, fix_typos: bool = True) -> None:
        self._vocabulary_dir = Path(vocabulary_dir) if vocabulary_dir else DEFAULT_VOCABULARY_DIR
        self._fix_typos = fix_typos
        self._vocabularies: dict[str, Vocabulary] = {}
        self._frequent: dict[str, frozenset[str]] = {}
        self._version: str | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        if self._version is None:
            digest = vocabulary_digest(self._vocabulary_dir)
            typos = "" if self._fix_typos else "-notypos"
            self._version = f"cpu-spellcheck-{ALGORITHM_REVISION}{typos}+{digest}"
        return self._version

    def correct(self, items: Sequence[SpellcheckInput]) -> list[Correction]:
        return [Correction(correction=self._correct_text(item.text, item.lang)) for item in items]

    def close(self) -> None:
        with self._lock:
            self._vocabularies.clear()
            self._frequent.clear()

    def vocabulary(self, lang: str) -> Vocabulary:
        """The (cached) vocabulary of a supported language code."""
        with self._lock:
            if lang not in self._vocabularies:
                self._vocabularies[lang] = load_vocabulary(
                    lang, vocabulary_dir=self._vocabulary_dir
                )
            return self._vocabularies[lang]

    def _correct_text(self, text: object, lang: object) -> str:
        if not isinstance(text, str):
            return "" if text is None else str(text)
        code = normalize_lang(lang)
        if code is None or not text.strip():
            return text
        vocabulary = self.vocabulary(code)
        is_foreign = self._foreign_check(code) if self._fix_typos else None
        edits = find_edits(text, vocabulary, is_foreign=is_foreign)
        return apply_edits(text, edits) if edits else text

    def _foreign_check(self, lang: str):  # noqa: ANN202 - a closure over cached sets
        others = [self._frequent_words(other) for other in SUPPORTED_LANGUAGES if other != lang]
        return lambda word: any(word in words for words in others)

    def _frequent_words(self, lang: str) -> frozenset[str]:
        # Only the frequent words of other languages are kept (~10% of each list), so typo
        # checking in one language does not hold all seven general dictionaries in memory.
        with self._lock:
            if lang not in self._frequent:
                loaded = self._vocabularies.get(lang)
                general = loaded.general if loaded else read_general_words(lang)
                self._frequent[lang] = frozenset(
                    w for w, freq in general.items() if freq >= FOREIGN_MIN_FREQUENCY
                )
            return self._frequent[lang]
