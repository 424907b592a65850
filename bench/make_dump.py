"""Write an N-row dump in the exact OFF Parquet schema, built from the bundled 1,000-product sample.

    PYTHONPATH=src python bench/make_dump.py --rows 1000000 --out /tmp/off-1m.parquet

Each generated product takes every column from one random sample product (its "body"), its
ingredient fields (``ingredients_text`` with its ``lang``, ``ingredients_n`` and
``unknown_ingredients_n``, kept together so a text stays in its own language and the extraction
filters select a realistic share) from another, and its ``popularity_key`` from a third. Codes
are new and unique (``2`` + 12 digits: the in-store range, never a real product). The output is
written one row group at a time, so memory stays bounded whatever ``--rows`` is.

``--shape`` changes what the data looks like, so a benchmark is never tuned to one dump:

- ``sample`` (default): texts, popularity and bodies drawn independently from the sample, so
  the ~1,000 distinct texts repeat (cheap for Parquet's dictionary encoding);
- ``unique``: every text is made unique (its ingredients shuffled by the row's own random draw,
  as real dumps have almost no two identical lists), and ``popularity_key`` follows a
  heavy-tailed law independent of everything else (a few very popular products, a long tail);
- ``sorted``: like ``unique``, but rows are written in descending popularity order, as a dump
  sorted upstream would be (the extraction's ORDER BY then meets pre-sorted input).

It prints the time, file size and peak RSS; the floor, measured in the same run, writes the same
number of rows as plain repeats of the sample table with the same writer settings (the cost of
Parquet encoding alone, without drawing and shuffling).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from measure import vm_hwm_mib

SAMPLE = Path(__file__).resolve().parent.parent / "src" / "offbatch" / "data" / "off-food-sample.parquet"
INGREDIENT_COLUMNS = ("ingredients_text", "lang", "ingredients_n", "unknown_ingredients_n")
ROW_GROUP_SIZE = 10_000


def _draw(rng: random.Random, n: int, size: int) -> pa.Array:
    """``size`` random row indices of an ``n``-row table (with replacement)."""
    return pa.array([rng.randrange(n) for _ in range(size)], pa.int32())


def _take_columns(table: pa.Table, names: tuple[str, ...], indices: pa.Array) -> dict[str, pa.ChunkedArray]:
    picked = table.select(list(names)).take(indices)
    return {name: picked.column(name) for name in names}


SHAPES = ("sample", "unique", "sorted")


def _unique_texts(column: pa.ChunkedArray, rng: random.Random) -> pa.Array:
    """Each list of ingredient texts with its ingredients in an order of the row's own."""
    out = []
    for entries in column.to_pylist():
        if entries:
            entries = [dict(e) for e in entries]
            for entry in entries:
                if entry.get("text"):
                    parts = entry["text"].split(", ")
                    rng.shuffle(parts)
                    entry["text"] = ", ".join(parts) + f" ({rng.randrange(1, 100)}%)"
        out.append(entries)
    return pa.array(out, column.type)


def _heavy_tailed(rng: random.Random, size: int, *, start: int, rows: int, ordered: bool) -> pa.Array:
    """Popularity keys: Pareto-distributed, or strictly descending with the row number."""
    if ordered:
        return pa.array([(rows - i) * 1000 for i in range(start, start + size)], pa.int64())
    return pa.array([int(1000 * rng.paretovariate(1.2)) for _ in range(size)], pa.int64())


def make_dump(out: str | Path, *, rows: int, seed: int = 0, row_group_size: int = ROW_GROUP_SIZE,
              shape: str = "sample") -> int:
    """Write ``rows`` synthetic products to ``out`` (atomically); return the file size in bytes."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    sample = pq.read_table(SAMPLE)
    n = sample.num_rows
    rng = random.Random(seed)
    out = Path(out)
    tmp = out.with_name(f".tmp-{out.name}")
    code_index = sample.schema.get_field_index("code")
    with pq.ParquetWriter(tmp, sample.schema, compression="snappy") as writer:
        for start in range(0, rows, row_group_size):
            size = min(row_group_size, rows - start)

            group = sample.take(_draw(rng, n, size))
            for name, column in _take_columns(sample, INGREDIENT_COLUMNS, _draw(rng, n, size)).items():
                group = group.set_column(group.schema.get_field_index(name), name, column)
            if shape == "sample":
                popularity = sample.column("popularity_key").take(_draw(rng, n, size))
            else:
                texts = _unique_texts(group.column("ingredients_text"), rng)
                group = group.set_column(group.schema.get_field_index("ingredients_text"), "ingredients_text", texts)
                popularity = _heavy_tailed(rng, size, start=start, rows=rows, ordered=shape == "sorted")
            group = group.set_column(group.schema.get_field_index("popularity_key"), "popularity_key", popularity)
            codes = pa.array([f"2{i:012d}" for i in range(start, start + size)], sample.schema.field("code").type)
            group = group.set_column(code_index, sample.schema.field("code"), codes)
            writer.write_table(group, row_group_size=row_group_size)
    os.replace(tmp, out)
    return out.stat().st_size


def _floor_write(out: Path, *, rows: int, row_group_size: int) -> float:
    """Seconds to write ``rows`` rows as repeats of the sample (no drawing, no new codes)."""
    sample = pq.read_table(SAMPLE)
    repeats = pa.concat_tables([sample] * max(1, row_group_size // sample.num_rows))
    started = time.perf_counter()
    with pq.ParquetWriter(out, sample.schema, compression="snappy") as writer:
        for start in range(0, rows, repeats.num_rows):
            writer.write_table(repeats.slice(0, rows - start), row_group_size=row_group_size)
    elapsed = time.perf_counter() - started
    out.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--row-group-size", type=int, default=ROW_GROUP_SIZE)
    parser.add_argument("--shape", choices=SHAPES, default="sample", help="what the data looks like (see above)")
    args = parser.parse_args()

    started = time.perf_counter()
    size = make_dump(args.out, rows=args.rows, seed=args.seed, row_group_size=args.row_group_size, shape=args.shape)
    elapsed = time.perf_counter() - started
    peak_mib = vm_hwm_mib()
    floor = _floor_write(args.out.with_name(f".floor-{args.out.name}"), rows=args.rows,
                         row_group_size=args.row_group_size)
    print(f"wrote {args.out}: {args.rows:,} rows, {size / 2**20:,.0f} MiB, in {elapsed:.1f} s "
          f"({args.rows / elapsed:,.0f} rows/s), peak RSS {peak_mib:,.0f} MiB")
    print(f"floor: writing {args.rows:,} rows as repeats of the sample: {floor:.1f} s; ratio {elapsed / floor:.2f}x")


if __name__ == "__main__":
    main()
