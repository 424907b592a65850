"""Extraction: one DuckDB scan of the dataset into ``task_count`` balanced input shards.

The job type's query runs once into a temporary table (insertion order = the query's order);
shard *i* takes rows ``i, i+n, i+2n, ...`` so each shard gets an equal share of every popularity
band. Shards stream out as Arrow batches into Parquet parts written atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from offbatch import storage
from offbatch.errors import DatasetError
from offbatch.jobs.base import JobType
from offbatch.storage import JobFolder

ROW_GROUP_SIZE = 10_000


@dataclass(frozen=True)
class Extraction:
    rows: int
    shard_rows: list[int]
    seconds: float


def open_dataset(
    con: duckdb.DuckDBPyConnection, dataset: str, required: tuple[str, ...], *, exclude_codes: pa.Array | None = None
) -> None:
    """Expose ``dataset`` (a Parquet file, glob or gs:// URL) as the view ``dataset``.

    Products whose code is in ``exclude_codes`` are left out (incremental launches).
    """
    if dataset.startswith("gs://"):
        fs, _ = storage.filesystem(dataset)
        con.register_filesystem(fs)
    elif not any(ch in dataset for ch in "*?[") and not Path(dataset).exists():
        raise DatasetError(f"dataset not found: {dataset}", hint="pass --dataset PATH to an OFF Parquet dump")
    try:
        rel = con.read_parquet(dataset)
    except (duckdb.Error, OSError) as e:
        raise DatasetError(f"cannot read dataset {dataset} as Parquet: {_first_line(e)}") from e
    missing = [c for c in required if c not in rel.columns]
    if missing:
        raise DatasetError(
            f"dataset {dataset} lacks required columns: {', '.join(missing)}",
            hint="offbatch expects the Open Food Facts Parquet dump schema",
        )
    if exclude_codes is not None and len(exclude_codes):
        con.register("excluded_codes", pa.table({"code": exclude_codes.cast(pa.string())}))
        rel = rel.join(con.table("excluded_codes"), "code", how="anti")
    rel.create_view("dataset")


def select(
    con: duckdb.DuckDBPyConnection,
    *,
    dataset: str,
    job_type: JobType,
    params: BaseModel,
    exclude_codes: pa.Array | None = None,
) -> int:
    """Run the job type's extraction into the temp table ``selected``; return its row count."""
    open_dataset(con, dataset, job_type.dataset_columns, exclude_codes=exclude_codes)
    sql, args = job_type.extraction_query(params)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE selected AS {sql}", args)
    except duckdb.Error as e:
        raise DatasetError(f"extraction failed on {dataset}: {_first_line(e)}") from e
    ((rows,),) = con.execute("SELECT count(*) FROM selected").fetchall()
    return int(rows)


def connect(*, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for one extraction, its memory capped at ``memory_limit`` if given."""
    con = duckdb.connect()
    if memory_limit:
        # SET takes no bound parameter; the value is checked against a strict pattern first.
        con.execute(f"SET memory_limit = '{_safe_memory_limit(memory_limit)}'")
    return con


def no_products(dataset: str, *, exclude_codes: pa.Array | None = None) -> DatasetError:
    """The error of an extraction that selected nothing, with the hint that fits."""
    hint = "widen the filters (--param) or check the dataset"
    if exclude_codes is not None and len(exclude_codes):
        hint = (f"{len(exclude_codes)} products already have predictions from this engine version and "
                "were skipped; pass --include-predicted to process them again")
    return DatasetError(f"the extraction selected no products from {dataset}", hint=hint)


def write_shards(con: duckdb.DuckDBPyConnection, *, job_type: JobType, folder: JobFolder, task_count: int) -> list[int]:
    """Write the ``selected`` table (made by ``select`` on ``con``) as ``task_count`` input parts."""
    columns = ", ".join(f'"{name}"' for name in job_type.input_schema.names)
    shard_rows = []
    for index in range(task_count):
        reader = con.sql(
            f"SELECT {columns} FROM selected WHERE rowid % ? = ? ORDER BY rowid",
            params=[task_count, index],
        ).to_arrow_reader(ROW_GROUP_SIZE)
        shard_rows.append(write_parquet_atomic(folder.input_part(index), reader, job_type.input_schema))
    return shard_rows


def extract(
    *,
    dataset: str,
    job_type: JobType,
    params: BaseModel,
    folder: JobFolder,
    task_count: int,
    exclude_codes: pa.Array | None = None,
    memory_limit: str | None = None,
) -> Extraction:
    """Select the rows to process and write them as ``task_count`` input parts."""
    started = time.perf_counter()
    con = connect(memory_limit=memory_limit)
    try:
        rows = select(con, dataset=dataset, job_type=job_type, params=params, exclude_codes=exclude_codes)
        if rows == 0:
            raise no_products(dataset, exclude_codes=exclude_codes)
        shard_rows = write_shards(con, job_type=job_type, folder=folder, task_count=task_count)
    finally:
        con.close()
    return Extraction(rows=rows, shard_rows=shard_rows, seconds=time.perf_counter() - started)


def write_parquet_atomic(url: str, batches: pa.RecordBatchReader | list[pa.RecordBatch], schema: pa.Schema) -> int:
    """Write batches as one Parquet object at ``url`` (atomically); return the row count."""
    count = 0
    with storage.open_atomic(url) as f, pq.ParquetWriter(f, schema) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(batch.cast(schema), row_group_size=ROW_GROUP_SIZE)
                count += batch.num_rows
    return count


def _safe_memory_limit(value: str) -> str:
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)", value.strip()):
        raise DatasetError(f"invalid DuckDB memory limit {value!r} (e.g. '400MB')")
    return value.strip()


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
