"""The CPU spellcheck engine: conservative, deterministic repairs of ingredient lists.

It repairs words split by OCR (``léci - thine``, ``émul sifiant``), stray capitals, missing
accents and confident typos (one letter, or a two-letter OCR confusion such as ``rn``/``m``),
using compiled vocabularies (pyspellchecker's word lists plus a shipped food vocabulary, see
spellcheck/vocabulary.py); then, on the word-fixed text, misread and lost commas
between ingredients (spellcheck/separators.py, an ingredient lexicon). A wrong correction is
worse than none: every rule refuses when in doubt (see spellcheck/repair.py and docs/engines.md).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from offbatch.engines.base import Correction, Engine, SpellcheckInput
from offbatch.engines.spellcheck.fast import FastRepairer
from offbatch.engines.spellcheck.ingredients import load_lexicon
from offbatch.engines.spellcheck.repair import apply_edits
from offbatch.engines.spellcheck.separators import SeparatorRepairer
from offbatch.engines.spellcheck.vocabulary import (
    DEFAULT_VOCABULARY_DIR,
    SUPPORTED_LANGUAGES,
    Vocabulary,
    load_vocabulary,
    vocabulary_digest,
)

ALGORITHM_REVISION = 4

# Language labels seen on products that are not ISO 639-1 codes of the language they hold:
# ISO 639-2/3 codes, and country codes used for the language ("du" for Dutch).
LANGUAGE_ALIASES = {
    "du": "nl", "dut": "nl", "nld": "nl", "ger": "de", "deu": "de", "eng": "en", "fre": "fr",
    "fra": "fr", "spa": "es", "ita": "it", "por": "pt",
}


def normalize_lang(lang: object) -> str | None:
    """``"fr"``, ``"FR"``, ``"fr-FR"``, ``"fr_CA"``, ``"fra"`` -> ``"fr"``; ``"du"`` -> ``"nl"``;
    unsupported -> None."""
    if not isinstance(lang, str):
        return None
    code = lang.strip().lower().replace("_", "-").split("-", 1)[0]
    code = LANGUAGE_ALIASES.get(code, code)
    return code if code in SUPPORTED_LANGUAGES else None


class CpuSpellcheckEngine(Engine):
    """Vocabularies load lazily, once per language, and stay cached on the instance.

    ``vocabulary_dir`` holds ``vocabulary/{lang}.vocab`` (default: the shipped ones, compiled by
    scripts/build_food_vocabulary.py); ``fix_typos`` enables the edit-distance-1 typo repair;
    ``lost_commas`` the separator stage's full lost-comma rule (every known name, and after
    brackets); off by default, where a lost comma is restored only between frequent names: the
    full rule's extra commas are mostly commas the sample's real lists lack too, which the
    evaluation counts as wrong (docs/engines.md, "Separators"). Misread commas are always restored.
    Thread-safe: loading is guarded by a lock; the per-word caches hold equal values whichever
    thread fills them.
    """

    name: ClassVar[str] = "cpu"

    def __init__(self, *, vocabulary_dir: str | Path | None = None, fix_typos: bool = True,
                 lost_commas: bool = False) -> None:
        self._vocabulary_dir = Path(vocabulary_dir) if vocabulary_dir else DEFAULT_VOCABULARY_DIR
        self._fix_typos = fix_typos
        self._lost_commas = lost_commas
        self._vocabularies: dict[str, Vocabulary] = {}
        self._repairers: dict[str, FastRepairer] = {}
        self._separators: dict[str, SeparatorRepairer] = {}
        self._langs: dict[str, str | None] = {}  # label as given -> normalised code
        self._version: str | None = None
        self._lock = threading.Lock()

    @property
    def fix_typos(self) -> bool:
        return self._fix_typos

    @property
    def version(self) -> str:
        if self._version is None:
            digest = vocabulary_digest(self._vocabulary_dir)
            typos = "" if self._fix_typos else "-notypos"
            commas = "-lostcommas" if self._lost_commas else ""
            self._version = f"cpu-spellcheck-{ALGORITHM_REVISION}{typos}{commas}+{digest}"
        return self._version

    def correct(self, items: Sequence[SpellcheckInput]) -> list[Correction]:
        return [Correction(correction=self._correct_text(item.text, item.lang)) for item in items]

    def close(self) -> None:
        with self._lock:
            self._vocabularies.clear()
            self._repairers.clear()
            self._separators.clear()

    def vocabulary(self, lang: str) -> Vocabulary:
        """The (cached) vocabulary of a supported language code."""
        with self._lock:
            if lang not in self._vocabularies:
                self._vocabularies[lang] = load_vocabulary(lang, vocabulary_dir=self._vocabulary_dir)
            return self._vocabularies[lang]

    def _repairer(self, lang: str) -> FastRepairer:
        repairer = self._repairers.get(lang)
        if repairer is None:
            vocabulary = self.vocabulary(lang)
            with self._lock:
                repairer = self._repairers.setdefault(
                    lang, FastRepairer(vocabulary, fix_typos=self._fix_typos)
                )
        return repairer

    def separator_repairer(self, lang: str) -> SeparatorRepairer:
        """The (cached) separator stage of a supported language code."""
        repairer = self._separators.get(lang)
        if repairer is None:
            lexicon = load_lexicon(lang, vocabulary_dir=self._vocabulary_dir)
            with self._lock:
                repairer = self._separators.setdefault(
                    lang, SeparatorRepairer(lexicon, lost_commas=self._lost_commas)
                )
        return repairer

    def _correct_text(self, text: object, lang: object) -> str:
        if not isinstance(text, str):
            return "" if text is None else str(text)
        code = self._langs.get(lang) if isinstance(lang, str) else None
        if code is None and isinstance(lang, str) and lang not in self._langs:
            code = self._langs[lang] = normalize_lang(lang)
        if code is None or not text.strip():
            return text
        edits = self._repairer(code).edits(text)
        fixed = apply_edits(text, edits) if edits else text
        # Separators last, on the word-fixed text: their rules look words up as corrected.
        separators = self._separators.get(code) or self.separator_repairer(code)
        separator_edits = separators.edits(fixed)
        return apply_edits(fixed, separator_edits) if separator_edits else fixed
