"""The compiled vocabularies: what the build script makes is what ships, loaded lazily."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from offbatch.engines.base import SpellcheckInput
from offbatch.engines.cpu import CpuSpellcheckEngine, normalize_lang
from offbatch.engines.evaluation import dataset
from offbatch.engines.spellcheck.compiler import compile_all, food_words_path, read_food_words
from offbatch.engines.spellcheck.ingredients import ingredients_path
from offbatch.engines.spellcheck.repair import apply_edits, find_edits
from offbatch.engines.spellcheck.vocabulary import (
    DEFAULT_VOCABULARY_DIR,
    SUPPORTED_LANGUAGES,
    WORD,
    compiled_path,
    load_vocabulary,
    lookup_key,
    vocabulary_digest,
)
from offbatch.errors import EngineError

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "offbatch" / "data" / "off-food-sample.parquet"
SEED_DIR = Path(__file__).resolve().parents[2] / "scripts" / "food_seeds"


def test_shipped_compiled_files_are_what_the_build_script_produces(tmp_path):
    # The build script's compile step (scripts/build_food_vocabulary.py --compile-only) from the
    # shipped food words and the installed pyspellchecker gives the shipped bytes, every language.
    compile_all(DEFAULT_VOCABULARY_DIR, tmp_path)
    for lang in SUPPORTED_LANGUAGES:
        for path in (compiled_path, ingredients_path):
            built = path(tmp_path, lang).read_bytes()
            assert built == path(DEFAULT_VOCABULARY_DIR, lang).read_bytes(), (
                f"{lang}: rebuild with: python scripts/build_food_vocabulary.py --compile-only"
            )


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_seed_lists_hold_lowercase_letter_words_once_and_ship_in_the_food_words(lang):
    # A seed word is a trusted correction target: a stray digit, capital or duplicate in the
    # hand-written list is a mistake, and a list edited without a rebuild ships nothing.
    lines = (SEED_DIR / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# Hand-checked")
    words = [line for line in lines if line and not line.startswith("#")]
    assert len(words) >= 250
    assert len(set(words)) == len(words), f"{lang}: duplicate seed words"
    bad = [w for w in words if not WORD.fullmatch(w) or w != lookup_key(w)]
    assert not bad, f"{lang}: seed words must be lowercase letters only: {bad}"
    shipped = read_food_words(food_words_path(DEFAULT_VOCABULARY_DIR, lang)).seed
    assert shipped == set(words), f"{lang}: rebuild with: python scripts/build_food_vocabulary.py"


def test_vocabulary_loads_buckets_only_when_a_word_of_them_is_looked_up():
    vocabulary = load_vocabulary("de", vocabulary_dir=DEFAULT_VOCABULARY_DIR)
    assert vocabulary.is_known("zucker") and vocabulary.is_join_target("weizenmehl")
    assert not vocabulary.is_known("zuckerr")
    assert set(vocabulary._flags) == {"zu", "we"}


def test_a_damaged_or_missing_compiled_file_is_a_clear_engine_error(tmp_path):
    shutil.copytree(DEFAULT_VOCABULARY_DIR, tmp_path / "data")
    compiled_path(tmp_path / "data", "fr").write_bytes(b"not a vocabulary\n")
    with pytest.raises(EngineError, match="fr.vocab"):
        CpuSpellcheckEngine(vocabulary_dir=tmp_path / "data").correct([SpellcheckInput("sucre", "fr")])
    compiled_path(tmp_path / "data", "de").unlink()
    with pytest.raises(EngineError, match="cannot read the compiled vocabulary") as raised:
        CpuSpellcheckEngine(vocabulary_dir=tmp_path / "data").correct([SpellcheckInput("Zucker", "de")])
    assert "--compile-only" in (raised.value.hint or "")


def test_the_vocabulary_digest_is_kept_while_the_files_are_unchanged_and_follows_a_change(tmp_path):
    shutil.copytree(DEFAULT_VOCABULARY_DIR, tmp_path / "data")
    before = vocabulary_digest(tmp_path / "data")
    assert vocabulary_digest(tmp_path / "data") == before == vocabulary_digest(DEFAULT_VOCABULARY_DIR)
    path = compiled_path(tmp_path / "data", "it")
    path.write_bytes(path.read_bytes() + b"\n")  # rewritten: another size and time
    changed = vocabulary_digest(tmp_path / "data")
    assert changed != before
    path.unlink()
    assert vocabulary_digest(tmp_path / "data") not in (before, changed)


def _reference(engine: CpuSpellcheckEngine, item: SpellcheckInput) -> str:
    lang = normalize_lang(item.lang)
    if lang is None or not item.text.strip():
        return item.text
    fixed = apply_edits(item.text, find_edits(item.text, engine.vocabulary(lang)))
    # the separator stage runs after the word edits, on their output (one implementation)
    return apply_edits(fixed, engine.separator_repairer(lang).edits(fixed))


def test_fast_path_gives_the_reference_implementation_s_outputs():
    rows = duckdb.connect().execute(
        "SELECT lang, t.text FROM (SELECT lang, unnest(ingredients_text) AS t FROM read_parquet(?)) "
        "WHERE t.text IS NOT NULL", [str(SAMPLE)]
    ).fetchall()
    items = [SpellcheckInput(text, lang) for lang, text in rows]
    items += [SpellcheckInput(i.source, i.lang) for split in ("dev", "test") for i in dataset.load(split)]
    items += [SpellcheckInput("Weizen - mehl, Zucker - frei, Mono - und Diglyceride", "de"),
              SpellcheckInput("www.lecthin.com, soy lecthin, _gulten_", "en")]
    engine = CpuSpellcheckEngine()
    fast = engine.correct(items)
    changed = 0
    for item, correction in zip(items, fast, strict=True):
        assert correction.correction == _reference(engine, item), item
        changed += correction.correction != item.text
    assert changed > 300  # the comparison covers many real edits, not only unchanged texts


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_flags_of_every_word_are_its_classes_in_the_compiled_sections(lang):
    # Foreign words are searched in their section's text rather than loaded into the dict:
    # every word of every section still gets exactly the classes the compiler gave it.
    import zlib

    from offbatch.engines.spellcheck.vocabulary import (
        COMMON,
        FOREIGN,
        JOIN_TARGET,
        KNOWN,
        SECTIONS,
        TRUSTED,
    )

    vocabulary = load_vocabulary(lang, vocabulary_dir=DEFAULT_VOCABULARY_DIR)
    expected: dict[str, int] = {}
    for offset, length in vocabulary._index.values():
        sections = zlib.decompress(vocabulary._data[offset : offset + length]).decode().split("\0")
        assert len(sections) == len(SECTIONS)
        for section, flag in zip(sections, (KNOWN, JOIN_TARGET, TRUSTED, COMMON, FOREIGN), strict=False):
            for word in filter(None, section.split("\n")):
                expected[word] = expected.get(word, 0) | flag
    assert sum(1 for f in expected.values() if f == FOREIGN) > 10_000
    assert all(vocabulary.flags(word) == flags for word, flags in expected.items())
    for unknown in ("", "qqqq", "zzzzzz", "sucre\nfleur"):
        assert unknown in expected or vocabulary.flags(unknown) == 0


def test_a_word_frequent_in_another_language_is_foreign_not_known():
    vocabulary = load_vocabulary("en", vocabulary_dir=DEFAULT_VOCABULARY_DIR)
    assert vocabulary.is_foreign("fleur") and not vocabulary.is_known("fleur")
    assert vocabulary.is_known("flour") and not vocabulary.is_foreign("flour")


def test_a_compiled_file_without_its_typo_targets_is_a_clear_engine_error(tmp_path):
    # A file compiled before the typo targets were added to the header must be rebuilt.
    import json

    shutil.copytree(DEFAULT_VOCABULARY_DIR, tmp_path / "data")
    path = compiled_path(tmp_path / "data", "en")
    header, _, rest = path.read_bytes().partition(b"\n")
    fields = json.loads(header)
    del fields["targets"]
    path.write_bytes(json.dumps(fields).encode() + b"\n" + rest)
    with pytest.raises(EngineError, match="typo targets") as raised:
        CpuSpellcheckEngine(vocabulary_dir=tmp_path / "data").correct([SpellcheckInput("sugar", "en")])
    assert "--compile-only" in (raised.value.hint or "")
