"""Build the shipped food vocabularies, src/offbatch/engines/data/food_words_{lang}.txt.

A word enters the vocabulary of language L when it is a hand-checked seed word
(scripts/food_seeds/L.txt) or when it occurs in at least --min-texts distinct ingredient texts
of products whose language is L. Counting distinct texts (not products) keeps one typo copied
over many duplicate products from counting many times. Counted words can still be typos
repeated in several texts; they only make a word "known" (never corrected, usable as the result
of joining split pieces); a typo is corrected only *to* a seed word or to a counted word the
general dictionary also knows.

Texts of the evaluation's frozen test split (engines/evaluation/dataset.py) are never counted,
so the test split measures the engine on words its vocabulary did not learn from.

The same texts give each language's ingredient lexicon, data/ingredients_{lang}.txt: every
segment between separators shaped like an ingredient name (spellcheck/ingredients.py), with the
number of distinct texts it occurs in, plus the hand-checked seed names of
scripts/ingredient_seeds/L.txt (common names and compounds, ``garlic salt``, ``huile de
tournesol``), each counted as seen in at least SEED_NAME_TEXTS texts so that the separator stage
never cuts one; the separator stage restores commas with it.

Then every language is compiled (food words + pyspellchecker's lists) into
``data/vocabulary/{lang}.vocab``, and its ingredient names into ``{lang}.ingredients``: the
only files the engine reads (spellcheck/compiler.py).
``--compile-only`` skips the counting and recompiles from the food-word files as they are.
Run:

    PYTHONPATH=src python scripts/build_food_vocabulary.py                  # bundled sample
    PYTHONPATH=src python scripts/build_food_vocabulary.py --dataset food.parquet --min-texts 20
    PYTHONPATH=src python scripts/build_food_vocabulary.py --compile-only
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb

from offbatch.engines.evaluation.dataset import split_of
from offbatch.engines.spellcheck.compiler import (
    compile_all,
    food_words_path,
    ingredient_names_path,
    write_ingredient_names,
)
from offbatch.engines.spellcheck.ingredients import segment_key, text_segments
from offbatch.engines.spellcheck.vocabulary import (
    DEFAULT_VOCABULARY_DIR,
    SUPPORTED_LANGUAGES,
    WORD,
    lookup_key,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = REPO / "src" / "offbatch" / "data" / "off-food-sample.parquet"
SEED_DIR = Path(__file__).resolve().parent / "food_seeds"
NAME_SEED_DIR = Path(__file__).resolve().parent / "ingredient_seeds"
# A seed name counts as seen in this many texts: known, and never cut by the separator stage
# (SeparatorRepairer.MIN_BLOCKING).
SEED_NAME_TEXTS = 2
MIN_WORD_LENGTH = 2
BATCH_ROWS = 50_000

QUERY = """
SELECT lower(lang) AS lang,
       list_filter(ingredients_text, lambda x: x.lang = 'main')[1].text AS text
