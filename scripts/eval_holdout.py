"""Score the CPU engine on dev with a vocabulary that has not seen the texts it is scored on.

The shipped food vocabulary and ingredient lexicon are counted from every dev text, so
``offbatch eval`` (dev) flatters the engine: each dev word it meets was counted. The frozen test
split is not counted, which is why it reads lower. This script is the honest tuning figure: dev's
texts fall in two halves (by a second byte of the same hash that picks dev or test); for each
half, the vocabulary and lexicon are rebuilt (scripts/build_food_vocabulary.py, same seeds, same
settings) from the *other* half only, into a temporary folder, and the engine is scored on this
half's items. The two halves' scores are added into one report.

    PYTHONPATH=src python scripts/eval_holdout.py                # the shipped rules
    PYTHONPATH=src python scripts/eval_holdout.py --lost-commas  # with the opt-in rule
    PYTHONPATH=src python scripts/eval_holdout.py --min-texts 1000000  # seed words only

Tune on this and on ``offbatch eval``; never on the test split.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_food_vocabulary

from offbatch.engines.cpu import CpuSpellcheckEngine
from offbatch.engines.evaluation import dataset
from offbatch.engines.evaluation.metric import Score
from offbatch.engines.evaluation.report import Report, evaluate, format_report


def half_of_text(text: str) -> int:
    """0 or 1: the second byte of the hash whose first byte picks dev or test."""
    return hashlib.sha256(text.encode()).digest()[1] % 2


def half_of_item(item: dataset.EvalItem) -> int:
    # An item's id starts with sha256(text)[:12] in hex: its second byte is id[2:4].
    return int(item.id[2:4], 16) % 2


def merge(total: Report, part: Report) -> None:
    total.overall.add(part.overall)
    for lang, score in part.by_language.items():
        total.by_language.setdefault(lang, Score()).add(score)
    total.items += part.items
    total.clean_items += part.clean_items
    total.clean_changed += part.clean_changed
    total.mistakes += part.mistakes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lost-commas", action="store_true", help="turn on the lost-comma rule")
    parser.add_argument("--show-mistakes", type=int, default=0, metavar="N",
                        help="print up to N items where the engine made a wrong change")
    parser.add_argument("--min-texts", type=int, default=2, metavar="N",
                        help="texts a counted word must occur in (default 2, as shipped); a huge N "
                             "leaves the hand-checked seeds as the only food words: how the engine "
                             "fares on words no text taught it")
    parser.add_argument("--noise-seed", type=int, default=dataset.DEFAULT_SEED, metavar="N",
                        help=f"draw dev's noise with another seed (default {dataset.DEFAULT_SEED}, as "
                             "`offbatch eval`): fresh noise on the same texts, which no rule or word "
                             "list was tuned on")
    parser.add_argument("--food-seeds", type=Path, metavar="DIR",
                        help="hand-checked seed lists to build with (default scripts/food_seeds): "
                             "compares two versions of the lists")
    args = parser.parse_args()
    if args.food_seeds is not None:
        build_food_vocabulary.SEED_DIR = args.food_seeds
    items = dataset.load("dev", seed=args.noise_seed)
    total = Report()
    for half in (0, 1):
        with tempfile.TemporaryDirectory(prefix="offbatch-holdout-") as tmp:
            build_food_vocabulary.build(
                build_food_vocabulary.DEFAULT_DATASET, Path(tmp), min_texts=args.min_texts,
                keep=lambda text, half=half: half_of_text(text) != half, verbose=False,
            )
            engine = CpuSpellcheckEngine(vocabulary_dir=tmp, lost_commas=args.lost_commas)
            merge(total, evaluate(engine, [i for i in items if half_of_item(i) == half]))
    print(format_report(total, title=f"{engine.version.split('+')[0]} on dev, hold-out vocabulary"))
    for item, prediction in total.mistakes[: args.show_mistakes]:
        print(f"\n[{item.lang}] {item.id}\n  source:     {item.source}\n  reference:  "
              f"{item.reference}\n  prediction: {prediction}")


if __name__ == "__main__":
    main()
