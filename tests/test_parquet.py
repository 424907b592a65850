"""Parquet parts: written atomically, cast to the schema; a task writes them without DuckDB."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from offbatch import parquet
from offbatch.errors import DatasetError

SCHEMA = pa.schema([("i", pa.int64()), ("s", pa.string())])


def test_batches_are_cast_to_the_schema_and_counted(tmp_path):
    narrow = pa.RecordBatch.from_arrays([pa.array([1, 2], pa.int32()), pa.array(["a", "b"])], names=["i", "s"])
    url = (tmp_path / "p.parquet").as_uri()
    assert parquet.write_parquet_atomic(url, [narrow, narrow.slice(0, 0), narrow], SCHEMA) == 4
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.schema.equals(SCHEMA) and table.column("i").to_pylist() == [1, 2, 1, 2]


def test_a_stream_that_fails_midway_leaves_no_part(tmp_path):
    def failing():
        yield pa.RecordBatch.from_arrays([pa.array([1]), pa.array(["a"])], schema=SCHEMA)
        raise DatasetError("the dataset broke")

    with pytest.raises(DatasetError, match="broke"):
        parquet.write_parquet_atomic((tmp_path / "p.parquet").as_uri(), failing(), SCHEMA)
    assert list(tmp_path.iterdir()) == []


def test_a_task_imports_neither_duckdb_nor_the_database_layer():
    # A task runs `offbatch run-task`: it must not pay for what only the launcher and the service use.
    probe = ("import sys, offbatch.worker, offbatch.cli; "
             "print(sorted(m for m in ('duckdb', 'sqlalchemy', 'fastapi', 'alembic') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
