"""The compiled vocabularies: what the build script makes is what ships, loaded lazily."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from offbatch.engines.base import SpellcheckInput
from offbatch.engines.cpu import CpuSpellcheckEngine, normalize_lang
from offbatch.engines.evaluation import dataset
from offbatch.engines.spellcheck.compiler import compile_all
from offbatch.engines.spellcheck.repair import apply_edits, find_edits
from offbatch.engines.spellcheck.vocabulary import (
    DEFAULT_VOCABULARY_DIR,
    SUPPORTED_LANGUAGES,
    compiled_path,
    load_vocabulary,
    vocabulary_digest,
)
from offbatch.errors import EngineError

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "offbatch" / "data" / "off-food-sample.parquet"


def test_shipped_compiled_files_are_what_the_build_script_produces(tmp_path):
    # The build script's compile step (scripts/build_food_vocabulary.py --compile-only) from the
    # shipped food words and the installed pyspellchecker gives the shipped bytes, every language.
    compile_all(DEFAULT_VOCABULARY_DIR, tmp_path)
    for lang in SUPPORTED_LANGUAGES:
        built = compiled_path(tmp_path, lang).read_bytes()
        assert built == compiled_path(DEFAULT_VOCABULARY_DIR, lang).read_bytes(), (
            f"{lang}: rebuild with: python scripts/build_food_vocabulary.py --compile-only"
        )


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
    return apply_edits(item.text, find_edits(item.text, engine.vocabulary(lang)))


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