FROM read_parquet(?)
WHERE lower(lang) IN (SELECT unnest(?::VARCHAR[]))
"""


def read_seed(lang: str) -> set[str]:
    path = SEED_DIR / f"{lang}.txt"
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {lookup_key(line.strip()) for line in lines if line.strip() and not line.startswith("#")}


def read_seed_names(lang: str) -> set[str]:
    """The lexicon keys of the hand-checked ingredient names of ``lang`` (none without a file)."""
    path = NAME_SEED_DIR / f"{lang}.txt"
    if not path.is_file():
        return set()
    keys = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key = segment_key(line)
        if not key:
            raise SystemExit(
                f"error: {path}:{number}: {line.strip()!r} is not shaped like an ingredient name")
        keys.add(key)
    return keys


def count_texts(dataset: Path, *, keep: Callable[[str], bool] | None = None
                ) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """Per language: word -> number of distinct ingredient texts containing it, and ingredient
    name (segment between separators, spellcheck/ingredients.py) -> the same. ``keep`` (a
    predicate on the stripped text) leaves out more texts than the test split's: the hold-out
    evaluation (scripts/eval_holdout.py) counts one half of dev and scores the other."""
    counts: dict[str, Counter[str]] = {lang: Counter() for lang in SUPPORTED_LANGUAGES}
    segments: dict[str, Counter[str]] = {lang: Counter() for lang in SUPPORTED_LANGUAGES}
    seen: set[bytes] = set()
    con = duckdb.connect()
    cursor = con.execute(QUERY, [str(dataset), list(SUPPORTED_LANGUAGES)])
    while rows := cursor.fetchmany(BATCH_ROWS):
        for lang, text in rows:
            if not text or split_of(text.strip()) == "test":
                continue
            if keep is not None and not keep(text.strip()):
                continue
            key = hashlib.blake2b(f"{lang}\0{text}".encode(), digest_size=12).digest()
            if key in seen:
                continue
            seen.add(key)
            words = {lookup_key(w) for w in WORD.findall(text)}
            counts[lang].update(w for w in words if len(w) >= MIN_WORD_LENGTH)
            segments[lang].update(text_segments(text))
    return counts, segments


def write_vocabulary(path: Path, *, lang: str, counts: Counter[str], seed: set[str],
                     min_texts: int, max_words: int, dataset_name: str) -> int:
    counted = [w for w, n in counts.most_common() if n >= min_texts and w not in seed]
    counted = sorted(counted[: max(0, max_words - len(seed))])
    rows = [(w, counts[w], "seed") for w in seed] + [(w, counts[w], "counted") for w in counted]
    rows.sort()
    header = (
        f"# Food words for {lang!r}: generated by scripts/build_food_vocabulary.py from "
        f"{dataset_name} (--min-texts {min_texts}). Do not edit; edit the seeds and rebuild.\n"
        "# word<TAB>distinct texts containing it<TAB>seed|counted\n"
    )
    path.write_text(header + "".join(f"{w}\t{n}\t{s}\n" for w, n, s in rows), encoding="utf-8")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET,
                        help="an OFF Parquet dump (default: the bundled 1,000-product sample)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_VOCABULARY_DIR)
    parser.add_argument("--min-texts", type=int, default=2,
                        help="distinct texts a counted word must occur in (default: 2)")
    parser.add_argument("--max-words", type=int, default=20_000,
                        help="per-language cap, most frequent first (keeps shipped data small)")
    parser.add_argument("--compile-only", action="store_true",
                        help="skip counting; recompile the food-word files of --output-dir as they are")
    args = parser.parse_args()
    if args.compile_only:
        for lang, size in compile_all(args.output_dir).items():
            print(f"{lang}: compiled, {size:,} bytes")
        return
    build(args.dataset, args.output_dir, min_texts=args.min_texts, max_words=args.max_words)


def build(dataset: Path, output_dir: Path, *, min_texts: int = 2, max_words: int = 20_000,
          keep: Callable[[str], bool] | None = None, verbose: bool = True) -> None:
    """Count ``dataset`` (minus the test split, minus what ``keep`` refuses), write each
    language's food words and ingredient names into ``output_dir`` and compile them there."""
    counts, segments = count_texts(dataset, keep=keep)
    output_dir.mkdir(parents=True, exist_ok=True)
    say = print if verbose else (lambda *_: None)
    for lang in SUPPORTED_LANGUAGES:
        n = write_vocabulary(
            food_words_path(output_dir, lang), lang=lang, counts=counts[lang],
            seed=read_seed(lang), min_texts=min_texts, max_words=max_words,
            dataset_name=dataset.name,
        )
        say(f"{lang}: {n} words")
        names = segments[lang]
        for key in read_seed_names(lang):
            names[key] = max(names[key], SEED_NAME_TEXTS)
        n = write_ingredient_names(
            ingredient_names_path(output_dir, lang), lang=lang, counts=names,
            dataset_name=dataset.name,
        )
        say(f"{lang}: {n} ingredient names")
    for lang, size in compile_all(output_dir).items():
        say(f"{lang}: compiled, {size:,} bytes")


if __name__ == "__main__":
    main()
