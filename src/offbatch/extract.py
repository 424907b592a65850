"""Extraction: one DuckDB scan of the dataset into ``task_count`` balanced input shards.

The job type's query runs once into an in-memory table (insertion order = the query's order);
shard *i* takes rows ``i, i+n, i+2n, ...`` so each shard gets an equal share of every popularity
band. DuckDB writes each shard as a Parquet part itself (its parallel writer), atomically.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import BaseModel

from offbatch import storage
from offbatch.errors import DatasetError, StorageError
from offbatch.jobs.base import JobType
from offbatch.parquet import ROW_GROUP_SIZE
from offbatch.storage import JobFolder


@dataclass(frozen=True)
class Extraction:
    rows: int
    shard_rows: list[int]
    seconds: float
    # Products of this selection skipped because they already have a prediction (when rows == 0).
    already_predicted: int = 0


def open_dataset(
    con: duckdb.DuckDBPyConnection, dataset: str, required: tuple[str, ...], *, exclude_codes: pa.Array | None = None,
    optional: dict[str, str] | None = None,
    types: dict[str, pa.DataType] | None = None,
) -> None:
    """Expose ``dataset`` (a Parquet file, glob or gs:// URL) as the view ``dataset``.

    Products whose code is in ``exclude_codes`` are left out (incremental launches). A column
    named in ``types`` whose type does not fit is a DatasetError naming both. An ``optional``
    column the dataset lacks reads as NULL of the given DuckDB type.
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
    if types:
        actual = rel.select(", ".join(f'"{name}"' for name in types)).limit(0).to_arrow_table().schema
        for name, expected in types.items():
            found = actual.field(name).type
            if not type_fits(found, expected):
                raise DatasetError(
                    f"dataset {dataset}: column {name!r} is {found}, expected {expected}",
                    hint="offbatch expects the Open Food Facts Parquet dump schema",
                )
    absent = {name: kind for name, kind in (optional or {}).items() if name not in rel.columns}
    if absent:
        # Names and types are the job type's own constants, never user input.
        rel = rel.project(", ".join(["*", *(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in absent.items())]))
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
    """Run the job type's extraction into the table ``selected``; return its row count.

    A table of ``con``'s in-memory database (``connect``), not a TEMP table: those are private
    to one connection, and ``write_shards`` reads it from several cursors at once.
    """
    open_dataset(con, dataset, job_type.dataset_columns, exclude_codes=exclude_codes,
                 optional=job_type.optional_dataset_columns, types=job_type.dataset_types)
    sql, args = job_type.extraction_query(params)
    try:
        con.execute(f"CREATE OR REPLACE TABLE selected AS {sql}", args)
    except duckdb.Error as e:
        raise DatasetError(f"extraction failed on {dataset}: {_first_line(e)}") from e
    ((rows,),) = con.execute("SELECT count(*) FROM selected").fetchall()
    return int(rows)


def already_predicted(
    con: duckdb.DuckDBPyConnection, *, dataset: str, job_type: JobType, params: BaseModel,
    exclude_codes: pa.Array | None,
) -> int:
    """After a selection of 0 rows: how many products the same selection picks without the exclusion.

    Those are the products of *this* selection that were skipped as already predicted (not every
    product with a prediction). Replaces the table ``selected``.
    """
    if exclude_codes is None or not len(exclude_codes):
        return 0
    return select(con, dataset=dataset, job_type=job_type, params=params, exclude_codes=None)


def type_fits(found: pa.DataType, expected: pa.DataType) -> bool:
    """Whether a dataset column of type ``found`` can stand for ``expected`` (see JobType.dataset_types)."""
    if pa.types.is_string(expected) or pa.types.is_large_string(expected):
        return pa.types.is_string(found) or pa.types.is_large_string(found) or pa.types.is_string_view(found)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(found)
    if pa.types.is_floating(expected) or pa.types.is_decimal(expected):
        return pa.types.is_integer(found) or pa.types.is_floating(found) or pa.types.is_decimal(found)
    if pa.types.is_list(expected) or pa.types.is_large_list(expected):
        return ((pa.types.is_list(found) or pa.types.is_large_list(found) or pa.types.is_list_view(found))
                and type_fits(found.value_type, expected.value_type))
    if pa.types.is_struct(expected):
        if not pa.types.is_struct(found):
            return False
        names = {found.field(i).name: found.field(i).type for i in range(found.num_fields)}
        return all(expected.field(i).name in names and type_fits(names[expected.field(i).name], expected.field(i).type)
                   for i in range(expected.num_fields))
    return found.equals(expected)


def connect(*, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for one extraction, its memory capped at ``memory_limit`` if given."""
    con = duckdb.connect()
    # One extraction reads the dataset's footer several times (column check, type check, the
    # query): parse it once. A footer of a 1M-row OFF dump costs ~0.1 s CPU each time.
    con.execute("SET parquet_metadata_cache = true")
    if memory_limit:
        # SET takes no bound parameter; the value is checked against a strict pattern first.
        con.execute(f"SET memory_limit = '{_safe_memory_limit(memory_limit)}'")
    return con


def no_products(dataset: str) -> DatasetError:
    """The error of an extraction that selects nothing, even counting products already predicted
    (a selection emptied by the exclusion alone is "nothing new", not an error)."""
    return DatasetError(f"the extraction selected no products from {dataset}",
                        hint="widen the filters (--param) or check the dataset")


def write_shards(con: duckdb.DuckDBPyConnection, *, job_type: JobType, folder: JobFolder, task_count: int) -> list[int]:
    """Write the ``selected`` table (made by ``select`` on ``con``) as ``task_count`` input parts.

    Part *i* holds rows ``i, i+n, i+2n, ...`` of the table, in the table's (the query's) order.
    DuckDB writes each part itself with ``COPY``, its parallel Parquet writer: a filtered scan of
    one table keeps the table's row order through ``COPY`` (DuckDB's documented order
    preservation; no ``ORDER BY rowid`` sort needed). Each part is written to a local file that
    ``storage.staged_path`` moves into place atomically (a rename on local storage, an upload to
    ``gs://``). Columns are cast to the job type's ``input_schema`` types, in its order.

    Several parts are written at once (``_writers``), each by its own cursor, when one part's
    COPY cannot use DuckDB's threads by itself. Every writer has finished before this returns
    or raises (nothing is written after an error reaches the caller, who may remove the
    folder); of several failed parts, the error of the lowest-numbered is raised.
    """
    ((rows,),) = con.execute("SELECT count(*) FROM selected").fetchall()
    ((threads,),) = con.execute("SELECT current_setting('threads')").fetchall()
    threads = max(1, int(threads))
    columns = ", ".join(f'CAST("{f.name}" AS {_duckdb_type(job_type, f)}) AS "{f.name}"' for f in job_type.input_schema)
    sql = (f"COPY (SELECT {columns} FROM selected WHERE rowid % ? = ?) TO ? "
           f"(FORMAT parquet, ROW_GROUP_SIZE {_row_group_size(int(rows), task_count=task_count, threads=threads)})")
    writers = _writers(int(rows), task_count=task_count, threads=threads)
    if writers == 1:
        return [_write_part(con, sql, folder=folder, index=index, task_count=task_count) for index in range(task_count)]
    shard_rows: list[int] = [0] * task_count
    failures: dict[int, BaseException] = {}
    # Cursors are connections to the same in-memory database: they see the table ``selected``.
    cursors = [con.cursor() for _ in range(writers)]
    # Set by each writer as it ends. Waited on instead of Thread.join: a join interrupted by
    # Ctrl-C can return at once the next time (CPython gh-90882), and the wait after an
    # interruption must not end before the writers do.
    ended = [threading.Event() for _ in range(writers)]
    began = [threading.Event() for _ in range(writers)]  # set first thing by each writer

    def write(first: int) -> None:
        began[first].set()
        try:
            for index in range(first, task_count, writers):
                if failures:  # another part failed, or the caller was interrupted: write nothing more
                    return
                try:
                    shard_rows[index] = _write_part(cursors[first], sql, folder=folder, index=index,
                                                    task_count=task_count)
                except BaseException as e:  # noqa: BLE001 - handed to the calling thread, which raises it
                    failures[index] = e
                    return
        finally:
            ended[first].set()

    launched: list[int] = []  # writers whose thread exists, or may: waited for before raising
    try:
        for first in range(writers):
            thread = threading.Thread(target=write, args=(first,), daemon=True, name=f"offbatch-part-{first}")
            try:
                thread.start()
            except Exception:  # no thread was made (none left to start)
                raise
            except BaseException:  # Ctrl-C while the new thread was starting: it runs all the same
                launched.append(first)
                raise
            launched.append(first)
        for first in launched:
            ended[first].wait()
    except BaseException:
        # Interrupted (Ctrl-C) or out of threads: stop the COPYs under way and wait for the
        # writers, so no part appears after this raises (and no cursor is busy when closed).
        failures.setdefault(-1, RuntimeError("interrupted"))
        for cursor in cursors:
            cursor.interrupt()
        for first in launched:
            # A thread interrupted in its start() began within moments, or was never made.
            if began[first].wait(WRITER_START_GRACE_SECONDS):
                ended[first].wait()
        raise
    finally:
        for cursor in cursors:
            cursor.close()
    if failures:
        raise failures[min(failures)]
    return shard_rows


def _write_part(cursor: duckdb.DuckDBPyConnection, sql: str, *, folder: JobFolder, index: int, task_count: int) -> int:
    """Write input part ``index`` with ``sql`` (write_shards' COPY) through a staged file; its row count."""
    url = folder.input_part(index)
    try:
        with storage.staged_path(url) as path:
            ((rows,),) = cursor.execute(sql, [task_count, index, path]).fetchall()
    except duckdb.IOException as e:
        raise StorageError(f"cannot write {url}: {_first_line(e)}") from e
    except duckdb.Error as e:
        raise DatasetError(f"writing input part {index} failed: {_first_line(e)}") from e
    return int(rows)


def _writers(rows: int, *, task_count: int, threads: int) -> int:
    """How many parts to write at once: enough for every DuckDB thread to have work.

    A part's COPY scans the table with one thread per row group of it (122,880 rows), so a
    selection of one row group (100k products: ~54k rows) wrote its 8 parts one after the other
    on one thread each, the other cores idle (~0.1 s of a ~0.3 s floor on 2 cores). A selection
    of as many row groups as threads keeps every thread busy in each COPY: one at a time.
    """
    row_groups = max(1, -(-rows // _DUCKDB_ROW_GROUP_SIZE))
    return max(1, min(task_count, threads // row_groups))


def _row_group_size(rows: int, *, task_count: int, threads: int) -> int:
    """Rows per row group of an input part: one row group per DuckDB thread in a part, so every
    thread encodes (DuckDB's writer works a row group per thread), within ROW_GROUP_SIZE (fewer,
    larger groups cost less: ~7 ms each on texts that do not repeat) and DuckDB's own default."""
    per_part = -(-rows // task_count)
    return min(_DUCKDB_ROW_GROUP_SIZE, max(ROW_GROUP_SIZE, -(-per_part // threads)))


_DUCKDB_ROW_GROUP_SIZE = 122_880
# How long a part writer whose start() was interrupted may take to begin (it is made before
# start() waits for it, so it begins within moments, unless it was never made).
WRITER_START_GRACE_SECONDS = 5.0

# The DuckDB type each Arrow type of an input schema is written as (Parquet keeps it: pyarrow reads
# VARCHAR back as string, DOUBLE as float64...).
_DUCKDB_TYPES = {
    pa.string(): "VARCHAR", pa.large_string(): "VARCHAR", pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
    pa.float32(): "FLOAT", pa.float64(): "DOUBLE",
}


def _duckdb_type(job_type: JobType, field: pa.Field) -> str:
    try:
        return _DUCKDB_TYPES[field.type]
    except KeyError:
        # A job type's own definition, never user input: a test checks every registered job type.
        raise TypeError(f"job type {job_type.name}: input column {field.name!r} has type {field.type}, "
                        f"which input parts cannot hold (one of: {', '.join(sorted(map(str, _DUCKDB_TYPES)))})"
                        ) from None


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
    """Select the rows to process and write them as input parts, one per task.

    Fewer rows than ``task_count`` make as many parts as rows: no task starts with nothing to
    do (``len(shard_rows)`` is the job's task count). A selection emptied by ``exclude_codes``
    alone is not an error: it returns 0 rows and how many of its products were excluded.
    """
    started = time.perf_counter()
    con = connect(memory_limit=memory_limit)
    try:
        rows = select(con, dataset=dataset, job_type=job_type, params=params, exclude_codes=exclude_codes)
        if rows == 0:
            skipped = already_predicted(con, dataset=dataset, job_type=job_type, params=params,
                                        exclude_codes=exclude_codes)
            if skipped:
                return Extraction(rows=0, shard_rows=[], seconds=time.perf_counter() - started,
                                  already_predicted=skipped)
            raise no_products(dataset)
        # Fewer rows than tasks: one part per row, no task with nothing to do.
        shard_rows = write_shards(con, job_type=job_type, folder=folder, task_count=min(task_count, rows))
    finally:
        con.close()
    return Extraction(rows=rows, shard_rows=shard_rows, seconds=time.perf_counter() - started)


def _safe_memory_limit(value: str) -> str:
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)", value.strip()):
        raise DatasetError(f"invalid DuckDB memory limit {value!r} (e.g. '400MB')")
    return value.strip()


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
