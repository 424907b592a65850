"""Parquet parts: the round-robin split keeps every row once, in order, across batch boundaries."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from offbatch import parquet
from offbatch.errors import DatasetError

SCHEMA = pa.schema([("i", pa.int64()), ("s", pa.string())])


def batches(sizes: list[int]):
    start = 0
    for size in sizes:
        values = list(range(start, start + size))
        yield pa.RecordBatch.from_arrays([pa.array(values, pa.int64()), pa.array([str(v) for v in values])],
                                         schema=SCHEMA)
        start += size


@pytest.mark.parametrize("n", [1, 3, 8])
@pytest.mark.parametrize("sizes", [[10], [7, 0, 5, 13, 1], [parquet.ROW_GROUP_SIZE + 3, 2 * parquet.ROW_GROUP_SIZE]])
def test_row_r_of_the_stream_lands_in_part_r_mod_n_in_order(tmp_path, n, sizes):
    urls = [(tmp_path / f"part-{i}.parquet").as_uri() for i in range(n)]
    counts = parquet.write_round_robin(urls, batches(sizes), SCHEMA)
    total = sum(sizes)
    assert counts == [len(range(i, total, n)) for i in range(n)]
    for i in range(n):
        table = pq.read_table(tmp_path / f"part-{i}.parquet")
        assert table.schema.equals(SCHEMA)
        assert table.column("i").to_pylist() == list(range(i, total, n))
        assert table.column("s").to_pylist() == [str(v) for v in range(i, total, n)]


def test_parts_are_written_in_full_row_groups(tmp_path):
    urls = [(tmp_path / f"part-{i}.parquet").as_uri() for i in range(2)]
    # Many small batches: buffered per part, not one row group each.
    parquet.write_round_robin(urls, batches([100] * 500), SCHEMA)
    meta = pq.ParquetFile(tmp_path / "part-0.parquet").metadata
    assert meta.num_rows == 25_000
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [10_000, 10_000, 5_000]


def test_a_stream_that_fails_midway_publishes_no_part(tmp_path):
    def failing():
        yield from batches([parquet.ROW_GROUP_SIZE * 2])
        raise DatasetError("the dataset broke")

    out = tmp_path / "out"
    urls = [(out / f"part-{i}.parquet").as_uri() for i in range(3)]
    with pytest.raises(DatasetError, match="broke"):
        parquet.write_round_robin(urls, failing(), SCHEMA)
    assert [p.name for p in out.iterdir()] == []


def test_a_stream_that_fails_before_its_first_row_creates_nothing(tmp_path):
    def failing():
        yield from batches([0])
        raise DatasetError("nothing selected")

    out = tmp_path / "out"
    with pytest.raises(DatasetError):
        parquet.write_round_robin([(out / "part-0.parquet").as_uri()], failing(), SCHEMA)
    assert not out.exists()


def test_batches_are_cast_to_the_schema(tmp_path):
    narrow = pa.RecordBatch.from_arrays([pa.array([1, 2], pa.int32()), pa.array(["a", "b"])], names=["i", "s"])
    url = (tmp_path / "p.parquet").as_uri()
    assert parquet.write_round_robin([url], [narrow], SCHEMA) == [2]
    assert pq.read_table(tmp_path / "p.parquet").schema.equals(SCHEMA)
