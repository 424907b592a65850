"""The separator stage's share of the CPU engine's time, measured in one process, interleaved.

    .venv/bin/python bench/separator_overhead.py [--lost-commas] [--repeat 7]

The same engine corrects the same rows with its separator stage and with the stage replaced
by one returning no edit, alternately ``--repeat`` times; the figure is the ratio of the median
CPU times (``time.process_time``), so machine load and the caches (filled by a first pass) move
both sides alike. Rows: the sample's main ingredient texts (as shape A of
engine_throughput.py, mostly clean) and the evaluation's noisy texts (as shape B: a quarter of
their noise is separators), each repeated 10 times. Budget: <= 10% more CPU (issue 13).
"""

from __future__ import annotations

import argparse
import statistics
import time

import duckdb

from offbatch.engines.base import SpellcheckInput
from offbatch.engines.cpu import CpuSpellcheckEngine
from offbatch.engines.evaluation import dataset
from offbatch.engines.spellcheck import separators

QUERY = "SELECT lang, list_filter(ingredients_text, lambda x: x.lang = 'main')[1].text FROM read_parquet(?)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lost-commas", action="store_true", help="with the opt-in lost-comma rule")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rows = duckdb.connect().execute(QUERY, [str(dataset.SAMPLE)]).fetchall()
    shapes = {
        "sample main texts": [SpellcheckInput(text, lang) for lang, text in rows if text] * 10,
        "noisy evaluation texts": [SpellcheckInput(item.source, item.lang) for split in dataset.SPLITS
                                   for item in dataset.load(split) if item.noise] * 10,
    }
    stage = separators.SeparatorRepairer.edits
    for name, items in shapes.items():
        engine = CpuSpellcheckEngine(lost_commas=args.lost_commas)
        engine.correct(items)  # fill every cache first
        with_stage, without = [], []
        try:
            for _ in range(args.repeat):
                separators.SeparatorRepairer.edits = stage
                started = time.process_time()
                engine.correct(items)
                with_stage.append(time.process_time() - started)
                separators.SeparatorRepairer.edits = lambda self, text: []
                started = time.process_time()
                engine.correct(items)
                without.append(time.process_time() - started)
        finally:
            separators.SeparatorRepairer.edits = stage
        on, off = statistics.median(with_stage), statistics.median(without)
        print(f"{name}: {len(items):,} rows; with the separator stage {len(items) / on:,.0f} rows/s, "
              f"without {len(items) / off:,.0f} rows/s: {100 * (on / off - 1):+.1f}% CPU")


if __name__ == "__main__":
    main()
