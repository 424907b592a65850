"""Parquet parts: one written atomically, or a stream of rows dealt round-robin into n parts.

Only pyarrow and ``storage``: a task imports this to write its output part without DuckDB.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from contextlib import ExitStack

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from offbatch import storage

ROW_GROUP_SIZE = 10_000


def write_parquet_atomic(url: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> int:
    """Write batches as one Parquet object at ``url`` (atomically); return the row count."""
    count = 0
    with storage.open_atomic(url) as f, pq.ParquetWriter(f, schema) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(_conform(batch, schema), row_group_size=ROW_GROUP_SIZE)
                count += batch.num_rows
    return count


def write_round_robin(urls: list[str], batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> list[int]:
    """Deal the rows of ``batches`` into the parts at ``urls``: row r of the stream goes to part r % n.

    One pass over the stream, every part open at once; rows are buffered per part and written in
    row groups of ``ROW_GROUP_SIZE``. Each part appears only if the whole stream was written (an
    exception, e.g. from the stream itself, leaves none of them). Nothing is created before the
    stream yields its first row, so a stream that fails at once leaves no trace at all.
    Returns the rows in each part.
    """
    n = len(urls)
    counts = [0] * n
    stream = iter(batches)
    first = next((batch for batch in stream if batch.num_rows), None)
    if first is not None:
        stream = itertools.chain([first], stream)
    with ExitStack() as stack:
        writers = [stack.enter_context(pq.ParquetWriter(stack.enter_context(storage.open_atomic(url)), schema))
                   for url in urls]
        buffers: list[list[pa.RecordBatch]] = [[] for _ in range(n)]
        buffered = [0] * n
        offset = 0  # position in the stream of the current batch's first row
        picks = _Picks(n)
        for batch in stream:
            size = batch.num_rows
            if not size:
                continue
            batch = _conform(batch, schema)
            for part in range(n):
                indices = picks.of(first=(part - offset) % n, size=size)
                if indices is None:
                    continue
                piece = batch if n == 1 else batch.take(indices)
                buffers[part].append(piece)
                buffered[part] += piece.num_rows
                if buffered[part] >= ROW_GROUP_SIZE:
                    _flush(writers[part], buffers[part], schema)
                    counts[part] += buffered[part]
                    buffered[part] = 0
            offset += size
        for part in range(n):
            if buffers[part]:
                _flush(writers[part], buffers[part], schema)
                counts[part] += buffered[part]
    return counts


class _Picks:
    """The row indices ``first, first + n, ...`` below ``size``, built once per (first, size)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.cache: dict[tuple[int, int], pa.Array | None] = {}

    def of(self, *, first: int, size: int) -> pa.Array | None:
        key = (first, size)
        if key not in self.cache:
            if first >= size:
                self.cache[key] = None
            else:
                base = pa.array(range(0, size - first, self.n), pa.int64())
                self.cache[key] = pc.add(base, first) if first else base
        return self.cache[key]


def _flush(writer: pq.ParquetWriter, buffer: list[pa.RecordBatch], schema: pa.Schema) -> None:
    writer.write_table(pa.Table.from_batches(buffer, schema), row_group_size=ROW_GROUP_SIZE)
    buffer.clear()


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    return batch if batch.schema.equals(schema) else batch.cast(schema)
