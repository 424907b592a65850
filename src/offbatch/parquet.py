"""Parquet parts written atomically by pyarrow: a task's chunks and output part (a job's input
parts are written by DuckDB itself, see extract.py).

Only pyarrow and ``storage``: a task imports this to write its output without importing DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
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


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    return batch if batch.schema.equals(schema) else batch.cast(schema)
