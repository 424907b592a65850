"""Measure the CPU spellcheck engine on the bundled sample: load time, words/s, texts changed.

    PYTHONPATH=src python bench/bench_cpu_engine.py
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from offbatch.engines.base import SpellcheckInput
from offbatch.engines.cpu import CpuSpellcheckEngine
from offbatch.engines.spellcheck.vocabulary import SUPPORTED_LANGUAGES, WORD

SAMPLE = Path(__file__).resolve().parent.parent / "src" / "offbatch" / "data" / "off-food-sample.parquet"


def main() -> None:
    rows = duckdb.connect().execute(
        "SELECT lang, list_filter(ingredients_text, lambda x: x.lang = 'main')[1].text "
        "FROM read_parquet(?) ORDER BY code",
        [str(SAMPLE)],
    ).fetchall()
    items = [SpellcheckInput(text, lang) for lang, text in rows if text is not None]
    words = sum(len(WORD.findall(item.text)) for item in items)

    start = time.perf_counter()
    CpuSpellcheckEngine().correct([SpellcheckInput("léci - thine", "fr")])
    print(f"cold first call (fr + foreign-word sets of 6 languages): {time.perf_counter() - start:.3f} s")
    start = time.perf_counter()
    CpuSpellcheckEngine(fix_typos=False).correct([SpellcheckInput("léci - thine", "fr")])
    print(f"cold first call, fix_typos=False (fr only): {time.perf_counter() - start:.3f} s")

    engine = CpuSpellcheckEngine()
    for lang in SUPPORTED_LANGUAGES:
        start = time.perf_counter()
        engine.vocabulary(lang)
        print(f"load {lang}: {time.perf_counter() - start:.3f} s")
    start = time.perf_counter()
    engine.correct(items[:1])  # builds the cross-language "foreign words" sets once
    print(f"first call (foreign-word sets): {time.perf_counter() - start:.3f} s")

    for fix_typos in (True, False):
        engine = CpuSpellcheckEngine(fix_typos=fix_typos)
        engine.correct(items)  # warm: vocabularies loaded
        start = time.perf_counter()
        corrections = engine.correct(items)
        elapsed = time.perf_counter() - start
        changed = sum(c.correction != i.text for c, i in zip(corrections, items, strict=True))
        print(
            f"fix_typos={fix_typos}: {len(items)} texts, {words} words in {elapsed:.3f} s "
            f"= {words / elapsed:,.0f} words/s; {changed} texts changed"
        )


if __name__ == "__main__":
    main()
